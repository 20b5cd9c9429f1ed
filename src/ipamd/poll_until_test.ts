import assert from "node:assert/strict";
import { VirtualClock } from "../sim/fleet/virtual_clock.ts";
import { EniError } from "./eni_errors.ts";
import { pollUntil } from "./poll_until.ts";

Deno.test("pollUntil: backs off exponentially and gives up at the deadline", async () => {
  // Virtual time: the probe times are exact, whatever the machine's load.
  const clock = new VirtualClock();
  const at: number[] = [];
  const polled = pollUntil("never", () => {
    at.push(clock.elapsed);
    return undefined;
  }, { deadlineMs: 700, initialMs: 20, maxMs: 400, clock });
  const outcome = polled.then(() => "resolved", (e: Error) => e);
  await clock.run(clock.now() + 10_000);
  const e = await outcome;
  assert.ok(e instanceof EniError && /timed out waiting for never/.test(e.message), String(e));
  // 20 ms doubling to the 400 ms cap, the last wait cut short by the 700 ms deadline.
  assert.deepEqual(at, [0, 20, 60, 140, 300, 620, 700]);
  let n = 0;
  assert.equal(await pollUntil("third time", () => ++n === 3 ? "ok" : undefined, { initialMs: 1 }), "ok");
});
