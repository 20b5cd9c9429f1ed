/**
 * The EC2 port: the subset of EC2 that ipamd uses, in plain TypeScript shapes.
 * Adapters: `SdkEc2` (src/aws/ec2_sdk.ts, real `@aws-sdk/client-ec2`) and `Ec2ModelPort` (src/sim, in-process).
 * Both pass the shared conformance suite in tests/ec2_conformance_test.ts.
 */

/** An EC2 API failure, carrying EC2's error code (e.g. `RequestLimitExceeded`, `AttachmentLimitExceeded`). */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly action = "",
    readonly httpStatus = 400,
  ) {
    super(`${action ? action + ": " : ""}${code}: ${message}`);
    this.name = "Ec2Error";
  }
  /**
   * Whether the same call, sent again, can succeed: throttling, a 5xx, or no answer at all. A `*.NotFound` is
   * not: right after a create it means "not visible yet" (EC2 is eventually consistent), elsewhere "gone", and
   * only the caller knows which; see {@link notFound}.
   */
  get retryable(): boolean {
    return this.httpStatus >= 500 || this.code === "RequestLimitExceeded" || this.code === "Throttling";
  }
  /** Whether EC2 said the resource does not exist (`InvalidNetworkInterfaceID.NotFound`, ...). */
  get notFound(): boolean {
    return this.code.endsWith(".NotFound");
  }
}

export interface Tag {
  key: string;
  value: string;
}

export interface PrivateIp {
  address: string;
  primary: boolean;
}

export interface Attachment {
  attachmentId: string;
  instanceId: string;
  deviceIndex: number;
  status: "attaching" | "attached" | "detaching" | "detached";
  deleteOnTermination: boolean;
  attachTime?: string;
}

export interface NetworkInterface {
  networkInterfaceId: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  macAddress: string;
  description: string;
  status: "available" | "in-use" | "attaching" | "detaching";
  privateIpAddress: string;
  privateIps: PrivateIp[];
  /** Delegated /28 prefixes, "10.0.16.32/28". */
  ipv4Prefixes: string[];
  /** IPv6 addresses (`ipv6AddressesSet`); absent or empty on an IPv4-only interface. */
  ipv6Addresses?: string[];
  /** Delegated IPv6 /80 prefixes (`ipv6PrefixSet`). */
  ipv6Prefixes?: string[];
  securityGroupIds: string[];
  attachment?: Attachment;
  tags: Tag[];
  sourceDestCheck: boolean;
}

export interface Subnet {
  subnetId: string;
  vpcId: string;
  cidrBlock: string;
  availabilityZone: string;
  availableIpAddressCount: number;
  tags: Tag[];
  /** The subnet's associated IPv6 blocks (a /64 each; `ipv6CidrBlockAssociationSet`). */
  ipv6CidrBlocks?: string[];
  /** Whether new interfaces in the subnet get an IPv6 address. */
  assignIpv6AddressOnCreation?: boolean;
}

export interface Instance {
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  privateIpAddress: string;
  networkInterfaces: NetworkInterface[];
}

export interface InstanceTypeInfo {
  instanceType: string;
  maxEnis: number;
  ipv4PerEni: number;
  vcpus: number;
  hypervisor: "nitro" | "xen";
  networkCards?: number;
}

export interface Filter {
  name: string;
  values: string[];
}

export interface CreateNetworkInterfaceInput {
  /**
   * Idempotency: EC2 answers a repeat of the call with the same token and parameters with the original ENI,
   * and makes no new one. Keep it for every retry of one intent. (The SDK makes one up per call otherwise.)
   */
  clientToken?: string;
  subnetId: string;
  description?: string;
  securityGroupIds?: string[];
  secondaryPrivateIpAddressCount?: number;
  ipv4PrefixCount?: number;
  tags?: Tag[];
}

export interface AssignPrivateIpsInput {
  networkInterfaceId: string;
  secondaryPrivateIpAddressCount?: number;
  privateIpAddresses?: string[];
  ipv4PrefixCount?: number;
}

/** AssignIpv6Addresses: one form of an address count, addresses, a /80 prefix count, or /80 prefixes. */
export interface AssignIpv6AddressesInput {
  networkInterfaceId: string;
  ipv6AddressCount?: number;
  ipv6Addresses?: string[];
  ipv6PrefixCount?: number;
  ipv6Prefixes?: string[];
}

export interface UnassignIpv6AddressesInput {
  networkInterfaceId: string;
  ipv6Addresses?: string[];
  ipv6Prefixes?: string[];
}

export interface UnassignPrivateIpsInput {
  networkInterfaceId: string;
  privateIpAddresses?: string[];
  ipv4Prefixes?: string[];
}

export interface DescribeSubnetsInput {
  subnetIds?: string[];
  filters?: Filter[];
}

export interface DescribeNetworkInterfacesInput {
  networkInterfaceIds?: string[];
  filters?: Filter[];
  /** Page size (5–1000); every page is fetched. */
  maxResults?: number;
}

export interface AttachNetworkInterfaceInput {
  networkInterfaceId: string;
  instanceId: string;
  deviceIndex: number;
}

export interface DetachNetworkInterfaceInput {
  attachmentId: string;
  force?: boolean;
}

export interface ModifyNetworkInterfaceAttributeInput {
  networkInterfaceId: string;
  attachmentId?: string;
  deleteOnTermination?: boolean;
  sourceDestCheck?: boolean;
}

/** The EC2 calls ipamd makes. Every method rejects with `Ec2Error` on an API error. */
export interface Ec2Port {
  describeInstances(instanceIds: string[]): Promise<Instance[]>;
  describeInstanceTypes(types: string[]): Promise<InstanceTypeInfo[]>;
  describeSubnets(input: DescribeSubnetsInput): Promise<Subnet[]>;
  /** Follows NextToken until done; `maxResults` sets the page size used. */
  describeNetworkInterfaces(input: DescribeNetworkInterfacesInput): Promise<NetworkInterface[]>;
  createNetworkInterface(input: CreateNetworkInterfaceInput): Promise<NetworkInterface>;
  attachNetworkInterface(input: AttachNetworkInterfaceInput): Promise<{ attachmentId: string }>;
  detachNetworkInterface(input: DetachNetworkInterfaceInput): Promise<void>;
  deleteNetworkInterface(networkInterfaceId: string): Promise<void>;
  modifyNetworkInterfaceAttribute(input: ModifyNetworkInterfaceAttributeInput): Promise<void>;
  /** Returns the addresses / prefixes that were assigned. */
  assignPrivateIpAddresses(
    input: AssignPrivateIpsInput,
  ): Promise<{ privateIps: string[]; ipv4Prefixes: string[] }>;
  unassignPrivateIpAddresses(input: UnassignPrivateIpsInput): Promise<void>;
  /** Returns the IPv6 addresses / prefixes that were assigned (IPv6 mode: one /80 on the primary ENI). */
  assignIpv6Addresses(
    input: AssignIpv6AddressesInput,
  ): Promise<{ ipv6Addresses: string[]; ipv6Prefixes: string[] }>;
  unassignIpv6Addresses(input: UnassignIpv6AddressesInput): Promise<void>;
  createTags(resourceIds: string[], tags: Tag[]): Promise<void>;
}
