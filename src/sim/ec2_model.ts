/**
 * The lab's EC2: a pure, deterministic model of one VPC (subnets, security groups, instances, ENIs, private
 * IPs and /28 prefixes) enforcing EC2's limits with EC2's error codes. No I/O and no timers: time comes from
 * the injectable clock and timed transitions (detaching → available) settle lazily on the next call or on
 * `tick()`. Errors are thrown as `Ec2Error`. State lives in `Ec2Store` (ec2_model_store.ts); the address
 * actions in ec2_model_ips.ts.
 */
import {
  type CreateNetworkInterfaceInput,
  Ec2Error,
  type Filter,
  type Instance,
  type InstanceTypeInfo,
  type NetworkInterface,
  type Subnet,
  type Tag,
} from "../aws/ec2_port.ts";
import type { ImdsInterface } from "../aws/imds_port.ts";
import { cidrContains, parseCidr } from "../net/ipv4.ts";
import {
  applyFilters,
  checkMaxResults,
  eniFilterValues,
  paginate,
  subnetFilterValues,
} from "./ec2_model_filter.ts";
import { assignPrivateIps, unassignPrivateIps } from "./ec2_model_ips.ts";
import { countParam, Ec2Store, need, type SubnetRecord } from "./ec2_model_store.ts";
import { SubnetPool } from "./ec2_model_subnet.ts";
import type {
  AttachmentRecord,
  Ec2Event,
  Ec2ModelOptions,
  EniRecord,
  InstanceRecord,
} from "./ec2_model_types.ts";
import { eniView, tagList } from "./ec2_model_view.ts";

export type * from "./ec2_model_types.ts";

const MAX_DEVICE_INDEX = 31;

/** The EC2 model. See the module doc. */
export class Ec2Model {
  readonly region: string;
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly accountId = "123456789012";
  /** Calls per action made on the model (including failed ones). */
  readonly calls: Record<string, number> = {};
  readonly #s: Ec2Store;

  constructor(opts: Ec2ModelOptions = {}) {
    this.#s = new Ec2Store(opts);
    this.region = this.#s.region;
    this.vpcId = this.#s.vpcId;
    this.vpcCidr = this.#s.vpcCidr;
  }

  /** Current model time (epoch ms). */
  now(): number {
    return this.#s.now();
  }

  // ---- setup (the lab's control plane, not EC2 actions) ----

  /** Adds a subnet of the VPC. */
  addSubnet(o: { cidr: string; availabilityZone?: string; tags?: Tag[]; subnetId?: string }): Subnet {
    const cidr = parseCidr(o.cidr);
    const text = `${cidr.network}/${cidr.prefixLen}`;
    if (!cidrContains(this.vpcCidr, cidr.network) || cidr.prefixLen < parseCidr(this.vpcCidr).prefixLen) {
      throw new Ec2Error("InvalidSubnet.Range", `The CIDR '${o.cidr}' is invalid.`, "CreateSubnet");
    }
    for (const s of this.#s.subnets.values()) {
      if (cidrContains(s.cidr, cidr.network) || cidrContains(text, parseCidr(s.cidr).network)) {
        throw new Ec2Error("InvalidSubnet.Conflict", `The CIDR '${o.cidr}' conflicts with another subnet`);
      }
    }
    const id = o.subnetId ?? this.#s.newId("subnet");
    this.#s.ids.add(id);
    const rec: SubnetRecord = {
      id,
      cidr: text,
      availabilityZone: o.availabilityZone ?? `${this.region}a`,
      tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
      pool: new SubnetPool(text),
    };
    this.#s.subnets.set(id, rec);
    return this.#s.subnetView(rec);
  }

  /** Adds a security group; returns its ID. */
  addSecurityGroup(name: string, groupId?: string): string {
    const id = groupId ?? this.#s.newId("sg");
    this.#s.ids.add(id);
    this.#s.groups.set(id, { id, name });
    return id;
  }

