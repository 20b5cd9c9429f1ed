/**
 * The lab's EC2: a pure, deterministic model of one VPC (subnets, security groups, instances, ENIs, private
 * IPs and /28 prefixes) enforcing EC2's limits with EC2's error codes. No I/O and no timers: time comes from
 * the injectable clock and timed transitions (detaching → available) settle lazily on the next call or on
 * `tick()`. Errors are thrown as `Ec2Error`.
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
import { lookupInstanceType } from "../aws/instance_types.ts";
import { cidrContains, expandCidr, parseCidr } from "../net/ipv4.ts";
import {
  applyFilters,
  checkMaxResults,
  eniFilterValues,
  paginate,
  subnetFilterValues,
} from "./ec2_model_filter.ts";
import { SubnetPool } from "./ec2_model_subnet.ts";
import type {
  AttachmentRecord,
  Ec2Event,
  Ec2ModelOptions,
  EniRecord,
  InstanceRecord,
  SecurityGroupRecord,
} from "./ec2_model_types.ts";
import { eniAddresses, eniView, subnetView, tagList } from "./ec2_model_view.ts";
import { Rng } from "./realism_rng.ts";

export type * from "./ec2_model_types.ts";

interface SubnetRecord {
  id: string;
  cidr: string;
  availabilityZone: string;
  tags: Map<string, string>;
  pool: SubnetPool;
}

const MAX_DEVICE_INDEX = 31;

function need(value: unknown, name: string): void {
  if (value === undefined || value === null || value === "") {
    throw new Ec2Error("MissingParameter", `The request must contain the parameter ${name}`);
  }
}

function countParam(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new Ec2Error("InvalidParameterValue", `Value (${value}) for parameter ${name} is invalid.`);
  }
}

/** The EC2 model. See the module doc. */
export class Ec2Model {
  readonly region: string;
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly accountId = "123456789012";
  /** Calls per action made on the model (including failed ones). */
  readonly calls: Record<string, number> = {};
  readonly #now: () => number;
  readonly #rng: Rng;
  readonly #detachLatencyMs: number;
  readonly #unattachedIpLimit: number;
  readonly #types = new Map<string, InstanceTypeInfo>();
  readonly #subnets = new Map<string, SubnetRecord>();
  readonly #groups = new Map<string, SecurityGroupRecord>();
  readonly #instances = new Map<string, InstanceRecord>();
  readonly #enis = new Map<string, EniRecord>();
  readonly #listeners = new Set<(e: Ec2Event) => void>();
  readonly #ids = new Set<string>();
  #seq = 0;

  constructor(opts: Ec2ModelOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#rng = new Rng(opts.seed ?? 1);
    this.region = opts.region ?? "us-west-2";
    this.vpcCidr = opts.vpcCidr ?? "10.0.0.0/16";
    this.#detachLatencyMs = opts.detachLatencyMs ?? 0;
    this.#unattachedIpLimit = opts.unattachedIpLimit ?? 50;
    for (const t of opts.instanceTypes ?? []) this.#types.set(t.instanceType, { ...t });
    this.vpcId = this.#newId("vpc");
  }

  /** Current model time (epoch ms). */
  now(): number {
    return this.#now();
  }

  // ---- setup (the lab's control plane, not EC2 actions) ----

