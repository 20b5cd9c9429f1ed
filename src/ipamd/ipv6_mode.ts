/**
 * IPv6 mode (`ENABLE_IPv6=true`), as upstream runs it: every pod's /128 comes from one /80 prefix on the
 * primary ENI, so there are no secondary ENIs, no warm pool and no EC2 reconcile.
 *
 * - Start-up takes the primary ENI's first IPv6 prefix as EC2 describes it, or assigns one
 *   (`AssignIpv6Addresses` with `Ipv6PrefixCount=1`) when it has none; no EC2 call follows for pods.
 * - Host rules: the IPv6 `fwmark 0x80/0x80 lookup main` rule (host_network.ts), and in IPv4's filter table the
 *   rule that rejects new connections to the pods' node-local IPv4 addresses (egress-cni's 169.254.172.0/22)
 *   from anything forwarded. No SNAT for IPv6: pods' addresses are the VPC's own.
 * @module
 */
import type { NetworkInterface } from "../aws/ec2_port.ts";
import { iptablesRestore, type IptablesRunner, iptablesSave } from "../net/iptables.ts";
import type { EniManager } from "./eni_manager.ts";
import type { Logger } from "./log.ts";
import type { PoolPlan } from "./pool_types.ts";

/** The node-local IPv4 range egress-cni hands pods in IPv6 mode (upstream's constant). */
export const EGRESS_V4_SUBNET = "169.254.172.0/22";
/** The comment of the filter rule that keeps forwarded traffic off the pods' node-local IPv4 addresses. */
export const BLOCK_V4_COMMENT = "Block Node Local Pod access via IPv4";
/** Addresses in the /80 a node's pods come from. */
export const IPV6_PREFIX_ADDRESSES = 2 ** 48;

/** The pool plan in IPv6 mode: nothing to do, ever. */
export function ipv6Planner(): PoolPlan {
  return {
    actions: [],
    reason: "IPv6 mode: pods' addresses come from the primary ENI's /80 prefix",
    short: 0,
    over: 0,
    targetEnis: 1,
  };
}

/**
 * The primary ENI's IPv6 prefix: the first EC2 lists on it, else one assigned now. Throws (an `EniError`) when
 * EC2 refuses, e.g. when the subnet has no IPv6 CIDR block.
 */
export async function ensureIpv6Prefix(
  eni: EniManager,
  primary: NetworkInterface,
  log?: Logger,
): Promise<string> {
  const have = primary.ipv6Prefixes ?? [];
  if (have.length) {
    if (have.length > 1) {
      log?.warn("the primary ENI has several IPv6 prefixes; pods use the first", { prefixes: have });
    }
    return have[0];
  }
  const [got] = await eni.assignIpv6Prefixes(primary.networkInterfaceId, 1);
  if (!got) throw new Error(`AssignIpv6Addresses on ${primary.networkInterfaceId} returned no prefix`);
  log?.info("IPv6 prefix assigned to the primary ENI", { eniId: primary.networkInterfaceId, prefix: got });
  return got;
}

/** The filter rule (its spec after `-A FORWARD`). */
export const BLOCK_V4_RULE = `-d ${EGRESS_V4_SUBNET} -m conntrack --ctstate NEW -m comment --comment ` +
  `"${BLOCK_V4_COMMENT}" -j REJECT`;

/**
 * Puts the node-local IPv4 block rule first in IPv4's filter FORWARD chain unless it is there already (upstream
 * inserts it at every start; once is enough).
 */
export async function applyIpv6HostRules(r: IptablesRunner = {}): Promise<void> {
  const current = await iptablesSave("filter", r);
  if (current.split("\n").some((l) => l.startsWith("-A FORWARD ") && l.includes(`"${BLOCK_V4_COMMENT}"`))) {
    return;
  }
  await iptablesRestore(`*filter\n-I FORWARD 1 ${BLOCK_V4_RULE}\nCOMMIT\n`, r);
}
