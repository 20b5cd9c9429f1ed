/**
 * Reconciling ipamd's datastore with EC2 (every minute, through the pool driver's queue): ENIs that vanished
 * from EC2 are dropped when no pod holds an address on them; secondary IPs EC2 no longer lists are dropped
 * unless a pod holds them (those are kept until released, with a warning); IPs EC2 added are adopted; ENIs
 * attached in EC2 that ipamd does not know are adopted once IMDS shows them.
 *
 * IMDS is read first, and EC2 is asked only when IMDS disagrees with the datastore (or when `force`d), as
 * upstream does: a DescribeNetworkInterfaces per node per minute would take most of an account's Describe
 * bucket (20/s) in a thousand-node cluster (the fleet simulation shows it).
 *
 * EC2's Describe* are eventually consistent: a change ipamd made moments ago (`RecentChanges`) may not show
 * yet. Such an ENI or IP is neither dropped (made, not shown yet) nor adopted again (removed, still shown):
 * nothing is counted twice and nothing dropped, until EC2 shows the change or the grace passes.
 * @module
 */
import type { NetworkInterface } from "../aws/ec2_port.ts";
import type { ImdsInterface, ImdsPort } from "../aws/imds_port.ts";
import { cidrContains } from "../net/ipv4.ts";
import type { BackgroundFailures } from "./background_failures.ts";
import type { Datastore, EniRecord } from "./datastore.ts";
import { EniManager } from "./eni_manager.ts";
import type { HostNetwork } from "./host_network.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";
import type { RecentChanges } from "./recent_changes.ts";

/** What one reconcile works with. */
export interface ReconcileDeps {
  ds: Datastore;
  eni: EniManager;
  imds: ImdsPort;
  host?: HostNetwork;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Records an IMDS read that failed (this round adopts nothing) and clears it once one works. */
  failures: BackgroundFailures;
  /** ipamd's own changes EC2 may not show yet. */
  recent: RecentChanges;
  now: number;
  /** Ask EC2 even when IMDS agrees with the datastore (the driver's periodic safety net). */
  force?: boolean;
  /** Wires an attached ENI on the host and adds it to the datastore. */
  adopt(n: NetworkInterface, deviceNumber: number, subnetCidr: string): void;
}

/**
 * Compares the datastore with IMDS and, when they differ (or `force`), with EC2: adopts ENIs/IPs that
 * appeared, drops unassigned ones that vanished. Resolves whether EC2 was asked.
 */
export async function reconcileWithEc2(deps: ReconcileDeps): Promise<boolean> {
  deps.metrics?.reconcileCount.inc({ fn: "eniReconcile" });
  const imds = await readImds(deps);
  if (!deps.force && imds && imdsAgrees(deps.ds, imds)) return false;
  const attached = (await deps.eni.describeAttached()).filter((n) => !deps.eni.unmanagedReason(n));
  const byId = new Map(attached.map((n) => [n.networkInterfaceId, n]));
  for (const n of attached) deps.recent.seen(n.networkInterfaceId, true);
  for (const rec of deps.ds.enis()) {
    const n = byId.get(rec.eniId);
    if (n) syncIps(deps, rec, n);
    else dropVanished(deps, rec);
  }
  // Without IMDS no new ENI can be placed in its subnet: adopt nothing this round.
  if (imds) adoptUnknown(deps, attached, imds);
  return true;
}

/** IMDS's interfaces; a failure is recorded (said until a read works) and answers undefined. */
async function readImds(deps: ReconcileDeps): Promise<ImdsInterface[] | undefined> {
  try {
    const imds = await deps.imds.interfaces();
    deps.failures.succeeded("imdsInterfaces");
    return imds;
  } catch (e) {
    deps.failures.failed("imdsInterfaces", e, "awsUtils");
    return undefined;
  }
}