  /** Adds a subnet of the VPC. */
  addSubnet(o: { cidr: string; availabilityZone?: string; tags?: Tag[]; subnetId?: string }): Subnet {
    const cidr = parseCidr(o.cidr);
    const text = `${cidr.network}/${cidr.prefixLen}`;
    if (!cidrContains(this.vpcCidr, cidr.network) || cidr.prefixLen < parseCidr(this.vpcCidr).prefixLen) {
      throw new Ec2Error("InvalidSubnet.Range", `The CIDR '${o.cidr}' is invalid.`, "CreateSubnet");
    }
    for (const s of this.#subnets.values()) {
      if (cidrContains(s.cidr, cidr.network) || cidrContains(text, parseCidr(s.cidr).network)) {
        throw new Ec2Error("InvalidSubnet.Conflict", `The CIDR '${o.cidr}' conflicts with another subnet`);
      }
    }
    const id = o.subnetId ?? this.#newId("subnet");
    this.#ids.add(id);
    const rec: SubnetRecord = {
      id,
      cidr: text,
      availabilityZone: o.availabilityZone ?? `${this.region}a`,
      tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
      pool: new SubnetPool(text),
    };
    this.#subnets.set(id, rec);
    return this.#subnetView(rec);
  }

  /** Adds a security group; returns its ID. */
  addSecurityGroup(name: string, groupId?: string): string {
    const id = groupId ?? this.#newId("sg");
    this.#ids.add(id);
    this.#groups.set(id, { id, name });
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
    this.#settle();
    const type = this.#type(o.instanceType, "RunInstances");
    const subnet = this.#subnet(o.subnetId);
    const id = o.instanceId ?? this.#newId("i");
    this.#ids.add(id);
    const eni = this.#makeEni(subnet, {
      description: "Primary network interface",
      securityGroupIds: o.securityGroupIds,
      privateIpAddress: o.privateIpAddress,
    });
    const now = this.#now();
    this.#instances.set(id, {
      id,
      seq: this.#seq++,
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
      id: this.#newId("eni-attach"),
      instanceId: id,
      deviceIndex: 0,
      status: "attached",
      deleteOnTermination: true,
      attachedAt: now,
    };
    this.#emitAttached(eni);
    return this.#instanceView(this.#instances.get(id)!);
  }

  /** Terminates an instance: detaches its ENIs and deletes those with DeleteOnTermination. */
  terminateInstance(instanceId: string): void {
    this.#settle();
    const inst = this.#instance(instanceId, "TerminateInstances");
    for (const e of this.#attachedTo(inst.id)) {
      const a = e.attachment!;
      e.attachment = undefined;
      this.#emit(this.#detachEvent(e, a));
      if (a.deleteOnTermination) this.#destroyEni(e);
    }
    inst.state = "terminated";
  }

  /** Listens to fabric events; returns the unsubscribe function. Listener errors are swallowed. */
  subscribe(fn: (e: Ec2Event) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Settles timed transitions (detaching → available) due by now, emitting their events. */
  tick(): void {
    this.#settle();
  }

  /** When the next timed transition is due (epoch ms), or undefined when none is pending. */
  nextTransitionAt(): number | undefined {
    let next: number | undefined;
    for (const e of this.#enis.values()) {
      const t = e.attachment?.detachDoneAt;
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  // ---- lab / IMDS views ----

  /** The instance record (read-only use), or undefined. */
  instanceRecord(instanceId: string): Readonly<InstanceRecord> | undefined {
    return this.#instances.get(instanceId);
  }

  /** Every instance ID, in launch order. */
  instanceIds(): string[] {
    return [...this.#instances.values()].filter((i) => i.state === "running").map((i) => i.id);
  }

  /** ENI records attached to an instance (incl. detaching), by device index. */
  attachedEnis(instanceId: string): Readonly<EniRecord>[] {
    this.#settle();
    return this.#attachedTo(instanceId);
  }

  /** The instance whose primary private IP (or any ENI primary IP) is `ip`. */
  instanceByPrivateIp(ip: string): string | undefined {
    for (const e of this.#enis.values()) {
      if (e.attachment && e.primaryIp === ip) {
        const inst = this.#instances.get(e.attachment.instanceId);
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
    this.#settle();
    return this.#attachedTo(instanceId)
      .filter((e) => e.attachment!.deviceIndex === 0 || e.attachment!.attachedAt <= visibleAt)
      .map((e) => {
        const subnet = this.#subnets.get(e.subnetId)!;
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
    this.#settle();
    const list = ids.length
      ? ids.map((id) => this.#instance(id, "DescribeInstances"))
      : [...this.#instances.values()].filter((i) => i.state === "running");
    return list.map((i) => this.#instanceView(i));
  }

  /** DescribeInstanceTypes. */
  describeInstanceTypes(types: string[] = []): InstanceTypeInfo[] {
    this.#count("DescribeInstanceTypes");
    return types.map((t) => ({ ...this.#type(t, "DescribeInstanceTypes") }));
  }

  /** DescribeSubnets with IDs and/or filters (subnet-id, vpc-id, availability-zone, cidr-block, tag:, tag-key). */
  describeSubnets(input: { subnetIds?: string[]; filters?: Filter[] } = {}): Subnet[] {
    this.#count("DescribeSubnets");
    const list = input.subnetIds?.length
      ? input.subnetIds.map((id) => this.#subnet(id, "DescribeSubnets"))
      : [...this.#subnets.values()];
    return applyFilters(list.map((s) => this.#subnetView(s)), input.filters, subnetFilterValues);
  }

  /** DescribeNetworkInterfaces, one page. */
  describeNetworkInterfaces(
    input: { networkInterfaceIds?: string[]; filters?: Filter[]; maxResults?: number; nextToken?: string } =
      {},
  ): { networkInterfaces: NetworkInterface[]; nextToken?: string } {
    const action = "DescribeNetworkInterfaces";
    this.#count(action);
    this.#settle();
    checkMaxResults(input.maxResults);
    const recs = input.networkInterfaceIds?.length
      ? input.networkInterfaceIds.map((id) => this.#eni(id, action))
      : [...this.#enis.values()];
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
    const subnet = this.#subnet(input.subnetId, action);
    for (const g of input.securityGroupIds ?? []) {
      if (!this.#groups.has(g)) {
        throw new Ec2Error("InvalidGroup.NotFound", `The security group '${g}' does not exist`, action);
      }
    }
    const extra = (input.secondaryPrivateIpAddressCount ?? 0) + (input.ipv4PrefixCount ?? 0);
    if (1 + extra > this.#unattachedIpLimit) {
      throw new Ec2Error(
        "PrivateIpAddressLimitExceeded",
        `Number of private addresses will exceed limit of ${this.#unattachedIpLimit}.`,
        action,
      );
    }
    const needIps = 1 + (input.secondaryPrivateIpAddressCount ?? 0);
    if (subnet.pool.available < needIps) throw this.#insufficient(subnet, action);
    const eni = this.#makeEni(subnet, {
      description: input.description ?? "",
      securityGroupIds: input.securityGroupIds,
      privateIpAddress: input.privateIpAddress,
      tags: input.tags,
    }, action);
    const now = this.#now();
    if (input.secondaryPrivateIpAddressCount) {
      for (const ip of subnet.pool.takeAny(input.secondaryPrivateIpAddressCount, this.#rng)!) {
        eni.secondary.set(ip, now);
      }
    }
    if (input.ipv4PrefixCount) {
      const p = subnet.pool.takePrefixes(input.ipv4PrefixCount, this.#rng);
      if (!p) {
        this.#destroyEni(eni, false);
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
    this.#settle();
    need(input.networkInterfaceId, "NetworkInterfaceId");
    need(input.instanceId, "InstanceId");
    need(input.deviceIndex, "DeviceIndex");
    const eni = this.#eni(input.networkInterfaceId, action);
    const inst = this.#instance(input.instanceId, action);
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
    const attached = this.#attachedTo(inst.id);
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
      id: this.#newId("eni-attach"),
      instanceId: inst.id,
      deviceIndex: di,
      status: "attached",
      deleteOnTermination: false,
      attachedAt: this.#now(),
    };
    eni.attachment = a;
    this.#emitAttached(eni);
    return { attachmentId: a.id };
  }

  /** DetachNetworkInterface: `detaching` now, `available` after the detach latency. */
  detachNetworkInterface(input: { attachmentId: string; force?: boolean }): void {
    const action = "DetachNetworkInterface";
    this.#count(action);
    this.#settle();
    need(input.attachmentId, "AttachmentId");
    const eni = [...this.#enis.values()].find((e) => e.attachment?.id === input.attachmentId);
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
    a.detachDoneAt = this.#now() + this.#detachLatencyMs;
    if (this.#detachLatencyMs <= 0) this.#settle();
  }

  /** DeleteNetworkInterface (only when not attached). */
  deleteNetworkInterface(networkInterfaceId: string): void {
    const action = "DeleteNetworkInterface";
    this.#count(action);
    this.#settle();
    need(networkInterfaceId, "NetworkInterfaceId");
    const eni = this.#eni(networkInterfaceId, action);
    if (eni.attachment) {
      throw new Ec2Error(
        "InvalidNetworkInterface.InUse",
        `The network interface '${eni.id}' is currently in use.`,
        action,
      );
    }
    this.#destroyEni(eni);
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
    this.#settle();
    need(input.networkInterfaceId, "NetworkInterfaceId");
    const eni = this.#eni(input.networkInterfaceId, action);
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
      if (!this.#groups.has(g)) {
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
    const action = "AssignPrivateIpAddresses";
    this.#count(action);
    this.#settle();
    need(input.networkInterfaceId, "NetworkInterfaceId");
    countParam(input.secondaryPrivateIpAddressCount, "SecondaryPrivateIpAddressCount");
    countParam(input.ipv4PrefixCount, "Ipv4PrefixCount");
    const eni = this.#eni(input.networkInterfaceId, action);
    const subnet = this.#subnets.get(eni.subnetId)!;
    const ipForm = (input.secondaryPrivateIpAddressCount ? 1 : 0) +
      (input.privateIpAddresses?.length ? 1 : 0);
    const pfxForm = (input.ipv4PrefixCount ? 1 : 0) + (input.ipv4Prefixes?.length ? 1 : 0);
    if (ipForm + pfxForm === 0) {
      throw new Ec2Error(
        "MissingParameter",
        "Either PrivateIpAddress, SecondaryPrivateIpAddressCount, Ipv4Prefix or Ipv4PrefixCount must be specified.",
        action,
      );
    }
    if (ipForm + pfxForm > 1) {
      throw new Ec2Error(
        "InvalidParameterCombination",
        "Specify only one form of address assignment.",
        action,
      );
    }
    const inst = eni.attachment ? this.#instances.get(eni.attachment.instanceId) : undefined;
    const limit = inst ? inst.type.ipv4PerEni : this.#unattachedIpLimit;
    const have = 1 + eni.secondary.size + eni.prefixes.size;
    const want = input.secondaryPrivateIpAddressCount ?? input.privateIpAddresses?.length ??
      input.ipv4PrefixCount ?? input.ipv4Prefixes!.length;
    if (have + want > limit) {
      throw new Ec2Error(
        "PrivateIpAddressLimitExceeded",
        `Number of private addresses will exceed limit of ${limit}${
          inst ? ` for ${inst.type.instanceType}` : ""
        }.`,
        action,
      );
    }
    const now = this.#now();
    if (pfxForm) {
      if (inst && inst.type.hypervisor !== "nitro") {
        throw new Ec2Error(
          "InvalidParameterValue",
          `Prefix delegation is only supported on Nitro instances; ${inst.type.instanceType} is not`,
          action,
        );
      }
      let got: string[] | undefined;
      if (input.ipv4Prefixes?.length) {
        got = this.#takeExplicitPrefixes(subnet, input.ipv4Prefixes, action);
      } else {
        got = subnet.pool.takePrefixes(input.ipv4PrefixCount!, this.#rng);
        if (!got) {
          throw new Ec2Error(
            "InsufficientCidrBlocks",
            "The specified subnet does not have enough free cidr blocks to satisfy the request.",
            action,
          );
        }
      }
      for (const p of got) eni.prefixes.set(p, now);
      this.#emit({
        type: "ips-assigned",
        eniId: eni.id,
        instanceId: eni.attachment?.instanceId,
        ips: got.flatMap((p) => expandCidr(p)),
        prefixes: got,
      });
      return { privateIps: [], ipv4Prefixes: got };
    }
    let ips: string[];
    if (input.privateIpAddresses?.length) {
      for (const ip of input.privateIpAddresses) {
        if (!subnet.pool.contains(ip)) {
          throw new Ec2Error(
            "InvalidParameterValue",
            `Address ${ip} does not fall within the subnet's address range`,
            action,
          );
        }
        if (!subnet.pool.isFree(ip)) {
          throw new Ec2Error("InvalidIPAddress.InUse", `Address ${ip} is in use.`, action);
        }
      }
      if (new Set(input.privateIpAddresses).size !== input.privateIpAddresses.length) {
        throw new Ec2Error("InvalidParameterValue", "Duplicate addresses in the request.", action);
      }
      for (const ip of input.privateIpAddresses) subnet.pool.take(ip);
      ips = [...input.privateIpAddresses];
    } else {
      const got = subnet.pool.takeAny(input.secondaryPrivateIpAddressCount!, this.#rng);
      if (!got) throw this.#insufficient(subnet, action);
      ips = got;
    }
    for (const ip of ips) eni.secondary.set(ip, now);
    this.#emit({
      type: "ips-assigned",
      eniId: eni.id,
      instanceId: eni.attachment?.instanceId,
      ips,
      prefixes: [],
    });
    return { privateIps: ips, ipv4Prefixes: [] };
  }

  /** UnassignPrivateIpAddresses: secondary addresses and/or /28 prefixes. */
  unassignPrivateIpAddresses(
    input: { networkInterfaceId: string; privateIpAddresses?: string[]; ipv4Prefixes?: string[] },
  ): void {
    const action = "UnassignPrivateIpAddresses";
    this.#count(action);
    this.#settle();
    need(input.networkInterfaceId, "NetworkInterfaceId");
    const eni = this.#eni(input.networkInterfaceId, action);
    const ips = input.privateIpAddresses ?? [];
    const pfx = input.ipv4Prefixes ?? [];
    if (!ips.length && !pfx.length) {
      throw new Ec2Error(
        "MissingParameter",
        "The request must contain the parameter PrivateIpAddress",
        action,
      );
    }
    for (const ip of ips) {
      if (ip === eni.primaryIp) {
        throw new Ec2Error(
          "InvalidParameterValue",
          `The primary address ${ip} cannot be unassigned.`,
          action,
        );
      }
      if (!eni.secondary.has(ip)) {
        throw new Ec2Error(
          "InvalidParameterValue",
          `Some of the specified addresses are not assigned to interface ${eni.id}`,
          action,
        );
      }
    }
    for (const p of pfx) {
      if (!eni.prefixes.has(p)) {
        throw new Ec2Error(
          "InvalidParameterValue",
          `Some of the specified prefixes are not assigned to interface ${eni.id}`,
          action,
        );
      }
    }
    const subnet = this.#subnets.get(eni.subnetId)!;
    for (const ip of ips) {
      eni.secondary.delete(ip);
      subnet.pool.release(ip);
    }
    for (const p of pfx) {
      eni.prefixes.delete(p);
      subnet.pool.releasePrefix(p);
    }
    this.#emit({
      type: "ips-unassigned",
      eniId: eni.id,
      instanceId: eni.attachment?.instanceId,
      ips: [...ips, ...pfx.flatMap((p) => expandCidr(p))],
      prefixes: [...pfx],
    });
  }

  /** CreateTags on ENIs, instances, subnets (overwrites existing keys). */
  createTags(resourceIds: string[], tags: Tag[]): void {
    const action = "CreateTags";
    this.#count(action);
    this.#settle();
    if (!resourceIds.length) {
      throw new Ec2Error("MissingParameter", "The request must contain ResourceId", action);
    }
    if (!tags.length) throw new Ec2Error("MissingParameter", "The request must contain Tag", action);
    const targets = resourceIds.map((id) => {
      const t = this.#enis.get(id)?.tags ?? this.#instances.get(id)?.tags ?? this.#subnets.get(id)?.tags;
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

  #newId(prefix: string): string {
    for (;;) {
      const id = `${prefix}-${this.#rng.hex(17)}`;
      if (!this.#ids.has(id)) {
        this.#ids.add(id);
        return id;
      }
    }
  }

  #newMac(): string {
    const used = new Set([...this.#enis.values()].map((e) => e.mac));
    for (;;) {
      const mac = ["02", ...Array.from({ length: 5 }, () => this.#rng.hex(2))].join(":");
      if (!used.has(mac)) return mac;
    }
  }

  #type(name: string, action: string): InstanceTypeInfo {
    const t = this.#types.get(name) ?? lookupInstanceType(name);
    if (!t) throw new Ec2Error("InvalidInstanceType", `The instance type '${name}' does not exist`, action);
    return t;
  }

  #subnet(id: string, action = ""): SubnetRecord {
    const s = this.#subnets.get(id);
    if (!s) throw new Ec2Error("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`, action);
    return s;
  }

  #instance(id: string, action: string): InstanceRecord {
    const i = this.#instances.get(id);
    if (!i || (i.state === "terminated" && action !== "DescribeInstances")) {
      throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`, action);
    }
    return i;
  }

  #eni(id: string, action: string): EniRecord {
    const e = this.#enis.get(id);
    if (!e) {
      throw new Ec2Error(
        "InvalidNetworkInterfaceID.NotFound",
        `The networkInterface ID '${id}' does not exist`,
        action,
      );
    }
    return e;
  }

  #insufficient(subnet: SubnetRecord, action: string): Ec2Error {
    return new Ec2Error(
      "InsufficientFreeAddressesInSubnet",
      `The specified subnet ${subnet.id} does not have enough free addresses to satisfy the request.`,
      action,
    );
  }

  #takeExplicitPrefixes(subnet: SubnetRecord, prefixes: string[], action: string): string[] {
    const out: string[] = [];
    for (const p of prefixes) {
      let c;
      try {
        c = parseCidr(p);
      } catch {
        throw new Ec2Error("InvalidParameterValue", `Invalid prefix ${p}`, action);
      }
      const text = `${c.network}/${c.prefixLen}`;
      if (c.prefixLen !== 28 || text !== p || !cidrContains(subnet.cidr, c.network)) {
        throw new Ec2Error("InvalidParameterValue", `Invalid prefix ${p} for subnet ${subnet.id}`, action);
      }
      if (!expandCidr(text).every((ip) => subnet.pool.isFree(ip))) {
        for (const q of out) subnet.pool.releasePrefix(q);
        throw new Ec2Error("InvalidParameterValue", `The prefix ${p} is in use or reserved`, action);
      }
      for (const ip of expandCidr(text)) subnet.pool.take(ip);
      out.push(text);
    }
    return out;
  }

  #makeEni(
    subnet: SubnetRecord,
    o: { description: string; securityGroupIds?: string[]; privateIpAddress?: string; tags?: Tag[] },
    action = "",
  ): EniRecord {
    let primary: string;
    if (o.privateIpAddress) {
      if (!subnet.pool.contains(o.privateIpAddress)) {
        throw new Ec2Error(
          "InvalidParameterValue",
          `Address ${o.privateIpAddress} does not fall within the subnet's address range`,
          action,
        );
      }
      if (!subnet.pool.take(o.privateIpAddress)) {
        throw new Ec2Error("InvalidIPAddress.InUse", `Address ${o.privateIpAddress} is in use.`, action);
      }
      primary = o.privateIpAddress;
    } else {
      const got = subnet.pool.takeAny(1, this.#rng);
      if (!got) throw this.#insufficient(subnet, action);
      primary = got[0];
    }
    const eni: EniRecord = {
      id: this.#newId("eni"),
      seq: this.#seq++,
      subnetId: subnet.id,
      availabilityZone: subnet.availabilityZone,
      mac: this.#newMac(),
      description: o.description,
      securityGroupIds: [...(o.securityGroupIds ?? [])],
      tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
      sourceDestCheck: true,
      primaryIp: primary,
      secondary: new Map(),
      prefixes: new Map(),
      createdAt: this.#now(),
    };
    this.#enis.set(eni.id, eni);
    return eni;
  }

  #destroyEni(eni: EniRecord, emit = true): void {
    const subnet = this.#subnets.get(eni.subnetId)!;
    subnet.pool.release(eni.primaryIp);
    for (const ip of eni.secondary.keys()) subnet.pool.release(ip);
    for (const p of eni.prefixes.keys()) subnet.pool.releasePrefix(p);
    this.#enis.delete(eni.id);
    if (emit) this.#emit({ type: "eni-deleted", eniId: eni.id });
  }

  #attachedTo(instanceId: string): EniRecord[] {
    return [...this.#enis.values()]
      .filter((e) => e.attachment?.instanceId === instanceId)
      .sort((a, b) => a.attachment!.deviceIndex - b.attachment!.deviceIndex);
  }

  #settle(): void {
    const now = this.#now();
    for (const e of this.#enis.values()) {
      const a = e.attachment;
      if (a?.status === "detaching" && a.detachDoneAt !== undefined && a.detachDoneAt <= now) {
        e.attachment = undefined;
        this.#emit(this.#detachEvent(e, a));
      }
    }
  }

  #detachEvent(e: EniRecord, a: AttachmentRecord): Ec2Event {
    return {
      type: "eni-detached",
      eniId: e.id,
      instanceId: a.instanceId,
      deviceIndex: a.deviceIndex,
      mac: e.mac,
      subnetCidr: this.#subnets.get(e.subnetId)!.cidr,
      primaryIp: e.primaryIp,
      ips: eniAddresses(e),
      prefixes: [...e.prefixes.keys()],
    };
  }

  #emitAttached(e: EniRecord): void {
    const a = e.attachment!;
    this.#emit({
      type: "eni-attached",
      eniId: e.id,
      instanceId: a.instanceId,
      deviceIndex: a.deviceIndex,
      mac: e.mac,
      subnetCidr: this.#subnets.get(e.subnetId)!.cidr,
      primaryIp: e.primaryIp,
      ips: eniAddresses(e),
      prefixes: [...e.prefixes.keys()],
    });
  }

  #emit(ev: Ec2Event): void {
    for (const fn of this.#listeners) {
      try {
        fn(ev);
      } catch {
        // A faulty listener must not corrupt the model.
      }
    }
  }

  #subnetView(s: SubnetRecord): Subnet {
    return subnetView({ ...s, available: s.pool.available }, this.vpcId);
  }

  #instanceView(i: InstanceRecord): Instance {
    const primary = this.#enis.get(i.primaryEniId);
    return {
      instanceId: i.id,
      instanceType: i.type.instanceType,
      availabilityZone: i.availabilityZone,
      subnetId: i.subnetId,
      vpcId: this.vpcId,
      privateIpAddress: primary?.primaryIp ?? "",
      networkInterfaces: this.#attachedTo(i.id).map((e) => eniView(e, this.vpcId)),
    };
  }
}

export { tagList };
