/**
 * The EC2 model's state and the record-level helpers its actions share (lookups with EC2's NotFound codes,
 * ID/MAC generation, ENI creation/destruction, lazy settling, events). Internal to src/sim/ec2_model*.ts.
 */
import {
  Ec2Error,
  type Instance,
  type InstanceTypeInfo,
  type NetworkInterface,
  type Subnet,
  type Tag,
} from "../aws/ec2_port.ts";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { cidrContains, expandCidr, parseCidr } from "../net/ipv4.ts";
import { SubnetPool } from "./ec2_model_subnet_pool.ts";
import { ClientTokens } from "./ec2_model_client_tokens.ts";
import type { Ipv6SubnetPool } from "./ec2_model_ipv6_pool.ts";
import type {
  AttachmentRecord,
  Ec2Event,
  Ec2ModelOptions,
  EniRecord,
  InstanceRecord,
  ModelLags,
  SecurityGroupRecord,
} from "./ec2_model_types.ts";
import { eniAddresses, eniView, subnetView } from "./ec2_model_view.ts";
import { Rng } from "./realism_rng.ts";

/** A subnet as the model keeps it. */
export interface SubnetRecord {
  id: string;
  cidr: string;
  availabilityZone: string;
  tags: Map<string, string>;
  pool: SubnetPool;
  /** The subnet's IPv6 /64, when it has one. */
  ipv6?: Ipv6SubnetPool;
  /** AssignIpv6AddressOnCreation: new ENIs get an IPv6 address. */
  assignIpv6OnCreation: boolean;
}

/** MissingParameter unless `value` is set. */
export function need(value: unknown, name: string, action = ""): void {
  if (value === undefined || value === null || value === "") {
    throw new Ec2Error("MissingParameter", `The request must contain the parameter ${name}`, action);
  }
}

/** InvalidParameterValue unless `value` is unset or a positive integer. */
export function countParam(value: number | undefined, name: string, action = ""): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new Ec2Error("InvalidParameterValue", `Value (${value}) for parameter ${name} is invalid.`, action);
  }
}

/** The model's state. */
export class Ec2Store {
  readonly region: string;
  readonly vpcId: string;
  /** The VPC's `default` security group. */
  readonly defaultGroupId: string;
  readonly vpcCidr: string;
  /** The VPC's IPv6 /56, if it has one. */
  readonly vpcIpv6Cidr?: string;
  readonly now: () => number;
  readonly rng: Rng;
  readonly detachLatencyMs: number;
  readonly unattachedIpLimit: number;
  readonly types = new Map<string, InstanceTypeInfo>();
  readonly subnets = new Map<string, SubnetRecord>();
  readonly groups = new Map<string, SecurityGroupRecord>();
  readonly instances = new Map<string, InstanceRecord>();
  readonly enis = new Map<string, EniRecord>();
  readonly listeners = new Set<(e: Ec2Event) => void>();
  readonly ids = new Set<string>();
  readonly clientTokens = new ClientTokens();
  /** The lab's timing faults; `Ec2Model.setLags` changes them. */
  readonly lags: ModelLags;
  /** Draws the consistency lags, apart from `rng` so that lags never change IDs or addresses. */
  readonly #lagRng: Rng;
  seq = 0;
  // Indexes, so a thousand-instance account (the fleet simulation) costs no scan of every ENI per call.
  // Attachments change only through `attach`/`detached`, detaches through `markDetaching`.
  readonly #macs = new Set<string>();
  readonly #byInstance = new Map<string, Set<EniRecord>>();
  readonly #byAttachment = new Map<string, EniRecord>();
  readonly #unattached = new Set<EniRecord>();
  readonly #attaching = new Set<EniRecord>();
  readonly #detaching = new Set<EniRecord>();

