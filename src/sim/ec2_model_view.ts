/** Renders the model's records as the port's plain shapes (what Describe* answers). */
import type { NetworkInterface, Subnet, Tag } from "../aws/ec2_port.ts";
import type { EniRecord } from "./ec2_model_types.ts";
import { expandCidr } from "../net/ipv4.ts";

/** Map of tags → `Tag[]` in insertion order. */
export function tagList(tags: Map<string, string>): Tag[] {
  return [...tags].map(([key, value]) => ({ key, value }));
}

/** An ENI record as `NetworkInterface`. */
export function eniView(e: EniRecord, vpcId: string): NetworkInterface {
  const a = e.attachment;
  return {
    networkInterfaceId: e.id,
    subnetId: e.subnetId,
    vpcId,
    availabilityZone: e.availabilityZone,
    macAddress: e.mac,
    description: e.description,
    status: a ? (a.status === "attached" ? "in-use" : a.status) : "available",
    privateIpAddress: e.primaryIp,
    privateIps: [
      { address: e.primaryIp, primary: true },
      ...[...e.secondary.keys()].map((address) => ({ address, primary: false })),
    ],
    ipv4Prefixes: [...e.prefixes.keys()],
    ...(e.ipv6.size || e.ipv6Prefixes.size
      ? { ipv6Addresses: [...e.ipv6.keys()], ipv6Prefixes: [...e.ipv6Prefixes.keys()] }
      : {}),
    securityGroupIds: [...e.securityGroupIds],
    attachment: a && {
      attachmentId: a.id,
      instanceId: a.instanceId,
      deviceIndex: a.deviceIndex,
      status: a.status,
      deleteOnTermination: a.deleteOnTermination,
      attachTime: new Date(a.attachedAt).toISOString(),
    },
    tags: tagList(e.tags),
    sourceDestCheck: e.sourceDestCheck,
  };
}

/** Every address an ENI holds: primary, secondaries, then each prefix's 16 addresses. */
export function eniAddresses(e: EniRecord): string[] {
  return [e.primaryIp, ...e.secondary.keys(), ...[...e.prefixes.keys()].flatMap((p) => expandCidr(p))];
}

/** Subnet view helper. */
export function subnetView(
  s: {
    id: string;
    cidr: string;
    availabilityZone: string;
    tags: Map<string, string>;
    available: number;
    ipv6Cidr?: string;
    assignIpv6OnCreation?: boolean;
  },
  vpcId: string,
): Subnet {
  return {
    subnetId: s.id,
    vpcId,
    cidrBlock: s.cidr,
    availabilityZone: s.availabilityZone,
    availableIpAddressCount: s.available,
    tags: tagList(s.tags),
    ...(s.ipv6Cidr
      ? { ipv6CidrBlocks: [s.ipv6Cidr], assignIpv6AddressOnCreation: s.assignIpv6OnCreation ?? false }
      : {}),
  };
}
