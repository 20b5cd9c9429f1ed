/**
 * Start-up state rebuild: the node's ENIs (EC2 is authoritative where IMDS lags) into the datastore with
 * their host wiring, then the checkpoint's assignments, dropping those whose pod host veth is gone.
 */
import type { NetworkInterface, Subnet } from "../aws/ec2_port.ts";
import type { Clock } from "../common/clock.ts";
import type { ImdsInterface } from "../aws/imds_port.ts";
import { addAttachedEni, eniRecordOf } from "./attached_eni.ts";
import type { Assignment, Datastore } from "./datastore.ts";
import { EniManager } from "./eni_manager.ts";
import { pollUntil } from "./poll_until.ts";
import { routeTableOf } from "../common/routing.ts";
import { hostVethName } from "../common/veth_name.ts";
import type { HostNetwork } from "./host_network.ts";
import type { Logger } from "./log.ts";

/** An ENI of this node as start-up sees it. */
export interface NodeEni {
  eni: NetworkInterface;
  deviceNumber: number;
  subnetCidr: string;
}

/**
 * Merges EC2's attached ENIs with IMDS: EC2 decides which ENIs exist and their IPs; IMDS (or
 * DescribeSubnets) gives the subnet CIDR. ENIs ipamd must leave alone (eni_policy.ts) are skipped.
 */
export async function nodeEnis(opts: {
  eni: EniManager;
  imdsIfs: ImdsInterface[];
  describeSubnet: (id: string) => Promise<Subnet | undefined>;
  log?: Logger;
}): Promise<NodeEni[]> {
  const attached = await opts.eni.describeAttached();
  const out: NodeEni[] = [];
  for (const n of attached) {
    const unmanaged = opts.eni.unmanagedReason(n);
    if (unmanaged) {
      opts.log?.info("leaving an ENI out of the pool", { eniId: n.networkInterfaceId, why: unmanaged });
      continue;
    }
    if (!n.attachment || n.attachment.status === "detaching" || n.attachment.status === "detached") continue;
    const meta = opts.imdsIfs.find((i) =>
      i.interfaceId === n.networkInterfaceId || i.mac === n.macAddress.toLowerCase()
    );
    const subnetCidr = meta?.subnetCidr ?? (await opts.describeSubnet(n.subnetId))?.cidrBlock;
    if (!subnetCidr) throw new Error(`no subnet CIDR for ${n.networkInterfaceId} (${n.subnetId})`);
    out.push({ eni: n, deviceNumber: n.attachment.deviceIndex, subnetCidr });
  }
  return out.sort((a, b) => a.deviceNumber - b.deviceNumber);
}

/** Puts the ENIs into the datastore and wires the secondary ones on the host (waiting for their links). */
export async function loadEnis(
  ds: Datastore,
  enis: NodeEni[],
  opts: { host?: HostNetwork; mtu: number; clock: Clock; log?: Logger; linkWaitMs?: number; ipv6?: boolean },
): Promise<void> {
  for (const { eni: n, deviceNumber, subnetCidr } of enis) {
    const rec = eniRecordOf(
      n,
      deviceNumber,
      subnetCidr,
      Date.parse(n.attachment?.attachTime ?? "") || opts.clock.now(),
    );
    const host = opts.host;
    if (host && deviceNumber !== 0) {
      await pollUntil(`link with MAC ${rec.mac}`, () => host.linkPresent(rec.mac) || undefined, {
        deadlineMs: opts.linkWaitMs ?? 10_000,
        clock: opts.clock,
      });
      host.setupEni(rec, opts.mtu);
    }
    addAttachedEni(ds, rec, n, { ipv6: opts.ipv6 });
    opts.log?.info(
      "ENI loaded",
      opts.ipv6
        ? { eniId: rec.eniId, deviceNumber, ipv6Prefixes: n.ipv6Prefixes ?? [] }
        : { eniId: rec.eniId, deviceNumber, ips: n.privateIps.length - 1 },
    );
  }
}

/**
 * Restores checkpointed assignments. One is dropped (with its host route and rules) when its pod's host
 * veth no longer exists, or when its IP is no longer on any ENI of ours (`unmatched`: upstream's
 * awscni_unrecovered_checkpoint_entries).
 */
export function restoreAssignments(
  ds: Datastore,
  assignments: Assignment[],
  opts: { host?: HostNetwork; vethPrefix: string; log?: Logger },
): { restored: number; dropped: Assignment[]; unmatched: number } {
  let restored = 0;
  let unmatched = 0;
  const dropped: Assignment[] = [];
  for (const a of assignments) {
    const veth = hostVethName(opts.vethPrefix, {
      namespace: a.meta.k8sPodNamespace,
      name: a.meta.k8sPodName,
      containerId: a.containerId,
    });
    const eni = ds.enis().find((e) => e.ips.includes(a.ip));
    const table = routeTableOf(eni?.deviceNumber ?? 0);
    if (opts.host && !opts.host.linkExists(veth)) {
      opts.log?.warn("dropping an allocation whose pod veth is gone", {
        ip: a.ip,
        veth,
        containerId: a.containerId,
      });
      opts.host.removePodWiring(a.ip, table);
      dropped.push(a);
      continue;
    }
    try {
      ds.restore(a);
      restored++;
    } catch (e) {
      opts.log?.warn("dropping a checkpointed allocation", { ip: a.ip, err: e });
      dropped.push(a);
      unmatched++;
    }
  }
  return { restored, dropped, unmatched };
}
