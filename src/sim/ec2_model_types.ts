/** Shapes shared by the EC2 model, its Query server and the fabric: options, internal records, events. */
import type { InstanceTypeInfo } from "../aws/ec2_port.ts";

/** Options for `new Ec2Model(...)`. */
export interface Ec2ModelOptions {
  /** Seed of the deterministic RNG (IDs, MACs, address choice). Default 1. */
  seed?: number;
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Region; AZs are `<region>a`, ... Default `us-west-2`. */
  region?: string;
  /** VPC CIDR. Default `10.0.0.0/16`. */
  vpcCidr?: string;
  /** How long an ENI stays `detaching` before it is `available`. Default 0 (settles on the next read). */
  detachLatencyMs?: number;
  /** Extra instance types on top of the embedded table (src/aws/instance_types.ts). */
  instanceTypes?: InstanceTypeInfo[];
  /** IPv4 addresses (+ prefixes) an unattached ENI may hold. Default 50, the largest per-ENI limit. */
  unattachedIpLimit?: number;
  /** EC2's eventual consistency, at start (see `Ec2Model.setLags`). Default 0. */
  consistencyLagMs?: number;
  /** How long an attachment stays `attaching`, at start (see `Ec2Model.setLags`). Default 0. */
  attachLagMs?: number;
  /** The VPC's (Amazon-provided) IPv6 /56; unset, an IPv4-only VPC. Subnets get a /64 of it on request. */
  vpcIpv6Cidr?: string;
}

/** The model's timing knobs that the lab's faults set (`consistency-lag`, `attach-lag`). */
export interface ModelLags {
  /** Describe* show a new ENI or new addresses only after a seeded draw in [lag/2, lag]. */
  consistencyLagMs: number;
  /** An attachment is `attaching` this long; a detach is `detaching` at least this long. */
  attachLagMs: number;
}

/** An ENI as the model keeps it. Timestamps are epoch ms from the model's clock. */
export interface EniRecord {
  id: string;
  /** Creation order; pagination follows it. */
  seq: number;
  subnetId: string;
  availabilityZone: string;
  mac: string;
  description: string;
  securityGroupIds: string[];
  tags: Map<string, string>;
  sourceDestCheck: boolean;
  primaryIp: string;
  /** Secondary addresses → time assigned, in assignment order. */
  secondary: Map<string, number>;
  /** Delegated /28 prefixes → time assigned. */
  prefixes: Map<string, number>;
  /** IPv6 addresses → time assigned. */
  ipv6: Map<string, number>;
  /** Delegated IPv6 /80 prefixes → time assigned. */
  ipv6Prefixes: Map<string, number>;
  createdAt: number;
  /** From when Describe* show the ENI (EC2's eventual consistency). */
  describedFrom: number;
  /** Secondary addresses and prefixes Describe* do not show yet → from when they do. */
  undescribed: Map<string, number>;
  attachment?: AttachmentRecord;
}

/** An ENI's attachment. */
export interface AttachmentRecord {
  id: string;
  instanceId: string;
  deviceIndex: number;
  status: "attaching" | "attached" | "detaching";
  deleteOnTermination: boolean;
  /** When it became `attached` (for `attaching`: when it will). */
  attachedAt: number;
  /** When an `attaching` attachment becomes attached. */
  attachDoneAt?: number;
  /** When a `detaching` attachment becomes detached. */
  detachDoneAt?: number;
  /** Whether `eni-attached` was sent (so a detach sends `eni-detached`). */
  announced: boolean;
}

/** An instance as the model keeps it. */
export interface InstanceRecord {
  id: string;
  seq: number;
  type: InstanceTypeInfo;
  subnetId: string;
  availabilityZone: string;
  primaryEniId: string;
  securityGroupIds: string[];
  launchedAt: number;
  state: "running" | "terminated";
  tags: Map<string, string>;
}

/**
 * What the fabric hears. `ips` lists plain addresses; prefix events carry both the /28s in `prefixes` and
 * their 16 addresses each expanded into `ips`, so a fabric that only routes /32s can ignore `prefixes`.
 * `eni-attached` carries every address the ENI holds at attach time (primary first).
 * `instanceId` on ips-* events is set when the ENI is attached.
 */
export type Ec2Event =
  | {
    type: "eni-attached" | "eni-detached";
    eniId: string;
    instanceId: string;
    deviceIndex: number;
    mac: string;
    subnetCidr: string;
    primaryIp: string;
    ips: string[];
    prefixes: string[];
    /** IPv6 addresses and /80 prefixes the ENI holds (absent on IPv4-only ENIs). */
    ipv6?: string[];
    ipv6Prefixes?: string[];
  }
  | { type: "eni-deleted"; eniId: string }
  | {
    type: "ips-assigned" | "ips-unassigned";
    eniId: string;
    instanceId?: string;
    ips: string[];
    prefixes: string[];
    /** IPv6 addresses and /80 prefixes (AssignIpv6Addresses / UnassignIpv6Addresses). */
    ipv6?: string[];
    ipv6Prefixes?: string[];
  };

/** A security group (only IDs matter to ipamd). */
export interface SecurityGroupRecord {
  id: string;
  name: string;
}
