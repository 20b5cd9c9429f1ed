/** The EC2 model's subnets and security groups: the lab's setup calls and DescribeSubnets. */
import { Ec2Error, type Filter, type Subnet, type Tag } from "../aws/ec2_port.ts";
import { cidrContains, parseCidr } from "../net/ipv4.ts";
import { applyFilters, subnetFilterValues } from "./ec2_model_filter.ts";
import type { Ec2Store, SubnetRecord } from "./ec2_model_store.ts";
import { SubnetPool } from "./ec2_model_subnet_pool.ts";

/** Adds a subnet of the VPC (InvalidSubnet.Range outside the VPC, InvalidSubnet.Conflict on overlap). */
export function addSubnet(
  s: Ec2Store,
  o: { cidr: string; availabilityZone?: string; tags?: Tag[]; subnetId?: string },
): Subnet {
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
  const id = o.subnetId ?? s.newId("subnet");
  s.ids.add(id);
  const rec: SubnetRecord = {
    id,
    cidr: text,
    availabilityZone: o.availabilityZone ?? `${s.region}a`,
    tags: new Map((o.tags ?? []).map((t) => [t.key, t.value])),
    pool: new SubnetPool(text),
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
