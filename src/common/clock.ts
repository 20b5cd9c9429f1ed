/**
 * The clock port: the one way time reaches ipamd's decision code (pool driver, ENI manager waits and
 * backoff, client-side EC2 token buckets and retries, reconcile and leaked-ENI GC timers, the socket API's
 * wait for growth). `systemClock` in production; the fleet simulation drives a virtual clock instead.
 */

/** Time and timers. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  timer(ms: number, fn: () => void): () => void;
}

/** The wall clock and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  timer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Runs `fn` every `ms` on `clock` (first after `ms`) until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let stopped = false;
  let cancel = clock.timer(ms, tick);
  function tick(): void {
    if (stopped) return;
    cancel = clock.timer(ms, tick);
    fn();
  }
  return () => {
    stopped = true;
    cancel();
  };
}
