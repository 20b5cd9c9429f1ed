/**
 * The warm-pool policy: node state in, EC2 actions out. Pure; the runtime (pool_driver.ts) calls
 * {@link planPool} after every assign/release and on a timer, carries out the actions, and calls it again.
 *
 * Three planners, chosen by the config as upstream does:
 * - **warm ENI** (default): pool_warm_eni.ts;
 * - **IP targets** (WARM_IP_TARGET or MINIMUM_IP_TARGET > 0) and **prefix delegation** (counted in /28
 *   prefixes): pool_ip_target.ts;
 * - shrinking, for both: pool_shrink.ts.
 * They share the figures of pool_figures.ts and the data shapes of pool_types.ts.
 *
 * Safety: growth first fills ENIs with room (lowest device first), then creates the ENIs still needed in one
 * `create-enis` action; pending ENIs count as already there. Pods waiting for an IP (`waitingPods`) count as
 * assigned, so a burst is planned at once; in-flight addresses (`pendingIps`, per-ENI `PoolEni.pendingIps`)
 * are not planned twice, and the room left on pending ENIs is used before creating more. Nothing shrinks
 * while pods wait or growth is in flight. A plan never both grows and shrinks.
 * @module
 */
import type { Datastore } from "./datastore.ts";
import { poolFigures } from "./pool_figures.ts";
import { planIpTarget } from "./pool_ip_target.ts";
import type { PoolAction, PoolEni, PoolInput, PoolPlan } from "./pool_types.ts";
import { planWarmEni } from "./pool_warm_eni.ts";

export { ENI_MIN_AGE_MS, SHRINK_INTERVAL_MS } from "./pool_types.ts";
export type { PoolAction, PoolEni, PoolInput, PoolPlan } from "./pool_types.ts";

/** The pool's view of a datastore's ENIs at `now`; the primary ENI is device 0. */
export function poolEnis(ds: Datastore, now: number): PoolEni[] {
  return ds.enis().map((e) => ({
    eniId: e.eniId,
    deviceNumber: e.deviceNumber,
    createdAt: e.createdAt,
    primary: e.deviceNumber === 0,
    stats: ds.eniStats(e.eniId, now),
    freeIps: ds.freeIpsOn(e.eniId, now),
    prefixes: e.prefixes.length,
    freePrefixes: ds.freePrefixesOn(e.eniId, now),
  }));
}

const GROW_KINDS = new Set(["create-enis", "assign-ips", "assign-prefixes"]);

/** Whether an action adds capacity (create/assign) rather than removing it. */
export function isGrowAction(action: PoolAction): boolean {
  return GROW_KINDS.has(action.kind);
}

/** Computes the next actions for the pool. */
export function planPool(input: PoolInput): PoolPlan {
  const fig = poolFigures(input);
  return fig.ipMode || fig.prefixMode ? planIpTarget(input, fig) : planWarmEni(input, fig);
}