  constructor(opts: Ec2ModelOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.rng = new Rng(opts.seed ?? 1);
    this.region = opts.region ?? "us-west-2";
    this.vpcCidr = opts.vpcCidr ?? "10.0.0.0/16";
    this.vpcIpv6Cidr = opts.vpcIpv6Cidr;
    this.detachLatencyMs = opts.detachLatencyMs ?? 0;
    this.unattachedIpLimit = opts.unattachedIpLimit ?? 50;
    for (const t of opts.instanceTypes ?? []) this.types.set(t.instanceType, { ...t });
    this.lags = { consistencyLagMs: opts.consistencyLagMs ?? 0, attachLagMs: opts.attachLagMs ?? 0 };
    this.#lagRng = new Rng(((opts.seed ?? 1) ^ 0x5bd1e995) >>> 0);
    this.vpcId = this.newId("vpc");
    // Every VPC has its "default" security group: EC2 gives it to ENIs and instances created without groups.
    this.defaultGroupId = `sg-${this.vpcId.slice("vpc-".length)}`;
    this.groups.set(this.defaultGroupId, { id: this.defaultGroupId, name: "default" });
    this.ids.add(this.defaultGroupId);
  }

  /** `groups`, or the VPC's default security group when none are given (as EC2 does). */
  groupsOrDefault(groups?: string[]): string[] {
    return groups?.length ? [...groups] : [this.defaultGroupId];
  }

