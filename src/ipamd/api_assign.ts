/**
 * AddNetwork's assignment: an IP at once when one is free; else the ADD counts as a waiting pod
 * (`driver.waitingPods`, so each plan covers every waiting pod at once), the pool plans and grows, and the
 * ADD tries again whenever a grow action (or one ENI of a create) finishes, for at most `addWaitMs`. When no
 * IP comes, the answer is the precise reason (see no_ip_reason.ts); an unexpected error propagates (a 500
 * with its cause, never "no free IP").
 * @module
 */
import type { AttachmentKey } from "../cni/api.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import { ApiError } from "./api_request.ts";
import type { Assignment, PodMeta } from "./datastore.ts";
import { isGrowAction } from "./pool.ts";
import type { PoolDriver } from "./pool_driver.ts";
import type { ApiContext } from "./server.ts";

/** What assigning needs of the socket API's context. */
export type AssignContext = Pick<ApiContext, "ds" | "driver" | "addWaitMs" | "metrics" | "log" | "clock">;

/**
 * Waits, at most `left` ms, for the pool to change. "again": a plan is under way, growth finished or the
 * time is up (try again); "last": nothing grows and nothing will (one last try).
 */
async function waitForGrowth(driver: PoolDriver, clock: Clock, left: number): Promise<"again" | "last"> {
  let cancelTimer = () => {};
  const timeout = new Promise<"timeout">((r) => cancelTimer = clock.timer(left, () => r("timeout")));
  try {
    const since = driver.growthEvents;
    const plan = await Promise.race([driver.plan(), timeout]);
    if (plan === "timeout") return "again";
    if (!driver.growing) {
      // Nothing grows: the plan had nothing to do, or its growth is already over.
      return plan?.actions.some(isGrowAction) || driver.growthEvents !== since ? "again" : "last";
    }
    await Promise.race([driver.growthSettled(since), timeout]);
    return "again";
  } finally {
    cancelTimer();
  }
}

/** The answer when no IP came: counted, with the driver's reason (409 for max ENIs, else 503). */
function noIpError(ctx: AssignContext, coolingRetryMs: number | undefined): ApiError {
  ctx.metrics?.noAvailableIp.inc();
  const r = ctx.driver.reasonForNoIp(coolingRetryMs);
  return new ApiError(
    r.reason === "max_enis_reached" ? 409 : 503,
    r.reason,
    r.message,
    r.retryable,
    r.retryAfterMs,
  );
}

/** Assigns, or grows the pool and waits (up to `addWaitMs`, default 5 s) for it; else throws the reason. */
export async function assignOrWait(
  ctx: AssignContext,
  key: AttachmentKey,
  meta: PodMeta,
): Promise<Assignment> {
  const clock = ctx.clock ?? systemClock;
  const deadline = clock.now() + (ctx.addWaitMs ?? 5_000);
  const errBefore = ctx.driver.lastError;
  let waiting = false;
  try {
    while (true) {
      const got = ctx.ds.tryAssign(key, meta, clock.now());
      if (got) return got;
      ctx.log?.debug("no free IP; growing the pool", { ...key, stats: ctx.ds.stats(clock.now()) });
      if (!waiting) {
        waiting = true;
        ctx.driver.waitingPods++;
      }
      const left = deadline - clock.now();
      if (left <= 0 || ctx.driver.lastError !== errBefore) break;
      if (await waitForGrowth(ctx.driver, clock, left) === "last") {
        const last = ctx.ds.tryAssign(key, meta, clock.now());
        if (last) return last;
        break;
      }
    }
  } finally {
    if (waiting) ctx.driver.waitingPods--;
  }
  throw noIpError(ctx, ctx.ds.nextFreeInMs(clock.now()));
}
