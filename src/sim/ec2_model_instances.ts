/**
 * The EC2 model's instances: launch (with the primary ENI at device 0) and terminate (the lab's setup calls),
 * DescribeInstances, DescribeInstanceTypes, finding an instance by an address, and what IMDS shows of it.
 */
import type { Instance, InstanceTypeInfo, Tag } from "../aws/ec2_port.ts";
import type { ImdsInterface } from "../aws/imds_port.ts";
import type { Ec2Store } from "./ec2_model_store.ts";
import type { EniRecord } from "./ec2_model_types.ts";

/** An interface's IPv6 keys as IMDS shows them (only for an ENI in a subnet with an IPv6 block). */
function ipv6View(s: Ec2Store, e: EniRecord, visibleAt: number): Partial<ImdsInterface> {
  const block = s.subnets.get(e.subnetId)?.ipv6?.cidr;
  if (!block) return {};
  const seen = (m: Map<string, number>) => [...m].filter(([, t]) => t <= visibleAt).map(([k]) => k);
  return {
    ipv6s: seen(e.ipv6),
    ipv6Prefixes: seen(e.ipv6Prefixes),
    subnetIpv6Cidrs: [block],
    vpcIpv6Cidrs: s.vpcIpv6Cidr ? [s.vpcIpv6Cidr] : [],
  };
}

/** What the lab launches an instance with. */
export interface LaunchInput {
  instanceType: string;
  subnetId: string;
  securityGroupIds?: string[];
  privateIpAddress?: string;
  instanceId?: string;
  tags?: Tag[];
}

/** Launches a running instance with its primary ENI at device index 0 (DeleteOnTermination true). */
export function launchInstance(s: Ec2Store, o: LaunchInput): Instance {
  s.settle();
  const type = s.type(o.instanceType, "RunInstances");
  const subnet = s.subnet(o.subnetId);
  const id = o.instanceId ?? s.newId("i");
  s.ids.add(id);
  const eni = s.makeEni(subnet, {
    description: "Primary network interface",
    securityGroupIds: o.securityGroupIds,
    privateIpAddress: o.privateIpAddress,
  });
  const now = s.now();
  s.instances.set(id, {
    id,
    seq: s.seq++,
    type,
    subnetId: subnet.id,
    availabilityZone: subnet.availabilityZone,
    primaryEniId: eni.id,
    securityGroupIds: s.groupsOrDefault(o.securityGroupIds),
    launchedAt: now,
    state: "running",
    tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
  });
  s.attach(eni, {
    id: s.newId("eni-attach"),
    instanceId: id,
    deviceIndex: 0,
    status: "attached",
    deleteOnTermination: true,
    attachedAt: now,
    announced: false,
  });
  eni.describedFrom = now; // the instance was there before the lab's clock started: no lag
  s.emitAttached(eni);
  return s.instanceView(s.instances.get(id)!);
}

/** Terminates an instance: detaches its ENIs and deletes those with DeleteOnTermination. */
export function terminateInstance(s: Ec2Store, instanceId: string): void {
  s.settle();
  const inst = s.instance(instanceId, "TerminateInstances");
  for (const e of s.attachedTo(inst.id)) {
    const a = e.attachment!;
    s.detached(e);
    if (a.announced) s.emit(s.detachEvent(e, a));
    if (a.deleteOnTermination) s.destroyEni(e);
  }
  inst.state = "terminated";
}

/** DescribeInstances by ID (all running instances when `ids` is empty). */
export function describeInstances(s: Ec2Store, ids: string[]): Instance[] {
  s.settle();
  const list = ids.length
    ? ids.map((id) => s.instance(id, "DescribeInstances"))
    : [...s.instances.values()].filter((i) => i.state === "running");
  return list.map((i) => s.instanceView(i));
}

/** DescribeInstanceTypes. */
export function describeInstanceTypes(s: Ec2Store, types: string[]): InstanceTypeInfo[] {
  return types.map((t) => ({ ...s.type(t, "DescribeInstanceTypes") }));
}

/** The running instance one of whose attached ENIs has `ip` as its primary address. */
export function instanceByPrivateIp(s: Ec2Store, ip: string): string | undefined {
  for (const e of s.enis.values()) {
    if (e.attachment && e.primaryIp === ip) {
      const inst = s.instances.get(e.attachment.instanceId);
      if (inst?.state === "running") return inst.id;
    }
  }
  return undefined;
}

/**
 * What IMDS shows for an instance's interfaces: only ENIs attached (not `attaching`), and addresses/prefixes
 * assigned, at or before `visibleAt` (IMDS lags EC2). The primary ENI (device 0) is always shown; detaching
 * ENIs are still shown.
 */
export function imdsInterfaces(s: Ec2Store, instanceId: string, visibleAt: number): ImdsInterface[] {
  s.settle();
  return s.attachedTo(instanceId)
    .filter((e) => e.attachment!.status !== "attaching")
    .filter((e) => e.attachment!.deviceIndex === 0 || e.attachment!.attachedAt <= visibleAt)
    .map((e) => ({
      mac: e.mac,
      deviceNumber: e.attachment!.deviceIndex,
      interfaceId: e.id,
      subnetId: e.subnetId,
      subnetCidr: s.subnets.get(e.subnetId)!.cidr,
      vpcCidrs: [s.vpcCidr],
      localIpv4s: [e.primaryIp, ...[...e.secondary].filter(([, t]) => t <= visibleAt).map(([ip]) => ip)],
      ipv4Prefixes: [...e.prefixes].filter(([, t]) => t <= visibleAt).map(([p]) => p),
      securityGroupIds: [...e.securityGroupIds],
      ...ipv6View(s, e, visibleAt),
    }));
}