/** Whether IMDS lists exactly the datastore's ENIs, secondary IPs and prefixes. Pure. */
export function imdsAgrees(ds: Datastore, imds: ImdsInterface[]): boolean {
  const enis = ds.enis();
  if (imds.length !== enis.length) return false;
  const byId = new Map(imds.map((i) => [i.interfaceId, i]));
  return enis.every((rec) => {
    const m = byId.get(rec.eniId);
    if (!m) return false;
    const secondary = rec.ips.filter((ip) => !rec.prefixes.some((p) => cidrContains(p, ip)));
    return sameSet(m.localIpv4s.filter((ip) => ip !== rec.primaryIp), secondary) &&
      sameSet(m.ipv4Prefixes, rec.prefixes);
  });
}

function sameSet(left: string[], right: string[]): boolean {
  const s = new Set(left);
  return s.size === right.length && right.every((x) => s.has(x));
}

/** An ENI EC2 no longer lists: dropped (and torn down) unless a pod holds one of its addresses. */
function dropVanished(deps: ReconcileDeps, rec: EniRecord): void {
  if (deps.recent.pending(rec.eniId, true, deps.now)) return; // made moments ago; EC2 does not show it yet
  if (deps.ds.eniStats(rec.eniId, deps.now).assigned !== 0) return;
  deps.ds.removeEni(rec.eniId);
  deps.host?.teardownEni(rec);
  deps.metrics?.forceRemovedEnis.inc();
  deps.log?.warn("ENI vanished from EC2; dropped", { eniId: rec.eniId });
}

/** One known ENI's secondary IPs against EC2's: drop the vanished free ones, keep held ones, adopt new ones. */
function syncIps(deps: ReconcileDeps, rec: EniRecord, eni: NetworkInterface): void {
  const { ds, now } = deps;
  const inEc2 = new Set(eni.privateIps.filter((p) => !p.primary).map((p) => p.address));
  for (const ip of rec.ips) deps.recent.seen(ip, inEc2.has(ip));
  const inPrefix = (ip: string) => rec.prefixes.some((p) => cidrContains(p, ip));
  // Assigned moments ago and not shown yet: not missing.
  const shownLate = (ip: string) => deps.recent.pending(ip, true, now);
  const missing = rec.ips.filter((ip) => !inEc2.has(ip) && !inPrefix(ip) && !shownLate(ip));
  const gone = missing.filter((ip) => ds.ipState(ip, now) !== "assigned");
  if (gone.length) {
    ds.removeIps(rec.eniId, gone);
    deps.metrics?.forceRemovedIps.inc({}, gone.length);
  }
  const held = missing.filter((ip) => ds.ipState(ip, now) === "assigned");
  if (held.length) {
    deps.log?.warn("EC2 no longer lists IPs held by pods; kept until released", {
      eniId: rec.eniId,
      ips: held,
    });
  }
  // Returned moments ago and still shown: not new.
  const fresh = [...inEc2].filter((ip) => !rec.ips.includes(ip) && !deps.recent.pending(ip, false, now));
  if (fresh.length) ds.addIps(rec.eniId, fresh);
}

/** ENIs attached in EC2 that the datastore lacks, adopted once IMDS shows them (their subnet comes from IMDS). */
function adoptUnknown(deps: ReconcileDeps, attached: NetworkInterface[], imds: ImdsInterface[]): void {
  for (const n of attached) {
    if (deps.ds.eni(n.networkInterfaceId) || !n.attachment || n.attachment.status !== "attached") continue;
    // Freed moments ago (or being deleted): not an ENI to adopt.
    const id = n.networkInterfaceId;
    if (deps.recent.pending(id, false, deps.now) || deps.eni.leftovers.has(id)) continue;
    const meta = imds.find((i) => i.interfaceId === n.networkInterfaceId);
    if (!meta) continue; // IMDS has not caught up; next round
    deps.adopt(n, n.attachment.deviceIndex, meta.subnetCidr);
    deps.log?.info("adopted an ENI found in EC2", { eniId: n.networkInterfaceId });
  }
}
