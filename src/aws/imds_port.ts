/** The instance metadata (IMDSv2) port. Adapter: `ImdsClient` in src/aws/imds.ts (fetch, token PUT). */

/** One interface as IMDS describes it under network/interfaces/macs/<mac>/. */
export interface ImdsInterface {
  mac: string;
  deviceNumber: number;
  interfaceId: string;
  subnetId: string;
  subnetCidr: string;
  vpcCidrs: string[];
  /** First is the ENI's primary address. */
  localIpv4s: string[];
  ipv4Prefixes: string[];
  securityGroupIds: string[];
  /** `ipv6s`: the interface's IPv6 addresses (absent or empty when it has none). */
  ipv6s?: string[];
  /** `ipv6-prefix`: delegated IPv6 /80 prefixes. */
  ipv6Prefixes?: string[];
  /** `subnet-ipv6-cidr-blocks`. */
  subnetIpv6Cidrs?: string[];
  /** `vpc-ipv6-cidr-blocks`. */
  vpcIpv6Cidrs?: string[];
}

export interface ImdsPort {
  instanceId(): Promise<string>;
  instanceType(): Promise<string>;
  availabilityZone(): Promise<string>;
  /** The region, derived from the availability zone. */
  region(): Promise<string>;
  localIpv4(): Promise<string>;
  /** MAC of the primary ENI. */
  primaryMac(): Promise<string>;
  /** Every attached interface IMDS knows of now (it may lag EC2). */
  interfaces(): Promise<ImdsInterface[]>;
}

/** IMDS answered with an HTTP error, or not at all. */
export class ImdsError extends Error {
  constructor(readonly path: string, readonly status: number, message: string) {
    super(`IMDS ${path}: ${message}`);
    this.name = "ImdsError";
  }
}
