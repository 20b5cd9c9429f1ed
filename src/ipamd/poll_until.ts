/** Waiting for a condition with bounded exponential backoff, on the clock port. */
import { type Clock, systemClock } from "../common/clock.ts";
import { EniError } from "./eni_errors.ts";

/**
 * Probes until it answers something other than `undefined`: 50 ms between tries, doubling to `maxMs`, until
 * `deadlineMs` has passed (then an `EniError` naming `what` and the last error the probe threw).
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  o: { deadlineMs?: number; initialMs?: number; maxMs?: number; clock?: Clock } = {},
): Promise<T> {
  const clock = o.clock ?? systemClock;
  const end = clock.now() + (o.deadlineMs ?? 30_000);
  let delay = o.initialMs ?? 50;
  let last: unknown;
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (clock.now() >= end) {
      throw new EniError("internal", `timed out waiting for ${what}${last ? `: ${last}` : ""}`, true);
    }
    await clock.sleep(Math.min(delay, Math.max(0, end - clock.now())));
    delay = Math.min(delay * 2, o.maxMs ?? 1000);
  }
}
