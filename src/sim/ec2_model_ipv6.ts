/**
 * The EC2 model's IPv6 address actions: AssignIpv6Addresses (an address count, addresses, an /80 prefix
 * count or /80 prefixes; prefixes on Nitro instances only) and UnassignIpv6Addresses. An interface holds at
 * most its type's IPv6-per-interface limit of addresses and prefixes together (our table: the IPv4 limit).
 */
import { Ec2Error } from "../aws/ec2_port.ts";
import { normalizeCidr6 } from "../net/ipv6.ts";
import { countParam, type Ec2Store, need } from "./ec2_model_store.ts";
import type { EniRecord } from "./ec2_model_types.ts";
import type { Ipv6SubnetPool } from "./ec2_model_ipv6_pool.ts";

/** AssignIpv6Addresses' input as the model takes it. */
export interface AssignIpv6ModelInput {
  networkInterfaceId: string;
  ipv6AddressCount?: number;
  ipv6Addresses?: string[];
  ipv6PrefixCount?: number;
  ipv6Prefixes?: string[];
}

function bad(message: string, action: string, code = "InvalidParameterValue"): Ec2Error {
  return new Ec2Error(code, message, action);
}

/** The subnet's IPv6 pool, or EC2's refusal when the subnet has no IPv6 block. */
function poolOf(s: Ec2Store, eni: EniRecord, action: string): Ipv6SubnetPool {
  const pool = s.subnets.get(eni.subnetId)!.ipv6;
  if (!pool) throw bad(`The subnet ${eni.subnetId} does not have an IPv6 CIDR block.`, action);
  return pool;
}

/** Checks the one-form rule and the per-interface limit; returns how many are wanted. */
function checkForm(s: Ec2Store, eni: EniRecord, input: AssignIpv6ModelInput, action: string): number {
  countParam(input.ipv6AddressCount, "Ipv6AddressCount", action);
  countParam(input.ipv6PrefixCount, "Ipv6PrefixCount", action);
  const forms = [
    input.ipv6AddressCount,
    input.ipv6Addresses?.length,
    input.ipv6PrefixCount,
    input.ipv6Prefixes?.length,
  ]
    .filter((x) => x);
  if (!forms.length) {
    throw bad(
      "Either Ipv6Addresses, Ipv6AddressCount, Ipv6Prefixes or Ipv6PrefixCount must be specified.",
      action,
      "MissingParameter",
    );
  }
  if (forms.length > 1) {
    throw bad("Specify only one form of address assignment.", action, "InvalidParameterCombination");
  }
  const inst = eni.attachment ? s.instances.get(eni.attachment.instanceId) : undefined;
  const limit = inst ? inst.type.ipv4PerEni : s.unattachedIpLimit;
  const want = forms[0]!;
  if (eni.ipv6.size + eni.ipv6Prefixes.size + want > limit) {
    throw bad(
      `Number of IPv6 addresses and prefixes on ${eni.id} will exceed the limit of ${limit}${
        inst ? ` for ${inst.type.instanceType}` : ""
      }.`,
      action,
    );
  }
  if ((input.ipv6PrefixCount || input.ipv6Prefixes?.length) && inst && inst.type.hypervisor !== "nitro") {
    throw bad(
      `Prefix delegation is only supported on Nitro instances; ${inst.type.instanceType} is not`,
      action,
    );
  }
  return want;
}

function takePrefixes(
  pool: Ipv6SubnetPool,
  s: Ec2Store,
  input: AssignIpv6ModelInput,
  action: string,
): string[] {
  if (input.ipv6PrefixCount) {
    const got = pool.takePrefixes(input.ipv6PrefixCount, s.rng);
    if (!got) {
      throw bad(
        "The specified subnet does not have enough free cidr blocks to satisfy the request.",
        action,
        "InsufficientCidrBlocks",
      );
    }
    return got;
  }
  const out: string[] = [];
  for (const p of input.ipv6Prefixes!) {
    let c: string;
    try {
      c = normalizeCidr6(p);
    } catch {
      throw bad(`Invalid prefix ${p}`, action);
    }
    if (!pool.takePrefix(c)) {
      for (const q of out) pool.releasePrefix(q);
      throw bad(`The prefix ${p} is invalid for subnet ${pool.cidr}, or in use`, action);
    }
    out.push(c);
  }
  return out;
}

