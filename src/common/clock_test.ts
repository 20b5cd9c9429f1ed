import assert from "node:assert/strict";
import { type Clock, every, systemClock } from "./clock.ts";

/** A clock whose timers fire when the test advances it. */
function manual(): Clock & { advance(ms: number): void } {
  let t = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => t,
    sleep: (ms) => new Promise((r) => timers.push({ at: t + ms, fn: () => r() })),
    timer(ms, fn) {
      const e = { at: t + ms, fn };
      timers.push(e);
      return () => timers = timers.filter((x) => x !== e);
    },
    advance(ms) {
      const end = t + ms;
      for (;;) {
        const next = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        timers = timers.filter((x) => x !== next);
        t = next.at;
        next.fn();
      }
      t = end;
    },
  };
}

Deno.test("every: fires each period until cancelled", () => {
  const c = manual();
  const at: number[] = [];
  const stop = every(c, 100, () => at.push(c.now()));
  c.advance(350);
  assert.deepEqual(at, [100, 200, 300]);
  stop();
  c.advance(500);
  assert.deepEqual(at, [100, 200, 300]);
});

Deno.test("every: cancelling from inside the callback stops it", () => {
  const c = manual();
  let n = 0;
  const stop = every(c, 10, () => {
    if (++n === 2) stop();
  });
  c.advance(100);
  assert.equal(n, 2);
});

Deno.test("systemClock: timers fire, and a cancelled one does not", async () => {
  let fired = false;
  const cancel = systemClock.timer(1, () => fired = true);
  cancel();
  const t0 = systemClock.now();
  await systemClock.sleep(20);
  assert.ok(systemClock.now() - t0 >= 15);
  assert.equal(fired, false);
  await new Promise<void>((r) => systemClock.timer(1, r));
});
