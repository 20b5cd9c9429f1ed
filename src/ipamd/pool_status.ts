/**
 * The pool as `ipamd status` (and `GET /v1/pool`) shows it: per ENI its addresses by state, the totals, the
 * pods, what is in flight, the plan for the pool as it is now (computed at the time it names), and the
 * background tasks failing now.
 * @module
 */
import type { Datastore } from "./datastore.ts";
import type { PoolPlan } from "./pool.ts";
import type { PoolDriver } from "./pool_driver.ts";

/** What the snapshot says of a plan: why, how many actions, and when it was computed (ISO 8601). */
function planView(plan: PoolPlan & { computedAt: number }) {
  return {
    reason: plan.reason,
    actions: plan.actions.map((a) => a.kind),
    computedAt: new Date(plan.computedAt).toISOString(),
  };
}

/** The pool snapshot at `now`. */
export function poolSnapshot(ctx: { ds: Datastore; driver: PoolDriver }, now: number) {
  const { ds, driver } = ctx;
  return {
    enis: ds.enis().map((e) => ({
      eniId: e.eniId,
      deviceNumber: e.deviceNumber,
      primaryIp: e.primaryIp,
      subnetCidr: e.subnetCidr,
      prefixes: e.prefixes,
      ...(e.ipv6Prefixes ? { ipv6Prefixes: e.ipv6Prefixes } : {}),
      ...ds.eniStats(e.eniId, now),
    })),
    totals: ds.stats(now),
    pods: ds.assignments().map((a) => ({
      ip: a.ip,
      eniId: a.eniId,
      netName: a.netName,
      containerId: a.containerId,
      ifName: a.ifName,
      namespace: a.meta.k8sPodNamespace,
      name: a.meta.k8sPodName,
    })),
    pendingEnis: driver.pendingEnis,
    pendingIps: driver.pendingIps,
    waitingPods: driver.waitingPods,
    maxEnis: driver.maxEnis,
    ...(driver.held ? { held: driver.held } : {}),
    plan: planView(driver.currentPlan()),
    failures: driver.failures.list(),
  };
}