function takeAddresses(
  pool: Ipv6SubnetPool,
  s: Ec2Store,
  input: AssignIpv6ModelInput,
  action: string,
): string[] {
  if (input.ipv6AddressCount) return pool.takeAny(input.ipv6AddressCount, s.rng);
  const out: string[] = [];
  for (const ip of input.ipv6Addresses!) {
    if (!pool.contains(ip)) {
      for (const q of out) pool.release(q);
      throw bad(`Address ${ip} does not fall within the subnet's IPv6 range`, action);
    }
    if (!pool.take(ip)) {
      for (const q of out) pool.release(q);
      throw bad(`Address ${ip} is in use.`, action, "InvalidIPAddress.InUse");
    }
    out.push(ip);
  }
  return out;
}

/** AssignIpv6Addresses. */
export function assignIpv6Addresses(
  s: Ec2Store,
  input: AssignIpv6ModelInput,
): { ipv6Addresses: string[]; ipv6Prefixes: string[] } {
  const action = "AssignIpv6Addresses";
  s.settle();
  need(input.networkInterfaceId, "NetworkInterfaceId", action);
  const eni = s.eni(input.networkInterfaceId, action);
  const pool = poolOf(s, eni, action);
  checkForm(s, eni, input, action);
  const prefixMode = !!(input.ipv6PrefixCount || input.ipv6Prefixes?.length);
  const prefixes = prefixMode ? takePrefixes(pool, s, input, action) : [];
  const addrs = prefixMode ? [] : takeAddresses(pool, s, input, action);
  const now = s.now();
  for (const p of prefixes) eni.ipv6Prefixes.set(p, now);
  for (const ip of addrs) eni.ipv6.set(ip, now);
  s.emit({
    type: "ips-assigned",
    eniId: eni.id,
    instanceId: eni.attachment?.instanceId,
    ips: [],
    prefixes: [],
    ipv6: addrs,
    ipv6Prefixes: prefixes,
  });
  return { ipv6Addresses: addrs, ipv6Prefixes: prefixes };
}

/** UnassignIpv6Addresses: addresses and/or /80 prefixes the interface holds. */
export function unassignIpv6Addresses(
  s: Ec2Store,
  input: { networkInterfaceId: string; ipv6Addresses?: string[]; ipv6Prefixes?: string[] },
): { ipv6Addresses: string[]; ipv6Prefixes: string[] } {
  const action = "UnassignIpv6Addresses";
  s.settle();
  need(input.networkInterfaceId, "NetworkInterfaceId", action);
  const eni = s.eni(input.networkInterfaceId, action);
  const ips = input.ipv6Addresses ?? [];
  const pfx = (input.ipv6Prefixes ?? []).map((p) => {
    try {
      return normalizeCidr6(p);
    } catch {
      throw bad(`Invalid prefix ${p}`, action);
    }
  });
  if (!ips.length && !pfx.length) {
    throw bad("The request must contain the parameter Ipv6Addresses", action, "MissingParameter");
  }
  if (ips.some((ip) => !eni.ipv6.has(ip)) || pfx.some((p) => !eni.ipv6Prefixes.has(p))) {
    throw bad(`Some of the specified addresses or prefixes are not assigned to interface ${eni.id}`, action);
  }
  const pool = s.subnets.get(eni.subnetId)!.ipv6;
  for (const ip of ips) {
    eni.ipv6.delete(ip);
    pool?.release(ip);
  }
  for (const p of pfx) {
    eni.ipv6Prefixes.delete(p);
    pool?.releasePrefix(p);
  }
  s.emit({
    type: "ips-unassigned",
    eniId: eni.id,
    instanceId: eni.attachment?.instanceId,
    ips: [],
    prefixes: [],
    ipv6: ips,
    ipv6Prefixes: pfx,
  });
  return { ipv6Addresses: ips, ipv6Prefixes: pfx };
}
