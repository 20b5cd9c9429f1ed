/**
 * ENIs as EC2 describes them, into the datastore: the record of an attached ENI and its pod addresses.
 * @module
 */
import type { NetworkInterface } from "../aws/ec2_port.ts";
import type { Datastore } from "./datastore.ts";
import type { EniIdentity } from "./datastore_types.ts";

/** The datastore record of an ENI attached at `deviceNumber`, as EC2 describes it. */
export function eniRecordOf(
  n: NetworkInterface,
  deviceNumber: number,
  subnetCidr: string,
  createdAt: number,
): EniIdentity {
  return {
    eniId: n.networkInterfaceId,
    deviceNumber,
    subnetId: n.subnetId,
    subnetCidr,
    primaryIp: n.privateIpAddress,
    mac: n.macAddress.toLowerCase(),
    createdAt,
  };
}

/**
 * Adds an attached ENI with its secondary IPs and /28 prefixes (its primary IP is never a pod's); in IPv6 mode
 * with its IPv6 prefixes only (pods get no IPv4 from an ENI then).
 */
export function addAttachedEni(
  ds: Datastore,
  rec: EniIdentity,
  n: NetworkInterface,
  o: { ipv6?: boolean } = {},
): void {
  ds.addEni(rec);
  if (o.ipv6) {
    if (n.ipv6Prefixes?.length) ds.addIpv6Prefixes(rec.eniId, n.ipv6Prefixes);
    return;
  }
  ds.addIps(rec.eniId, n.privateIps.filter((p) => !p.primary).map((p) => p.address));
  if (n.ipv4Prefixes.length) ds.addPrefixes(rec.eniId, n.ipv4Prefixes);
}
