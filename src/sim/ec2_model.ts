/**
 * The lab's EC2: a pure, deterministic model of one VPC (subnets, security groups, instances, ENIs, private
 * IPs and /28 prefixes) enforcing EC2's limits with EC2's error codes. No I/O and no timers: time comes from
 * the injectable clock and timed transitions (attaching → attached, detaching → available) settle lazily on
 * the next call or on `tick()`. With the lab's timing faults (`setLags`), Describe* show new ENIs and new
 * addresses late, as EC2's eventual consistency does. Errors are thrown as `Ec2Error`.
 *
 * This class is the model's one entry point; it counts calls and hands each to the module of its resource:
 * ec2_model_subnets.ts (subnets, security groups), ec2_model_instances.ts (instances, IMDS's view),
 * ec2_model_enis.ts (network interfaces), ec2_model_attachments.ts (attach/detach), ec2_model_ips.ts
 * (secondary IPs and prefixes), ec2_model_tags.ts. State lives in `Ec2Store` (ec2_model_store.ts). The EC2
 * port over the model, in-process, is `Ec2ModelPort` (ec2_model_port.ts); over HTTP, ec2_server.ts.
 */
import type { Filter, Instance, InstanceTypeInfo, NetworkInterface, Subnet, Tag } from "../aws/ec2_port.ts";
import type { ImdsInterface } from "../aws/imds_port.ts";
import { type AttachInput, attachNetworkInterface, detachNetworkInterface } from "./ec2_model_attachments.ts";
import {
  type CreateEniInput,
  createNetworkInterface,
  deleteNetworkInterface,
  type DescribeEnisInput,
  describeNetworkInterfaces,
  type ModifyEniInput,
  modifyNetworkInterfaceAttribute,
} from "./ec2_model_enis.ts";
import {
  describeInstances,
  describeInstanceTypes,
  imdsInterfaces,
  instanceByPrivateIp,
  type LaunchInput,
  launchInstance,
  terminateInstance,
} from "./ec2_model_instances.ts";
import { assignPrivateIps, type AssignPrivateIpsModelInput, unassignPrivateIps } from "./ec2_model_ips.ts";
import { assignIpv6Addresses, type AssignIpv6ModelInput, unassignIpv6Addresses } from "./ec2_model_ipv6.ts";
import { Ec2Store } from "./ec2_model_store.ts";
import { addSecurityGroup, addSubnet, type AddSubnetInput, describeSubnets } from "./ec2_model_subnets.ts";
import { createTags } from "./ec2_model_tags.ts";
import type { Ec2Event, Ec2ModelOptions, EniRecord, InstanceRecord, ModelLags } from "./ec2_model_types.ts";
import { tagList } from "./ec2_model_view.ts";

export type * from "./ec2_model_types.ts";
export type {
  AddSubnetInput,
  AssignIpv6ModelInput,
  AttachInput,
  CreateEniInput,
  DescribeEnisInput,
  LaunchInput,
  ModifyEniInput,
};

/** The EC2 model. See the module doc. */
export class Ec2Model {
  readonly region: string;
  readonly vpcId: string;
  readonly vpcCidr: string;
  /** The VPC's IPv6 /56, if it has one. */
  readonly vpcIpv6Cidr?: string;
  readonly accountId = "123456789012";
  /** Calls per action made on the model (including failed ones). */
  readonly calls: Record<string, number> = {};
  readonly #s: Ec2Store;

  constructor(opts: Ec2ModelOptions = {}) {
    this.#s = new Ec2Store(opts);
    this.region = this.#s.region;
    this.vpcId = this.#s.vpcId;
    this.vpcCidr = this.#s.vpcCidr;
    this.vpcIpv6Cidr = this.#s.vpcIpv6Cidr;
  }

  /** Current model time (epoch ms). */
  now(): number {
    return this.#s.now();
  }

  // ---- setup (the lab's control plane, not EC2 actions) ----

