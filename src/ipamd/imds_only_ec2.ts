/**
 * ENABLE_IMDS_ONLY_MODE: an `Ec2Port` that never calls EC2. The node's attached ENIs, their addresses and
 * prefixes come from IMDS (as upstream's DescribeAllENIs does in that mode, with no tags); every other call
 * fails with `Ec2Error("ImdsOnlyMode")`, which ipamd never makes in that mode (no provisioning, no GC).
 * @module
 */
import {
  Ec2Error,
  type Ec2Port,
  type Filter,
  type InstanceTypeInfo,
  type NetworkInterface,
  type Subnet,
} from "../aws/ec2_port.ts";
import type { ImdsInterface, ImdsPort } from "../aws/imds_port.ts";

/** An ENI as IMDS shows it, in EC2's shape (no tags, no description: IMDS has neither). */
export function eniFromImds(i: ImdsInterface, instanceId: string): NetworkInterface {
  return {
    networkInterfaceId: i.interfaceId,
    subnetId: i.subnetId,
    vpcId: "",
    availabilityZone: "",
    macAddress: i.mac,
    description: "",
    status: "in-use",
    privateIpAddress: i.localIpv4s[0] ?? "",
    privateIps: i.localIpv4s.map((address, k) => ({ address, primary: k === 0 })),
    ipv4Prefixes: i.ipv4Prefixes,
    securityGroupIds: i.securityGroupIds,
    attachment: {
      attachmentId: "",
      instanceId,
      deviceIndex: i.deviceNumber,
      status: "attached",
      deleteOnTermination: i.deviceNumber === 0,
    },
    tags: [],
    sourceDestCheck: true,
  };
}

const refused = (action: string) =>
  Promise.reject(new Ec2Error("ImdsOnlyMode", "ENABLE_IMDS_ONLY_MODE=true: ipamd makes no EC2 call", action));

/** The EC2 port of IMDS-only mode. */
export class ImdsOnlyEc2 implements Ec2Port {
  constructor(readonly imds: ImdsPort) {}

  /**
   * This instance's attached ENIs from IMDS, optionally narrowed to `networkInterfaceIds`. The only filter
   * understood is `attachment.instance-id` naming this instance (IMDS knows no other).
   */
  async describeNetworkInterfaces(
    input: { networkInterfaceIds?: string[]; filters?: Filter[] },
  ): Promise<NetworkInterface[]> {
    const instanceId = await this.imds.instanceId();
    const ids = input.networkInterfaceIds ? new Set(input.networkInterfaceIds) : undefined;
    const other = input.filters?.some((f) =>
      f.name !== "attachment.instance-id" || !f.values.includes(instanceId)
    );
    if (other) return refused("DescribeNetworkInterfaces");
    return (await this.imds.interfaces())
      .filter((i) => !ids || ids.has(i.interfaceId))
      .map((i) => eniFromImds(i, instanceId));
  }
  describeInstances(): Promise<never> {
    return refused("DescribeInstances");
  }
  describeInstanceTypes(): Promise<InstanceTypeInfo[]> {
    return refused("DescribeInstanceTypes");
  }
  describeSubnets(): Promise<Subnet[]> {
    return refused("DescribeSubnets");
  }
  createNetworkInterface(): Promise<never> {
    return refused("CreateNetworkInterface");
  }
  attachNetworkInterface(): Promise<never> {
    return refused("AttachNetworkInterface");
  }
  detachNetworkInterface(): Promise<void> {
    return refused("DetachNetworkInterface");
  }
  deleteNetworkInterface(): Promise<void> {
    return refused("DeleteNetworkInterface");
  }
  modifyNetworkInterfaceAttribute(): Promise<void> {
    return refused("ModifyNetworkInterfaceAttribute");
  }
  assignPrivateIpAddresses(): Promise<never> {
    return refused("AssignPrivateIpAddresses");
  }
  unassignPrivateIpAddresses(): Promise<void> {
    return refused("UnassignPrivateIpAddresses");
  }
  assignIpv6Addresses(): Promise<never> {
    return refused("AssignIpv6Addresses");
  }
  unassignIpv6Addresses(): Promise<void> {
    return refused("UnassignIpv6Addresses");
  }
  createTags(): Promise<void> {
    return refused("CreateTags");
  }
}
