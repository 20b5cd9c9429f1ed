/** The address actions of the EC2 model: AssignPrivateIpAddresses and UnassignPrivateIpAddresses. */
import { Ec2Error } from "../aws/ec2_port.ts";
import { expandCidr } from "../net/ipv4.ts";
import { countParam, type Ec2Store, need, type SubnetRecord } from "./ec2_model_store.ts";
import type { EniRecord, InstanceRecord } from "./ec2_model_types.ts";

/** AssignPrivateIpAddresses' input as the model takes it. */
export interface AssignPrivateIpsModelInput {
  networkInterfaceId: string;
  secondaryPrivateIpAddressCount?: number;
  privateIpAddresses?: string[];
  ipv4PrefixCount?: number;
  ipv4Prefixes?: string[];
}

/** AssignPrivateIpAddresses: a count, explicit addresses, or /28 prefixes (Nitro only). */
export function assignPrivateIps(
  s: Ec2Store,
  input: AssignPrivateIpsModelInput,
): { privateIps: string[]; ipv4Prefixes: string[] } {
  const action = "AssignPrivateIpAddresses";
  s.settle();
  need(input.networkInterfaceId, "NetworkInterfaceId");
  countParam(input.secondaryPrivateIpAddressCount, "SecondaryPrivateIpAddressCount");
  countParam(input.ipv4PrefixCount, "Ipv4PrefixCount");
  const eni = s.eni(input.networkInterfaceId, action);
  const subnet = s.subnets.get(eni.subnetId)!;
  const prefixForm = assignmentForm(input, action) === "prefixes";
  const inst = eni.attachment ? s.instances.get(eni.attachment.instanceId) : undefined;
  checkAddressLimit(s, eni, inst, input, action);
  const now = s.now();
  if (prefixForm) {
    const got = takePrefixes(s, subnet, inst, input, action);
    for (const p of got) eni.prefixes.set(p, now);
    s.undescribed(eni, got);
    s.emit({
      type: "ips-assigned",
      eniId: eni.id,
      instanceId: eni.attachment?.instanceId,
      ips: got.flatMap((p) => expandCidr(p)),
      prefixes: got,
    });
    return { privateIps: [], ipv4Prefixes: got };
  }
  const ips = takeAddresses(s, subnet, input, action);
  for (const ip of ips) eni.secondary.set(ip, now);
  s.undescribed(eni, ips);
  s.emit({
    type: "ips-assigned",
    eniId: eni.id,
    instanceId: eni.attachment?.instanceId,
    ips,
    prefixes: [],
  });
  return { privateIps: ips, ipv4Prefixes: [] };
}

/** Which one form of assignment the request uses; EC2's error when it names none or several. */
function assignmentForm(input: AssignPrivateIpsModelInput, action: string): "addresses" | "prefixes" {
  const ipForm = (input.secondaryPrivateIpAddressCount ? 1 : 0) +
    (input.privateIpAddresses?.length ? 1 : 0);
  const pfxForm = (input.ipv4PrefixCount ? 1 : 0) + (input.ipv4Prefixes?.length ? 1 : 0);
  if (ipForm + pfxForm === 0) {
    throw new Ec2Error(
      "MissingParameter",
      "Either PrivateIpAddress, SecondaryPrivateIpAddressCount, Ipv4Prefix or Ipv4PrefixCount must be specified.",
      action,
    );
  }
  if (ipForm + pfxForm > 1) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      "Specify only one form of address assignment.",
      action,
    );
  }
  return pfxForm ? "prefixes" : "addresses";
}

/** The ENI's addresses and prefixes (primary included) may not pass the instance type's per-ENI limit. */
function checkAddressLimit(
  s: Ec2Store,
  eni: EniRecord,
  inst: InstanceRecord | undefined,
  input: AssignPrivateIpsModelInput,
  action: string,
): void {
  const limit = inst ? inst.type.ipv4PerEni : s.unattachedIpLimit;
  const have = 1 + eni.secondary.size + eni.prefixes.size;
  const want = input.secondaryPrivateIpAddressCount ?? input.privateIpAddresses?.length ??
    input.ipv4PrefixCount ?? input.ipv4Prefixes!.length;
  if (have + want > limit) {
    throw new Ec2Error(
      "PrivateIpAddressLimitExceeded",
      `Number of private addresses will exceed limit of ${limit}${
        inst ? ` for ${inst.type.instanceType}` : ""
      }.`,
      action,
    );
  }
}