  /** Adds a subnet of the VPC (with a /64 of the VPC's IPv6 block when `ipv6Cidr` is given). */
  addSubnet(o: AddSubnetInput): Subnet {
    return addSubnet(this.#s, o);
  }

  /** Adds a security group; returns its ID. */
  addSecurityGroup(name: string, groupId?: string): string {
    return addSecurityGroup(this.#s, name, groupId);
  }

  /** Launches a running instance with its primary ENI at device index 0 (DeleteOnTermination true). */
  launchInstance(o: LaunchInput): Instance {
    return launchInstance(this.#s, o);
  }

  /** Terminates an instance: detaches its ENIs and deletes those with DeleteOnTermination. */
  terminateInstance(instanceId: string): void {
    terminateInstance(this.#s, instanceId);
  }

  /** The timing faults in force (`consistency-lag`, `attach-lag`). */
  get lags(): Readonly<ModelLags> {
    return this.#s.lags;
  }

  /** Changes the timing faults; they apply to what is made, attached or detached from now on. */
  setLags(l: Partial<ModelLags>): void {
    Object.assign(this.#s.lags, l);
  }

  /** Listens to fabric events; returns the unsubscribe function. Listener errors are swallowed. */
  subscribe(fn: (e: Ec2Event) => void): () => void {
    this.#s.listeners.add(fn);
    return () => this.#s.listeners.delete(fn);
  }

  /** Settles timed transitions (attaching → attached, detaching → available) due by now, emitting events. */
  tick(): void {
    this.#s.settle();
  }

  /** When the next timed transition is due (epoch ms), or undefined when none is pending. */
  nextTransitionAt(): number | undefined {
    return this.#s.nextTransitionAt();
  }

  // ---- lab / IMDS views ----

  /** The instance record (read-only use), or undefined. */
  instanceRecord(instanceId: string): Readonly<InstanceRecord> | undefined {
    return this.#s.instances.get(instanceId);
  }

  /** Every running instance ID, in launch order. */
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
    return instanceByPrivateIp(this.#s, ip);
  }

  /** What IMDS shows of an instance's interfaces at `visibleAt` (see ec2_model_instances.ts). */
  imdsInterfaces(instanceId: string, visibleAt: number): ImdsInterface[] {
    return imdsInterfaces(this.#s, instanceId, visibleAt);
  }

  // ---- EC2 actions ----

  /** DescribeInstances by ID (all instances when `ids` is empty). */
  describeInstances(ids: string[] = []): Instance[] {
    this.#count("DescribeInstances");
    return describeInstances(this.#s, ids);
  }

  /** DescribeInstanceTypes. */
  describeInstanceTypes(types: string[] = []): InstanceTypeInfo[] {
    this.#count("DescribeInstanceTypes");
    return describeInstanceTypes(this.#s, types);
  }

  /** DescribeSubnets with IDs and/or filters. */
  describeSubnets(input: { subnetIds?: string[]; filters?: Filter[] } = {}): Subnet[] {
    this.#count("DescribeSubnets");
    return describeSubnets(this.#s, input);
  }

  /** DescribeNetworkInterfaces, one page. */
  describeNetworkInterfaces(
    input: DescribeEnisInput = {},
  ): { networkInterfaces: NetworkInterface[]; nextToken?: string } {
    this.#count("DescribeNetworkInterfaces");
    return describeNetworkInterfaces(this.#s, input);
  }

  /** CreateNetworkInterface (optionally with secondary IPs or /28 prefixes and tags). */
  createNetworkInterface(input: CreateEniInput): NetworkInterface {
    this.#count("CreateNetworkInterface");
    return createNetworkInterface(this.#s, input);
  }

  /** AttachNetworkInterface. */
  attachNetworkInterface(input: AttachInput): { attachmentId: string } {
    this.#count("AttachNetworkInterface");
    return attachNetworkInterface(this.#s, input);
  }

  /** DetachNetworkInterface: `detaching` now, `available` after the detach latency. */
  detachNetworkInterface(input: { attachmentId: string; force?: boolean }): void {
    this.#count("DetachNetworkInterface");
    detachNetworkInterface(this.#s, input);
  }

  /** DeleteNetworkInterface (only when not attached). */
  deleteNetworkInterface(networkInterfaceId: string): void {
    this.#count("DeleteNetworkInterface");
    deleteNetworkInterface(this.#s, networkInterfaceId);
  }

  /** ModifyNetworkInterfaceAttribute: Attachment.DeleteOnTermination, SourceDestCheck, Description, groups. */
  modifyNetworkInterfaceAttribute(input: ModifyEniInput): void {
    this.#count("ModifyNetworkInterfaceAttribute");
    modifyNetworkInterfaceAttribute(this.#s, input);
  }

  /** AssignPrivateIpAddresses: a count, explicit addresses, or /28 prefixes (Nitro only). */
  assignPrivateIpAddresses(
    input: AssignPrivateIpsModelInput,
  ): { privateIps: string[]; ipv4Prefixes: string[] } {
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

  /** AssignIpv6Addresses: an address count, addresses, or /80 prefixes (Nitro only). */
  assignIpv6Addresses(input: AssignIpv6ModelInput): { ipv6Addresses: string[]; ipv6Prefixes: string[] } {
    this.#count("AssignIpv6Addresses");
    return assignIpv6Addresses(this.#s, input);
  }

  /** UnassignIpv6Addresses: addresses and/or /80 prefixes. */
  unassignIpv6Addresses(
    input: { networkInterfaceId: string; ipv6Addresses?: string[]; ipv6Prefixes?: string[] },
  ): { ipv6Addresses: string[]; ipv6Prefixes: string[] } {
    this.#count("UnassignIpv6Addresses");
    return unassignIpv6Addresses(this.#s, input);
  }

  /** CreateTags on ENIs, instances, subnets (overwrites existing keys). */
  createTags(resourceIds: string[], tags: Tag[]): void {
    this.#count("CreateTags");
    createTags(this.#s, resourceIds, tags);
  }

  #count(action: string): void {
    this.calls[action] = (this.calls[action] ?? 0) + 1;
  }
}

export { tagList };
