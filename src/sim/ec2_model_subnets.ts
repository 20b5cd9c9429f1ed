/** The EC2 model's subnets and security groups: the lab's setup calls and DescribeSubnets. */
import { Ec2Error, type Filter, type Subnet, type Tag } from "../aws/ec2_port.ts";
import { cidrContains, parseCidr } from "../net/ipv4.ts";
import { applyFilters, subnetFilterValues } from "./ec2_model_filter.ts";
import type { Ec2Store, SubnetRecord } from "./ec2_model_store.ts";
import { SubnetPool } from "./ec2_model_subnet_pool.ts";
import { Ipv6SubnetPool } from "./ec2_model_ipv6_pool.ts";
import { cidr6Contains, normalizeCidr6, nthSubnet6, parseCidr6 } from "../net/ipv6.ts";

/** What the lab adds a subnet with. */
export interface AddSubnetInput {
  cidr: string;
  availabilityZone?: string;
  tags?: Tag[];
  subnetId?: string;
  /** The subnet's IPv6 /64 (inside the VPC's /56), or `true` for the next free /64 of the VPC's block. */
  ipv6Cidr?: string | true;
  /** New interfaces in the subnet get an IPv6 address (needs an IPv6 block). */
  assignIpv6AddressOnCreation?: boolean;
}

/** The /64 a new subnet gets: the one named, or the first of the VPC's /56 no subnet holds. */
function ipv6Block(s: Ec2Store, want: string | true): string {
  if (!s.vpcIpv6Cidr) {
    throw new Ec2Error("InvalidParameterValue", "The VPC has no IPv6 CIDR block", "CreateSubnet");
  }
  const held = new Set([...s.subnets.values()].map((x) => x.ipv6?.cidr).filter(Boolean));
  if (want === true) {
    for (let i = 0n; i < 256n; i++) {
      const c = nthSubnet6(s.vpcIpv6Cidr, 64, i);
      if (!held.has(c)) return c;
    }
    throw new Ec2Error("InvalidSubnet.Range", "The VPC's IPv6 block has no free /64", "CreateSubnet");
  }
  let c: string;
  try {
    c = normalizeCidr6(want);
  } catch {
    throw new Ec2Error("InvalidParameterValue", `The IPv6 CIDR '${want}' is invalid.`, "CreateSubnet");
  }
  if (parseCidr6(c).prefixLen !== 64 || !cidr6Contains(s.vpcIpv6Cidr, c.split("/")[0])) {
    throw new Ec2Error("InvalidSubnet.Range", `The IPv6 CIDR '${want}' is invalid.`, "CreateSubnet");
  }
  if (held.has(c)) {
    throw new Ec2Error("InvalidSubnet.Conflict", `The CIDR '${want}' conflicts with another subnet`);
  }
  return c;
}

/** Adds a subnet of the VPC (InvalidSubnet.Range outside the VPC, InvalidSubnet.Conflict on overlap). */
export function addSubnet(s: Ec2Store, o: AddSubnetInput): Subnet {
  const cidr = parseCidr(o.cidr);
  const text = `${cidr.network}/${cidr.prefixLen}`;
  if (!cidrContains(s.vpcCidr, cidr.network) || cidr.prefixLen < parseCidr(s.vpcCidr).prefixLen) {
    throw new Ec2Error("InvalidSubnet.Range", `The CIDR '${o.cidr}' is invalid.`, "CreateSubnet");
  }
  for (const other of s.subnets.values()) {
    if (cidrContains(other.cidr, cidr.network) || cidrContains(text, parseCidr(other.cidr).network)) {
      throw new Ec2Error("InvalidSubnet.Conflict", `The CIDR '${o.cidr}' conflicts with another subnet`);
    }
  }
  const ipv6 = o.ipv6Cidr === undefined ? undefined : new Ipv6SubnetPool(ipv6Block(s, o.ipv6Cidr));
  if (o.assignIpv6AddressOnCreation && !ipv6) {
    throw new Ec2Error(
      "InvalidParameterValue",
      "AssignIpv6AddressOnCreation needs an IPv6 CIDR block",
      "CreateSubnet",
    );
  }
  const id = o.subnetId ?? s.newId("subnet");
  s.ids.add(id);
  const rec: SubnetRecord = {
    id,
    cidr: text,
    availabilityZone: o.availabilityZone ?? `${s.region}a`,
    tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
    pool: new SubnetPool(text),
    ipv6,
    assignIpv6OnCreation: o.assignIpv6AddressOnCreation ?? false,
  };
  s.subnets.set(id, rec);
  return s.subnetView(rec);
}

/** Adds a security group; returns its ID. */
export function addSecurityGroup(s: Ec2Store, name: string, groupId?: string): string {
  const id = groupId ?? s.newId("sg");
  s.ids.add(id);
  s.groups.set(id, { id, name });
  return id;
}

/** DescribeSubnets with IDs and/or filters (subnet-id, vpc-id, availability-zone, cidr-block, tag:, tag-key). */
export function describeSubnets(s: Ec2Store, input: { subnetIds?: string[]; filters?: Filter[] }): Subnet[] {
  const list = input.subnetIds?.length
    ? input.subnetIds.map((id) => s.subnet(id, "DescribeSubnets"))
    : [...s.subnets.values()];
  return applyFilters(list.map((r) => s.subnetView(r)), input.filters, subnetFilterValues);
}