/** /28 prefixes from the subnet: the ones named, or a count of free ones (Nitro instances only). */
function takePrefixes(
  s: Ec2Store,
  subnet: SubnetRecord,
  inst: InstanceRecord | undefined,
  input: AssignPrivateIpsModelInput,
  action: string,
): string[] {
  if (inst && inst.type.hypervisor !== "nitro") {
    throw new Ec2Error(
      "InvalidParameterValue",
      `Prefix delegation is only supported on Nitro instances; ${inst.type.instanceType} is not`,
      action,
    );
  }
  if (input.ipv4Prefixes?.length) return s.takeExplicitPrefixes(subnet, input.ipv4Prefixes, action);
  const got = subnet.pool.takePrefixes(input.ipv4PrefixCount!, s.rng);
  if (!got) {
    throw new Ec2Error(
      "InsufficientCidrBlocks",
      "The specified subnet does not have enough free cidr blocks to satisfy the request.",
      action,
    );
  }
  return got;
}

/** Addresses from the subnet: the ones named (each in range, free, once), or a count of free ones. */
function takeAddresses(
  s: Ec2Store,
  subnet: SubnetRecord,
  input: AssignPrivateIpsModelInput,
  action: string,
): string[] {
  if (!input.privateIpAddresses?.length) {
    const got = subnet.pool.takeAny(input.secondaryPrivateIpAddressCount!, s.rng);
    if (!got) throw s.insufficient(subnet, action);
    return got;
  }
  for (const ip of input.privateIpAddresses) {
    if (!subnet.pool.contains(ip)) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Address ${ip} does not fall within the subnet's address range`,
        action,
      );
    }
    if (!subnet.pool.isFree(ip)) {
      throw new Ec2Error("InvalidIPAddress.InUse", `Address ${ip} is in use.`, action);
    }
  }
  if (new Set(input.privateIpAddresses).size !== input.privateIpAddresses.length) {
    throw new Ec2Error("InvalidParameterValue", "Duplicate addresses in the request.", action);
  }
  for (const ip of input.privateIpAddresses) subnet.pool.take(ip);
  return [...input.privateIpAddresses];
}

/** UnassignPrivateIpAddresses: secondary addresses and/or /28 prefixes. */
export function unassignPrivateIps(
  s: Ec2Store,
  input: { networkInterfaceId: string; privateIpAddresses?: string[]; ipv4Prefixes?: string[] },
): void {
  const action = "UnassignPrivateIpAddresses";
  s.settle();
  need(input.networkInterfaceId, "NetworkInterfaceId");
  const eni = s.eni(input.networkInterfaceId, action);
  const ips = input.privateIpAddresses ?? [];
  const pfx = input.ipv4Prefixes ?? [];
  if (!ips.length && !pfx.length) {
    throw new Ec2Error(
      "MissingParameter",
      "The request must contain the parameter PrivateIpAddress",
      action,
    );
  }
  for (const ip of ips) {
    if (ip === eni.primaryIp) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `The primary address ${ip} cannot be unassigned.`,
        action,
      );
    }
    if (!eni.secondary.has(ip)) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Some of the specified addresses are not assigned to interface ${eni.id}`,
        action,
      );
    }
  }
  for (const p of pfx) {
    if (!eni.prefixes.has(p)) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Some of the specified prefixes are not assigned to interface ${eni.id}`,
        action,
      );
    }
  }
  const subnet = s.subnets.get(eni.subnetId)!;
  for (const ip of ips) {
    eni.secondary.delete(ip);
    eni.undescribed.delete(ip);
    subnet.pool.release(ip);
  }
  for (const p of pfx) {
    eni.prefixes.delete(p);
    eni.undescribed.delete(p);
    subnet.pool.releasePrefix(p);
  }
  s.emit({
    type: "ips-unassigned",
    eniId: eni.id,
    instanceId: eni.attachment?.instanceId,
    ips: [...ips, ...pfx.flatMap((p) => expandCidr(p))],
    prefixes: [...pfx],
  });
}
