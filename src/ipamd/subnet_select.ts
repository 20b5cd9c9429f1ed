/**
 * Subnet discovery (upstream's ENABLE_SUBNET_DISCOVERY, default true): where a new secondary ENI goes when
 * custom networking is off.
 *
 * Candidates are the subnets in the node's VPC and Availability Zone tagged `kubernetes.io/role/cni`, plus the
 * primary ENI's subnet; a tag value of `0` takes a subnet out (the primary's too). The one with the most free
 * addresses wins (ties: the primary, then the lower subnet ID). With no candidate left, or discovery off, or
 * DescribeSubnets failing, the primary ENI's subnet is used.
 */
import type { Ec2Port, Subnet } from "../aws/ec2_port.ts";
import { ConfigError } from "./config.ts";

/** The tag that marks a subnet for pod ENIs. */
export const TAG_CNI_ROLE = "kubernetes.io/role/cni";

/** Where the node is. */
export interface NodePlacement {
  vpcId: string;
  availabilityZone: string;
  primarySubnetId: string;
}

function roleTag(s: Subnet): string | undefined {
  return s.tags.find((t) => t.key === TAG_CNI_ROLE)?.value;
}

/** The candidate subnets, best first (most free addresses). Pure. */
export function rankSubnets(subnets: Subnet[], node: NodePlacement): Subnet[] {
  const ok = subnets.filter((s) => {
    if (s.vpcId !== node.vpcId || s.availabilityZone !== node.availabilityZone) return false;
    const tag = roleTag(s);
    if (tag === "0") return false;
    return tag !== undefined || s.subnetId === node.primarySubnetId;
  });
  const seen = new Set<string>();
  return ok.filter((s) => !seen.has(s.subnetId) && seen.add(s.subnetId)).sort((a, b) =>
    b.availableIpAddressCount - a.availableIpAddressCount ||
    Number(b.subnetId === node.primarySubnetId) - Number(a.subnetId === node.primarySubnetId) ||
    (a.subnetId < b.subnetId ? -1 : a.subnetId > b.subnetId ? 1 : 0)
  );
}

/** The subnet for the next ENI from a DescribeSubnets answer. Pure. */
export function pickSubnet(subnets: Subnet[], node: NodePlacement): string {
  return rankSubnets(subnets, node)[0]?.subnetId ?? node.primarySubnetId;
}

/**
 * Asks EC2 once (subnets of the VPC and AZ) and picks. The primary subnet is fetched in the same call by
 * not filtering on the tag; any EC2 failure falls back to the primary subnet (`error` says why).
 */
export async function discoverSubnet(
  ec2: Pick<Ec2Port, "describeSubnets">,
  node: NodePlacement,
): Promise<{ subnetId: string; candidates: number; error?: unknown }> {
  try {
    const subnets = await ec2.describeSubnets({
      filters: [
        { name: "vpc-id", values: [node.vpcId] },
        { name: "availability-zone", values: [node.availabilityZone] },
      ],
    });
    const ranked = rankSubnets(subnets, node);
    return { subnetId: ranked[0]?.subnetId ?? node.primarySubnetId, candidates: ranked.length };
  } catch (error) {
    return { subnetId: node.primarySubnetId, candidates: 0, error };
  }
}

/** ENABLE_SUBNET_DISCOVERY (default true); throws `ConfigError` on a value that is not a boolean. */
export function subnetDiscoveryEnabled(env: Record<string, string | undefined>): boolean {
  return envBool(env, "ENABLE_SUBNET_DISCOVERY", true);
}

/** A boolean env value as config.ts reads them (`true`/`false`/`1`/`0`, empty = default). */
export function envBool(env: Record<string, string | undefined>, name: string, dflt: boolean): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (!v) return dflt;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new ConfigError(name, env[name]!, "true or false (or 1/0)");
}
