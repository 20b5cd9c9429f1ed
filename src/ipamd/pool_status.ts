/**
 * The pool as `ipamd status` (and `GET /v1/pool`) shows it: per ENI its addresses by state, the totals, the
 * pods, what is in flight, and the last plan's reason.
 * @module
 */
import type { Datastore } from "./datastore.ts";
import type { PoolDriver } from "./pool_driver.ts";

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
    lastPlan: driver.lastPlan?.reason,
    ...(driver.held ? { held: driver.held } : {}),
  };
}