  /** Launches a running instance with its primary ENI at device index 0 (DeleteOnTermination true). */
  launchInstance(o: {
    instanceType: string;
    subnetId: string;
    securityGroupIds?: string[];
    privateIpAddress?: string;
    instanceId?: string;
    tags?: Tag[];
  }): Instance {
    this.#s.settle();
    const type = this.#s.type(o.instanceType, "RunInstances");
    const subnet = this.#s.subnet(o.subnetId);
    const id = o.instanceId ?? this.#s.newId("i");
    this.#s.ids.add(id);
    const eni = this.#s.makeEni(subnet, {
      description: "Primary network interface",
      securityGroupIds: o.securityGroupIds,
      privateIpAddress: o.privateIpAddress,
    });
    const now = this.#s.now();
    this.#s.instances.set(id, {
      id,
      seq: this.#s.seq++,
      type,
      subnetId: subnet.id,
      availabilityZone: subnet.availabilityZone,
      primaryEniId: eni.id,
      securityGroupIds: [...(o.securityGroupIds ?? [])],
      launchedAt: now,
      state: "running",
      tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
    });
    eni.attachment = {
      id: this.#s.newId("eni-attach"),
      instanceId: id,
      deviceIndex: 0,
      status: "attached",
      deleteOnTermination: true,
      attachedAt: now,
    };
    this.#s.emitAttached(eni);
    return this.#s.instanceView(this.#s.instances.get(id)!);
  }

  /** Terminates an instance: detaches its ENIs and deletes those with DeleteOnTermination. */
  terminateInstance(instanceId: string): void {
    this.#s.settle();
    const inst = this.#s.instance(instanceId, "TerminateInstances");
    for (const e of this.#s.attachedTo(inst.id)) {
      const a = e.attachment!;
      e.attachment = undefined;
      this.#s.emit(this.#s.detachEvent(e, a));
      if (a.deleteOnTermination) this.#s.destroyEni(e);
    }
    inst.state = "terminated";
  }

  /** Listens to fabric events; returns the unsubscribe function. Listener errors are swallowed. */
  subscribe(fn: (e: Ec2Event) => void): () => void {
    this.#s.listeners.add(fn);
    return () => this.#s.listeners.delete(fn);
  }

  /** Settles timed transitions (detaching → available) due by now, emitting their events. */
  tick(): void {
    this.#s.settle();
  }

  /** When the next timed transition is due (epoch ms), or undefined when none is pending. */
  nextTransitionAt(): number | undefined {
    let next: number | undefined;
    for (const e of this.#s.enis.values()) {
      const t = e.attachment?.detachDoneAt;
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  // ---- lab / IMDS views ----

  /** The instance record (read-only use), or undefined. */
  instanceRecord(instanceId: string): Readonly<InstanceRecord> | undefined {
    return this.#s.instances.get(instanceId);
  }

  /** Every instance ID, in launch order. */
  instanceIds(): string[] {
    return [...this.#s.instances.values()].filter((i) => i.state === "running").map((i) => i.id);
  }

  /** ENI records attached to an instance (incl. detaching), by device index. */
  attachedEnis(instanceId: string): Readonly<EniRecord>[] {
    this.#s.settle();
    return this.#s.attachedTo(instanceId);
  }

  /** The instance whose primary private IP (or any ENI primary IP) is `ip`. */
  instanceByPrivateIp(ip: string): string | undefined {
    for (const e of this.#s.enis.values()) {
      if (e.attachment && e.primaryIp === ip) {
        const inst = this.#s.instances.get(e.attachment.instanceId);
        if (inst?.state === "running") return inst.id;
      }
    }
    return undefined;
  }

  /**
   * What IMDS shows for an instance's interfaces: only ENIs attached, and addresses/prefixes assigned,
   * at or before `visibleAt` (IMDS lags EC2). The primary ENI (device 0) is always shown; detaching ENIs
   * are still shown.
   */
  imdsInterfaces(instanceId: string, visibleAt: number): ImdsInterface[] {
    this.#s.settle();
    return this.#s.attachedTo(instanceId)
      .filter((e) => e.attachment!.deviceIndex === 0 || e.attachment!.attachedAt <= visibleAt)
      .map((e) => {
        const subnet = this.#s.subnets.get(e.subnetId)!;
        return {
          mac: e.mac,
          deviceNumber: e.attachment!.deviceIndex,
          interfaceId: e.id,
          subnetId: e.subnetId,
          subnetCidr: subnet.cidr,
          vpcCidrs: [this.vpcCidr],
          localIpv4s: [
            e.primaryIp,
            ...[...e.secondary].filter(([, t]) => t <= visibleAt).map(([ip]) => ip),
          ],
          ipv4Prefixes: [...e.prefixes].filter(([, t]) => t <= visibleAt).map(([p]) => p),
          securityGroupIds: [...e.securityGroupIds],
        };
      });
  }

  // ---- EC2 actions ----

  /** DescribeInstances by ID (all instances when `ids` is empty). */
  describeInstances(ids: string[] = []): Instance[] {
    this.#count("DescribeInstances");
    this.#s.settle();
    const list = ids.length
      ? ids.map((id) => this.#s.instance(id, "DescribeInstances"))
      : [...this.#s.instances.values()].filter((i) => i.state === "running");
    return list.map((i) => this.#s.instanceView(i));
  }

  /** DescribeInstanceTypes. */
  describeInstanceTypes(types: string[] = []): InstanceTypeInfo[] {
    this.#count("DescribeInstanceTypes");
    return types.map((t) => ({ ...this.#s.type(t, "DescribeInstanceTypes") }));
  }

  /** DescribeSubnets with IDs and/or filters (subnet-id, vpc-id, availability-zone, cidr-block, tag:, tag-key). */
  describeSubnets(input: { subnetIds?: string[]; filters?: Filter[] } = {}): Subnet[] {
    this.#count("DescribeSubnets");
    const list = input.subnetIds?.length
      ? input.subnetIds.map((id) => this.#s.subnet(id, "DescribeSubnets"))
      : [...this.#s.subnets.values()];
    return applyFilters(list.map((s) => this.#s.subnetView(s)), input.filters, subnetFilterValues);
  }

  /** DescribeNetworkInterfaces, one page. */
  describeNetworkInterfaces(
    input: { networkInterfaceIds?: string[]; filters?: Filter[]; maxResults?: number; nextToken?: string } =
      {},
  ): { networkInterfaces: NetworkInterface[]; nextToken?: string } {
    const action = "DescribeNetworkInterfaces";
    this.#count(action);
    this.#s.settle();
    checkMaxResults(input.maxResults);
    const recs = input.networkInterfaceIds?.length
      ? input.networkInterfaceIds.map((id) => this.#s.eni(id, action))
      : [...this.#s.enis.values()];
    const withViews = recs.map((r) => ({ seq: r.seq, v: eniView(r, this.vpcId) }));
    const kept = applyFilters(withViews, input.filters, (x, name) => eniFilterValues(x?.v ?? null, name));
    const page = paginate(kept, (x) => x.seq, input.maxResults, input.nextToken);
    return { networkInterfaces: page.items.map((x) => x.v), nextToken: page.nextToken };
  }

  /** CreateNetworkInterface (optionally with secondary IPs or /28 prefixes and tags). */
  createNetworkInterface(
    input: CreateNetworkInterfaceInput & { privateIpAddress?: string },
  ): NetworkInterface {
    const action = "CreateNetworkInterface";
    this.#count(action);
    need(input.subnetId, "SubnetId");
    countParam(input.secondaryPrivateIpAddressCount, "SecondaryPrivateIpAddressCount");
    countParam(input.ipv4PrefixCount, "Ipv4PrefixCount");
    if (input.secondaryPrivateIpAddressCount && input.ipv4PrefixCount) {
      throw new Ec2Error(
        "InvalidParameterCombination",
        "SecondaryPrivateIpAddressCount and Ipv4PrefixCount cannot be used together",
        action,
      );
    }
    const subnet = this.#s.subnet(input.subnetId, action);
    for (const g of input.securityGroupIds ?? []) {
      if (!this.#s.groups.has(g)) {
        throw new Ec2Error("InvalidGroup.NotFound", `The security group '${g}' does not exist`, action);
      }
    }
    const extra = (input.secondaryPrivateIpAddressCount ?? 0) + (input.ipv4PrefixCount ?? 0);
    if (1 + extra > this.#s.unattachedIpLimit) {
      throw new Ec2Error(
        "PrivateIpAddressLimitExceeded",
        `Number of private addresses will exceed limit of ${this.#s.unattachedIpLimit}.`,
        action,
      );
    }
    const needIps = 1 + (input.secondaryPrivateIpAddressCount ?? 0);
    if (subnet.pool.available < needIps) throw this.#s.insufficient(subnet, action);
    const eni = this.#s.makeEni(subnet, {
      description: input.description ?? "",
      securityGroupIds: input.securityGroupIds,
      privateIpAddress: input.privateIpAddress,
      tags: input.tags,
    }, action);
    const now = this.#s.now();
    if (input.secondaryPrivateIpAddressCount) {
      for (const ip of subnet.pool.takeAny(input.secondaryPrivateIpAddressCount, this.#s.rng)!) {
        eni.secondary.set(ip, now);
      }
    }
    if (input.ipv4PrefixCount) {
      const p = subnet.pool.takePrefixes(input.ipv4PrefixCount, this.#s.rng);
      if (!p) {
        this.#s.destroyEni(eni, false);
        throw new Ec2Error(
          "InsufficientCidrBlocks",
          "The specified subnet does not have enough free cidr blocks to satisfy the request.",
          action,
        );
      }
      for (const x of p) eni.prefixes.set(x, now);
    }
    return eniView(eni, this.vpcId);
  }

  /** AttachNetworkInterface. */
  attachNetworkInterface(
    input: { networkInterfaceId: string; instanceId: string; deviceIndex: number },
  ): { attachmentId: string } {
    const action = "AttachNetworkInterface";
    this.#count(action);
    this.#s.settle();
    need(input.networkInterfaceId, "NetworkInterfaceId");
    need(input.instanceId, "InstanceId");
    need(input.deviceIndex, "DeviceIndex");
    const eni = this.#s.eni(input.networkInterfaceId, action);
    const inst = this.#s.instance(input.instanceId, action);
    if (inst.state !== "running") {
      throw new Ec2Error(
        "IncorrectInstanceState",
        `The instance '${inst.id}' is not in a valid state`,
        action,
      );
    }
    const di = input.deviceIndex;
    if (!Number.isInteger(di) || di < 0 || di > MAX_DEVICE_INDEX) {
      throw new Ec2Error("InvalidParameterValue", `Invalid value '${di}' for deviceIndex.`, action);
    }
    if (eni.attachment) {
      throw new Ec2Error(
        "InvalidNetworkInterface.InUse",
        `Interface: [${eni.id}] in use.`,
        action,
      );
    }
    if (eni.availabilityZone !== inst.availabilityZone) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `The network interface '${eni.id}' and instance '${inst.id}' are in different availability zones.`,
        action,
      );
    }
    const attached = this.#s.attachedTo(inst.id);
    if (attached.length >= inst.type.maxEnis) {
      throw new Ec2Error(
        "AttachmentLimitExceeded",
        `Interface count ${attached.length + 1} exceeds the limit for ${inst.type.instanceType}`,
        action,
      );
    }
    if (attached.some((e) => e.attachment!.deviceIndex === di)) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Instance '${inst.id}' already has an interface attached at device index '${di}'.`,
        action,
      );
    }
    const slots = 1 + eni.secondary.size + eni.prefixes.size;
    if (slots > inst.type.ipv4PerEni) {
      throw new Ec2Error(
        "PrivateIpAddressLimitExceeded",
        `Number of private addresses will exceed limit of ${inst.type.ipv4PerEni} for ${inst.type.instanceType}.`,
        action,
      );
    }
    if (eni.prefixes.size && inst.type.hypervisor !== "nitro") {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Prefix delegation is only supported on Nitro instances; ${inst.type.instanceType} is not`,
        action,
      );
    }
    const a: AttachmentRecord = {
      id: this.#s.newId("eni-attach"),
      instanceId: inst.id,
      deviceIndex: di,
      status: "attached",
      deleteOnTermination: false,
      attachedAt: this.#s.now(),
    };
    eni.attachment = a;
    this.#s.emitAttached(eni);
    return { attachmentId: a.id };
  }

  /** DetachNetworkInterface: `detaching` now, `available` after the detach latency. */
  detachNetworkInterface(input: { attachmentId: string; force?: boolean }): void {
    const action = "DetachNetworkInterface";
    this.#count(action);
    this.#s.settle();
    need(input.attachmentId, "AttachmentId");
    const eni = [...this.#s.enis.values()].find((e) => e.attachment?.id === input.attachmentId);
    if (!eni) {
      throw new Ec2Error(
        "InvalidAttachmentID.NotFound",
        `The attachment ID '${input.attachmentId}' does not exist`,
        action,
      );
    }
    const a = eni.attachment!;
    if (a.deviceIndex === 0) {
      throw new Ec2Error(
        "OperationNotPermitted",
        `The network interface at device index 0 cannot be detached.`,
        action,
      );
    }
    if (a.status === "detaching") return;
    a.status = "detaching";
    a.detachDoneAt = this.#s.now() + this.#s.detachLatencyMs;
    if (this.#s.detachLatencyMs <= 0) this.#s.settle();
  }

  /** DeleteNetworkInterface (only when not attached). */
  deleteNetworkInterface(networkInterfaceId: string): void {
    const action = "DeleteNetworkInterface";
    this.#count(action);
    this.#s.settle();
    need(networkInterfaceId, "NetworkInterfaceId");
    const eni = this.#s.eni(networkInterfaceId, action);
    if (eni.attachment) {
      throw new Ec2Error(
        "InvalidNetworkInterface.InUse",
        `The network interface '${eni.id}' is currently in use.`,
        action,
      );
    }
    this.#s.destroyEni(eni);
  }

  /** ModifyNetworkInterfaceAttribute: Attachment.DeleteOnTermination, SourceDestCheck, Description, groups. */
  modifyNetworkInterfaceAttribute(input: {
    networkInterfaceId: string;
    attachmentId?: string;
    deleteOnTermination?: boolean;
    sourceDestCheck?: boolean;
    description?: string;
    securityGroupIds?: string[];
  }): void {
    const action = "ModifyNetworkInterfaceAttribute";
    this.#count(action);
    this.#s.settle();
    need(input.networkInterfaceId, "NetworkInterfaceId");
    const eni = this.#s.eni(input.networkInterfaceId, action);
    const any = input.deleteOnTermination !== undefined || input.sourceDestCheck !== undefined ||
      input.description !== undefined || input.securityGroupIds !== undefined;
    if (!any) throw new Ec2Error("MissingParameter", "No attribute specified.", action);
    if (input.deleteOnTermination !== undefined) {
      need(input.attachmentId, "Attachment.AttachmentId");
      if (!eni.attachment || eni.attachment.id !== input.attachmentId) {
        throw new Ec2Error(
          "InvalidAttachmentID.NotFound",
          `The attachment ID '${input.attachmentId}' does not exist`,
          action,
        );
      }
      eni.attachment.deleteOnTermination = input.deleteOnTermination;
    }
    for (const g of input.securityGroupIds ?? []) {
      if (!this.#s.groups.has(g)) {
        throw new Ec2Error("InvalidGroup.NotFound", `The security group '${g}' does not exist`, action);
      }
    }
    if (input.securityGroupIds) eni.securityGroupIds = [...input.securityGroupIds];
    if (input.sourceDestCheck !== undefined) eni.sourceDestCheck = input.sourceDestCheck;
    if (input.description !== undefined) eni.description = input.description;
  }

  /** AssignPrivateIpAddresses: a count, explicit addresses, or /28 prefixes (Nitro only). */
  assignPrivateIpAddresses(input: {
    networkInterfaceId: string;
    secondaryPrivateIpAddressCount?: number;
    privateIpAddresses?: string[];
    ipv4PrefixCount?: number;
    ipv4Prefixes?: string[];
  }): { privateIps: string[]; ipv4Prefixes: string[] } {
    this.#count("AssignPrivateIpAddresses");
    return assignPrivateIps(this.#s, input);
  }

  /** UnassignPrivateIpAddresses: secondary addresses and/or /28 prefixes. */
  unassignPrivateIpAddresses(
    input: { networkInterfaceId: string; privateIpAddresses?: string[]; ipv4Prefixes?: string[] },
  ): void {
    this.#count("UnassignPrivateIpAddresses");
    unassignPrivateIps(this.#s, input);
  }

  /** CreateTags on ENIs, instances, subnets (overwrites existing keys). */
  createTags(resourceIds: string[], tags: Tag[]): void {
    const action = "CreateTags";
    this.#count(action);
    this.#s.settle();
    if (!resourceIds.length) {
      throw new Ec2Error("MissingParameter", "The request must contain ResourceId", action);
    }
    if (!tags.length) throw new Ec2Error("MissingParameter", "The request must contain Tag", action);
    const targets = resourceIds.map((id) => {
      const t = this.#s.enis.get(id)?.tags ?? this.#s.instances.get(id)?.tags ??
        this.#s.subnets.get(id)?.tags;
      if (!t) {
        const kind = id.startsWith("eni-")
          ? "InvalidNetworkInterfaceID.NotFound"
          : id.startsWith("i-")
          ? "InvalidInstanceID.NotFound"
          : id.startsWith("subnet-")
          ? "InvalidSubnetID.NotFound"
          : "InvalidID";
        throw new Ec2Error(kind, `The ID '${id}' does not exist`, action);
      }
      return t;
    });
    for (const t of targets) for (const { key, value } of tags) t.set(key, value ?? "");
  }

  // ---- internals ----

  #count(action: string): void {
    this.calls[action] = (this.calls[action] ?? 0) + 1;
  }
}

export { tagList };
