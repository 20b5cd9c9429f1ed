/**
 * A virtual `Clock` for the fleet simulation: timers sit in a heap and fire in time order, while virtual time
 * jumps from one to the next. Between two instants the runtime's microtask queue is drained (one
 * `setImmediate`), so every promise chain a timer started has run before time moves on. The code under
 * simulation must do no real I/O (its completion would arrive in real time, after time moved on).
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../../common/clock.ts";

interface Entry {
  at: number;
  seq: number;
  fn: (() => void) | undefined;
}

/** A discrete-event clock. */
export class VirtualClock implements Clock {
  #t: number;
  #seq = 0;
  readonly #heap: Entry[] = [];
  /** Timer callbacks fired so far. */
  fired = 0;
  /** Distinct instants visited so far. */
  steps = 0;

  constructor(readonly start = Date.UTC(2026, 0, 1)) {
    this.#t = start;
  }

  now(): number {
    return this.#t;
  }

  timer(ms: number, fn: () => void): () => void {
    const e: Entry = { at: this.#t + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(e);
    return () => e.fn = undefined;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.timer(ms, r));
  }

  /** Virtual ms since `start`. */
  get elapsed(): number {
    return this.#t - this.start;
  }

  /** Live timers (cancelled ones may still be counted until they come due). */
  get pending(): number {
    return this.#heap.length;
  }

  /**
   * Runs until virtual time would pass `until` (epoch ms), no timer is left, or `done()` says so (checked at
   * every instant after the queue drained). Time then stands at the last instant run, or at a finite `until`
   * when that was reached.
   */
  async run(until: number, done: () => boolean = () => false): Promise<void> {
    await drain();
    while (!done()) {
      const next = this.#heap[0];
      if (!next || next.at > until) {
        if (Number.isFinite(until)) this.#t = Math.max(this.#t, until);
        return;
      }
      this.#t = next.at;
      this.steps++;
      while (this.#heap.length && this.#heap[0].at === this.#t) {
        const e = this.#pop();
        const fn = e.fn;
        if (!fn) continue;
        e.fn = undefined;
        this.fired++;
        fn();
      }
      await drain();
    }
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every queued microtask (and the chains they start) run. */
function drain(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
