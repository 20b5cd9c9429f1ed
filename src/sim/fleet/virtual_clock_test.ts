import assert from "node:assert/strict";
import { every } from "../../common/clock.ts";
import { VirtualClock } from "./virtual_clock.ts";

Deno.test("VirtualClock: timers fire in time order, ties in creation order; time jumps", async () => {
  const c = new VirtualClock(1000);
  const seen: string[] = [];
  c.timer(30, () => seen.push(`b@${c.now()}`));
  c.timer(10, () => seen.push(`a@${c.now()}`));
  c.timer(30, () => seen.push(`c@${c.now()}`));
  const cancel = c.timer(20, () => seen.push("cancelled"));
  cancel();
  await c.run(Infinity);
  assert.deepEqual(seen, ["a@1010", "b@1030", "c@1030"]);
  assert.equal(c.elapsed, 30);
});

Deno.test("VirtualClock: a promise chain started by a timer settles before time moves on", async () => {
  const c = new VirtualClock(0);
  const log: string[] = [];
  const worker = async (name: string) => {
    for (let i = 0; i < 3; i++) {
      await c.sleep(100);
      for (let j = 0; j < 50; j++) await Promise.resolve(); // a long chain of microtasks
      log.push(`${name}${i}@${c.now()}`);
    }
  };
  void worker("x");
  void worker("y");
  await c.run(Infinity);
  assert.deepEqual(log, ["x0@100", "y0@100", "x1@200", "y1@200", "x2@300", "y2@300"]);
});

Deno.test("VirtualClock: run stops at `until` or when done() says so; every() keeps its period", async () => {
  const c = new VirtualClock(0);
  const ticks: number[] = [];
  const stop = every(c, 5000, () => ticks.push(c.now()));
  await c.run(12_000);
  assert.deepEqual(ticks, [5000, 10_000]);
  assert.equal(c.now(), 12_000);
  await c.run(Infinity, () => ticks.length >= 4);
  assert.deepEqual(ticks, [5000, 10_000, 15_000, 20_000]);
  stop();
  await c.run(Infinity);
  assert.equal(ticks.length, 4);
});

Deno.test("VirtualClock: an hour of 1,000 staggered 30 s timers: every tick fires, none twice", async () => {
  const c = new VirtualClock(0);
  let n = 0;
  for (let i = 0; i < 1000; i++) c.timer(i, () => every(c, 30_000, () => n++));
  await c.run(3_600_000);
  // Timer i starts its period at i ms: 119 ticks within the hour, 120 for i = 0.
  assert.equal(n, 1000 * 119 + 1);
});
