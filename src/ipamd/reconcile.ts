/**
 * Reconciling ipamd's datastore with EC2 (every minute, through the pool driver's queue): ENIs that vanished
 * from EC2 are dropped when no pod holds an address on them; secondary IPs EC2 no longer lists are dropped
 * unless a pod holds them (those are kept until released, with a warning); IPs EC2 added are adopted; ENIs
 * attached in EC2 that ipamd does not know are adopted once IMDS shows them.
 * @module
 */
import type { NetworkInterface } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { cidrContains } from "../net/ipv4.ts";
import type { BackgroundFailures } from "./background_failures.ts";
import type { Datastore, EniRecord } from "./datastore.ts";
import { EniManager } from "./eni_manager.ts";
import type { HostNetwork } from "./host_network.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";

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
  now: number;
  /** Wires an attached ENI on the host and adds it to the datastore. */
  adopt(n: NetworkInterface, deviceNumber: number, subnetCidr: string): void;
}

/** Compares the datastore with EC2: adopts ENIs/IPs that appeared, drops unassigned ones that vanished. */
export async function reconcileWithEc2(d: ReconcileDeps): Promise<void> {
  d.metrics?.reconcileCount.inc({ fn: "eniReconcile" });
  const attached = (await d.eni.describeAttached()).filter((n) => !d.eni.unmanagedReason(n));
  const byId = new Map(attached.map((n) => [n.networkInterfaceId, n]));
  for (const rec of d.ds.enis()) {
    const n = byId.get(rec.eniId);
    if (n) syncIps(d, rec, n);
    else dropVanished(d, rec);
  }
  await adoptUnknown(d, attached);
}

/** An ENI EC2 no longer lists: dropped (and torn down) unless a pod holds one of its addresses. */
function dropVanished(d: ReconcileDeps, rec: EniRecord): void {
  if (d.ds.eniStats(rec.eniId, d.now).assigned !== 0) return;
  d.ds.removeEni(rec.eniId);
  d.host?.teardownEni(rec);
  d.metrics?.forceRemovedEnis.inc();
  d.log?.warn("ENI vanished from EC2; dropped", { eniId: rec.eniId });
}

/** One known ENI's secondary IPs against EC2's: drop the vanished free ones, keep held ones, adopt new ones. */
function syncIps(d: ReconcileDeps, rec: EniRecord, n: NetworkInterface): void {
  const { ds, now } = d;
  const inEc2 = new Set(n.privateIps.filter((p) => !p.primary).map((p) => p.address));
  const inPrefix = (ip: string) => rec.prefixes.some((p) => cidrContains(p, ip));
  const missing = rec.ips.filter((ip) => !inEc2.has(ip) && !inPrefix(ip));
  const gone = missing.filter((ip) => ds.ipState(ip, now) !== "assigned");
  if (gone.length) {
    ds.removeIps(rec.eniId, gone);
    d.metrics?.forceRemovedIps.inc({}, gone.length);
  }
  const held = missing.filter((ip) => ds.ipState(ip, now) === "assigned");
  if (held.length) {
    d.log?.warn("EC2 no longer lists IPs held by pods; kept until released", { eniId: rec.eniId, ips: held });
  }
  const fresh = [...inEc2].filter((ip) => !rec.ips.includes(ip));
  if (fresh.length) ds.addIps(rec.eniId, fresh);
}

/** ENIs attached in EC2 that the datastore lacks, adopted once IMDS shows them (their subnet comes from IMDS). */
async function adoptUnknown(d: ReconcileDeps, attached: NetworkInterface[]): Promise<void> {
  let imds;
  try {
    imds = await d.imds.interfaces();
    d.failures.succeeded("imdsInterfaces");
  } catch (e) {
    // Without IMDS no new ENI can be placed in its subnet: adopt nothing this round, say so until it works.
    d.failures.failed("imdsInterfaces", e, "awsUtils");
    return;
  }
  for (const n of attached) {
    if (d.ds.eni(n.networkInterfaceId) || !n.attachment || n.attachment.status !== "attached") continue;
    const meta = imds.find((i) => i.interfaceId === n.networkInterfaceId);
    if (!meta) continue; // IMDS has not caught up; next round
    d.adopt(n, n.attachment.deviceIndex, meta.subnetCidr);
    d.log?.info("adopted an ENI found in EC2", { eniId: n.networkInterfaceId });
  }
}
