/**
 * Carrying out the pool's shrink actions: unassign free IPs or free /28 prefixes, or free a whole ENI. The
 * datastore lets go first (so no pod gets an address while EC2 takes it back) and takes it back when EC2
 * refuses; addresses that became busy since the plan are left alone.
 * @module
 */
import type { Datastore } from "./datastore.ts";
import type { EniManager } from "./eni_manager.ts";
import type { HostNetwork } from "./host_network.ts";
import type { PoolAction } from "./pool.ts";
import type { RecentChanges } from "./recent_changes.ts";

/** A shrink action. */
export type ShrinkAction = Extract<PoolAction, { kind: "unassign-ips" | "unassign-prefixes" | "delete-eni" }>;

/** What shrinking works with. */
export interface ShrinkDeps {
  ds: Datastore;
  eni: EniManager;
  host?: HostNetwork;
  /** Changes EC2 may not show yet (reconcile must not undo them). */
  recent: RecentChanges;
  now: () => number;
}

/** Carries out one shrink action; true when something was released (the shrink interval then restarts). */
export async function carryOutShrink(deps: ShrinkDeps, action: ShrinkAction): Promise<boolean> {
  switch (action.kind) {
    case "unassign-ips":
      return await unassignIps(deps, action.eniId, action.ips);
    case "unassign-prefixes":
      return await unassignPrefixes(deps, action.eniId, action.prefixes);
    case "delete-eni":
      return await deleteEni(deps, action.eniId);
  }
}

async function unassignIps(
  { ds, eni, recent, now }: ShrinkDeps,
  eniId: string,
  planned: string[],
): Promise<boolean> {
  const ips = planned.filter((ip) => ds.ipState(ip, now()) === "free");
  if (!ips.length) return false;
  ds.removeIps(eniId, ips); // first, so no pod gets one while EC2 takes it back
  try {
    await eni.unassign(eniId, { ips });
  } catch (e) {
    ds.addIps(eniId, ips);
    throw e;
  }
  recent.note(ips, false, now());
  return true;
}

async function unassignPrefixes(
  { ds, eni, now }: ShrinkDeps,
  eniId: string,
  planned: string[],
): Promise<boolean> {
  const free = new Set(ds.freePrefixesOn(eniId, now()));
  const prefixes = planned.filter((p) => free.has(p));
  if (!prefixes.length) return false;
  ds.removePrefixes(eniId, prefixes);
  try {
    await eni.unassign(eniId, { prefixes });
  } catch (e) {
    ds.addPrefixes(eniId, prefixes);
    throw e;
  }
  return true;
}

async function deleteEni({ ds, eni, host, recent, now }: ShrinkDeps, eniId: string): Promise<boolean> {
  const rec = ds.eni(eniId);
  if (!rec || ds.eniStats(eniId, now()).assigned > 0) return false;
  ds.removeEni(eniId);
  host?.teardownEni(rec);
  recent.note([eniId], false, now());
  await eni.freeEni(eniId);
  return true;
}