  /** When Describe* will show something made now: after a draw in [lag/2, lag] (now, without the fault). */
  describedFromNow(): number {
    const lag = this.lags.consistencyLagMs;
    return this.now() + (lag > 0 ? Math.round(lag * (0.5 + this.#lagRng.next() / 2)) : 0);
  }

  /** Marks addresses or prefixes just added to `eni` as not described yet (one draw for the batch). */
  undescribed(eni: EniRecord, keys: string[]): void {
    const from = this.describedFromNow();
    if (from <= this.now()) return;
    for (const k of keys) eni.undescribed.set(k, from);
  }

  /** Whether Describe* show the ENI now. */
  described(e: EniRecord): boolean {
    return e.describedFrom <= this.now();
  }

  /** An ENI as Describe* show it now: without the addresses and prefixes not described yet. */
  describeView(e: EniRecord): NetworkInterface {
    const v = eniView(e, this.vpcId);
    if (!e.undescribed.size) return v;
    const now = this.now();
    for (const [k, t] of e.undescribed) if (t <= now) e.undescribed.delete(k);
    const shown = (k: string) => !e.undescribed.has(k);
    return {
      ...v,
      privateIps: v.privateIps.filter((p) => p.primary || shown(p.address)),
      ipv4Prefixes: v.ipv4Prefixes.filter(shown),
    };
  }

  /** A fresh, unique EC2-style ID (`prefix-<17 hex>`). */
  newId(prefix: string): string {
    for (;;) {
      const id = `${prefix}-${this.rng.hex(17)}`;
      if (!this.ids.has(id)) {
        this.ids.add(id);
        return id;
      }
    }
  }

  /** A fresh locally administered MAC (`02:…`). */
  newMac(): string {
    for (;;) {
      const mac = ["02", ...Array.from({ length: 5 }, () => this.rng.hex(2))].join(":");
      if (!this.#macs.has(mac)) return mac;
    }
  }

  /** Instance-type limits (extra types first, then the embedded table); InvalidInstanceType otherwise. */
  type(name: string, action: string): InstanceTypeInfo {
    const t = this.types.get(name) ?? lookupInstanceType(name);
    if (!t) throw new Ec2Error("InvalidInstanceType", `The instance type '${name}' does not exist`, action);
    return t;
  }

  /** The subnet, or InvalidSubnetID.NotFound. */
  subnet(id: string, action = ""): SubnetRecord {
    const s = this.subnets.get(id);
    if (!s) throw new Ec2Error("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`, action);
    return s;
  }

  /** The instance, or InvalidInstanceID.NotFound (terminated ones only for DescribeInstances). */
  instance(id: string, action: string): InstanceRecord {
    const i = this.instances.get(id);
    if (!i || (i.state === "terminated" && action !== "DescribeInstances")) {
      throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`, action);
    }
    return i;
  }

  /** The ENI, or InvalidNetworkInterfaceID.NotFound. */
  eni(id: string, action: string): EniRecord {
    const e = this.enis.get(id);
    if (!e) throw this.eniNotFound(id, action);
    return e;
  }

  /** EC2's error for an ENI ID it does not know (or does not show yet). */
  eniNotFound(id: string, action: string): Ec2Error {
    return new Ec2Error(
      "InvalidNetworkInterfaceID.NotFound",
      `The networkInterface ID '${id}' does not exist`,
      action,
    );
  }

  /** EC2's error for a subnet out of addresses. */
  insufficient(subnet: SubnetRecord, action: string): Ec2Error {
    return new Ec2Error(
      "InsufficientFreeAddressesInSubnet",
      `The specified subnet ${subnet.id} does not have enough free addresses to satisfy the request.`,
      action,
    );
  }

  /** Takes the named /28 prefixes (all or none). */
  takeExplicitPrefixes(subnet: SubnetRecord, prefixes: string[], action: string): string[] {
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

  /** Creates an available ENI with its primary address. */
  makeEni(
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
      const got = subnet.pool.takeAny(1, this.rng);
      if (!got) throw this.insufficient(subnet, action);
      primary = got[0];
    }
    const eni: EniRecord = {
      id: this.newId("eni"),
      seq: this.seq++,
      subnetId: subnet.id,
      availabilityZone: subnet.availabilityZone,
      mac: this.newMac(),
      description: o.description,
      securityGroupIds: this.groupsOrDefault(o.securityGroupIds),
      tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
      sourceDestCheck: true,
      primaryIp: primary,
      secondary: new Map(),
      prefixes: new Map(),
      ipv6: new Map(),
      ipv6Prefixes: new Map(),
      createdAt: this.now(),
      describedFrom: this.describedFromNow(),
      undescribed: new Map(),
    };
    if (subnet.ipv6 && subnet.assignIpv6OnCreation) {
      eni.ipv6.set(subnet.ipv6.takeAny(1, this.rng)[0], eni.createdAt);
    }
    this.enis.set(eni.id, eni);
    this.#macs.add(eni.mac);
    this.#unattached.add(eni);
    return eni;
  }

  /** Deletes an ENI, returning its addresses to the subnet. */
  destroyEni(eni: EniRecord, emit = true): void {
    const subnet = this.subnets.get(eni.subnetId)!;
    subnet.pool.release(eni.primaryIp);
    for (const ip of eni.secondary.keys()) subnet.pool.release(ip);
    for (const p of eni.prefixes.keys()) subnet.pool.releasePrefix(p);
    for (const ip of eni.ipv6.keys()) subnet.ipv6?.release(ip);
    for (const p of eni.ipv6Prefixes.keys()) subnet.ipv6?.releasePrefix(p);
    this.enis.delete(eni.id);
    this.#macs.delete(eni.mac);
    this.#unattached.delete(eni);
    if (emit) this.emit({ type: "eni-deleted", eniId: eni.id });
  }

  /** ENIs attached to an instance (detaching included), by device index. */
  attachedTo(instanceId: string): EniRecord[] {
    return [...this.#byInstance.get(instanceId) ?? []]
      .sort((a, b) => a.attachment!.deviceIndex - b.attachment!.deviceIndex);
  }

  /** The ENI holding an attachment ID. */
  byAttachment(attachmentId: string): EniRecord | undefined {
    return this.#byAttachment.get(attachmentId);
  }

  /** ENIs with no attachment, in creation order. */
  unattached(): EniRecord[] {
    return [...this.#unattached].sort((a, b) => a.seq - b.seq);
  }

  /** Records an attachment (the ENI has none); an `attaching` one completes at its `attachDoneAt`. */
  attach(e: EniRecord, a: AttachmentRecord): void {
    e.attachment = a;
    if (a.status === "attaching") this.#attaching.add(e);
    this.#unattached.delete(e);
    this.#byAttachment.set(a.id, e);
    let set = this.#byInstance.get(a.instanceId);
    if (!set) this.#byInstance.set(a.instanceId, set = new Set());
    set.add(e);
  }

  /** Records that the ENI's attachment is gone (detach done, instance terminated). */
  detached(e: EniRecord): void {
    const a = e.attachment;
    if (!a) return;
    e.attachment = undefined;
    this.#byAttachment.delete(a.id);
    this.#byInstance.get(a.instanceId)?.delete(e);
    this.#attaching.delete(e);
    this.#detaching.delete(e);
    if (this.enis.has(e.id)) this.#unattached.add(e);
  }

  /** Starts a detach that completes at `doneAt` (an attachment still `attaching` never becomes attached). */
  markDetaching(e: EniRecord, doneAt: number): void {
    e.attachment!.status = "detaching";
    e.attachment!.attachDoneAt = undefined;
    e.attachment!.detachDoneAt = doneAt;
    this.#attaching.delete(e);
    this.#detaching.add(e);
  }

  /** When the next timed transition is due (epoch ms), or undefined when none is pending. */
  nextTransitionAt(): number | undefined {
    let next: number | undefined;
    for (const e of [...this.#attaching, ...this.#detaching]) {
      const t = e.attachment?.attachDoneAt ?? e.attachment?.detachDoneAt;
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** Completes attaches and detaches that are due, emitting `eni-attached` / `eni-detached`. */
  settle(): void {
    if (!this.#attaching.size && !this.#detaching.size) return;
    const now = this.now();
    for (const e of [...this.#attaching].sort((x, y) => x.seq - y.seq)) {
      const a = e.attachment!;
      if (a.attachDoneAt !== undefined && a.attachDoneAt <= now) {
        this.#attaching.delete(e);
        a.status = "attached";
        a.attachDoneAt = undefined;
        this.emitAttached(e);
      }
    }
    for (const e of [...this.#detaching].sort((x, y) => x.seq - y.seq)) {
      const a = e.attachment;
      if (a?.status === "detaching" && a.detachDoneAt !== undefined && a.detachDoneAt <= now) {
        this.detached(e);
        if (a.announced) this.emit(this.detachEvent(e, a));
      }
    }
  }

  /** The `eni-detached` event for an ENI and its former attachment. */
  detachEvent(e: EniRecord, a: AttachmentRecord): Ec2Event {
    return this.#attachmentEvent("eni-detached", e, a);
  }

  /** Emits `eni-attached` for an ENI (once per attachment). */
  emitAttached(e: EniRecord): void {
    e.attachment!.announced = true;
    this.emit(this.#attachmentEvent("eni-attached", e, e.attachment!));
  }

  #attachmentEvent(type: "eni-attached" | "eni-detached", e: EniRecord, a: AttachmentRecord): Ec2Event {
    return {
      type,
      eniId: e.id,
      instanceId: a.instanceId,
      deviceIndex: a.deviceIndex,
      mac: e.mac,
      subnetCidr: this.subnets.get(e.subnetId)!.cidr,
      primaryIp: e.primaryIp,
      ips: eniAddresses(e),
      prefixes: [...e.prefixes.keys()],
      ...(e.ipv6.size || e.ipv6Prefixes.size
        ? { ipv6: [...e.ipv6.keys()], ipv6Prefixes: [...e.ipv6Prefixes.keys()] }
        : {}),
    };
  }

  /** Sends an event to every listener; a throwing listener is ignored. */
  emit(ev: Ec2Event): void {
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch {
        // A faulty listener must not corrupt the model.
      }
    }
  }

  /** A subnet record as `Subnet`. */
  subnetView(s: SubnetRecord): Subnet {
    return subnetView({ ...s, available: s.pool.available, ipv6Cidr: s.ipv6?.cidr }, this.vpcId);
  }

  /** An instance record as `Instance`. */
  instanceView(i: InstanceRecord): Instance {
    const primary = this.enis.get(i.primaryEniId);
    return {
      instanceId: i.id,
      instanceType: i.type.instanceType,
      availabilityZone: i.availabilityZone,
      subnetId: i.subnetId,
      vpcId: this.vpcId,
      privateIpAddress: primary?.primaryIp ?? "",
      networkInterfaces: this.attachedTo(i.id).filter((e) => this.described(e)).map((e) =>
        this.describeView(e)
      ),
    };
  }
}
