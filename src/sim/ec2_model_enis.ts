/**
 * The EC2 model's network interfaces: CreateNetworkInterface, DeleteNetworkInterface,
 * ModifyNetworkInterfaceAttribute and DescribeNetworkInterfaces. Attaching is in ec2_model_attachments.ts,
 * addresses in ec2_model_ips.ts.
 */
import {
  type CreateNetworkInterfaceInput,
  Ec2Error,
  type Filter,
  type NetworkInterface,
} from "../aws/ec2_port.ts";
import { applyFilters, checkMaxResults, eniFilterValues, paginate } from "./ec2_model_filter.ts";
import { countParam, type Ec2Store, need } from "./ec2_model_store.ts";
import type { EniRecord } from "./ec2_model_types.ts";
import { eniView } from "./ec2_model_view.ts";

/** CreateNetworkInterface's input as the model takes it. */
export type CreateEniInput = CreateNetworkInterfaceInput & { privateIpAddress?: string };

/** DescribeNetworkInterfaces' input (one page). */
export interface DescribeEnisInput {
  networkInterfaceIds?: string[];
  filters?: Filter[];
  maxResults?: number;
  nextToken?: string;
}

/** ModifyNetworkInterfaceAttribute's input. */
export interface ModifyEniInput {
  networkInterfaceId: string;
  attachmentId?: string;
  deleteOnTermination?: boolean;
  sourceDestCheck?: boolean;
  description?: string;
  securityGroupIds?: string[];
}

function checkGroups(s: Ec2Store, groups: string[] | undefined, action: string): void {
  for (const g of groups ?? []) {
    if (!s.groups.has(g)) {
      throw new Ec2Error("InvalidGroup.NotFound", `The security group '${g}' does not exist`, action);
    }
  }
}

/**
 * CreateNetworkInterface (optionally with secondary IPs or /28 prefixes and tags). With a ClientToken already
 * bound to an identical call, the ENI that call made (as it is now, or as it was if deleted since), and nothing
 * new; see ec2_model_client_tokens.ts.
 */
export function createNetworkInterface(s: Ec2Store, input: CreateEniInput): NetworkInterface {
  const action = "CreateNetworkInterface";
  const token = input.clientToken;
  const params = input as unknown as Record<string, unknown>;
  const prior = token ? s.clientTokens.replay(action, token, params, s.now()) : undefined;
  if (prior) {
    const eni = s.enis.get(prior.resourceId);
    return eni ? eniView(eni, s.vpcId) : structuredClone(prior.result as NetworkInterface);
  }
  const made = makeNetworkInterface(s, input);
  if (token) s.clientTokens.bind(action, token, params, made.networkInterfaceId, made, s.now());
  return made;
}

function makeNetworkInterface(s: Ec2Store, input: CreateEniInput): NetworkInterface {
  const action = "CreateNetworkInterface";
  need(input.subnetId, "SubnetId");
  countParam(input.secondaryPrivateIpAddressCount, "SecondaryPrivateIpAddressCount");
  countParam(input.ipv4PrefixCount, "Ipv4PrefixCount");
  if (input.secondaryPrivateIpAddressCount && input.ipv4PrefixCount) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      "SecondaryPrivateIpAddressCount and Ipv4PrefixCount cannot be used together",
      action,
    );
  }
  const subnet = s.subnet(input.subnetId, action);
  checkGroups(s, input.securityGroupIds, action);
  const extra = (input.secondaryPrivateIpAddressCount ?? 0) + (input.ipv4PrefixCount ?? 0);
  if (1 + extra > s.unattachedIpLimit) {
    throw new Ec2Error(
      "PrivateIpAddressLimitExceeded",
      `Number of private addresses will exceed limit of ${s.unattachedIpLimit}.`,
      action,
    );
  }
  const needIps = 1 + (input.secondaryPrivateIpAddressCount ?? 0);
  if (subnet.pool.available < needIps) throw s.insufficient(subnet, action);
  const eni = s.makeEni(subnet, {
    description: input.description ?? "",
    securityGroupIds: input.securityGroupIds,
    privateIpAddress: input.privateIpAddress,
    tags: input.tags,
  }, action);
  const now = s.now();
  if (input.secondaryPrivateIpAddressCount) {
    for (const ip of subnet.pool.takeAny(input.secondaryPrivateIpAddressCount, s.rng)!) {
      eni.secondary.set(ip, now);
    }
  }
  if (input.ipv4PrefixCount) {
    const p = subnet.pool.takePrefixes(input.ipv4PrefixCount, s.rng);
    if (!p) {
      s.destroyEni(eni, false);
      throw new Ec2Error(
        "InsufficientCidrBlocks",
        "The specified subnet does not have enough free cidr blocks to satisfy the request.",
        action,
      );
    }
    for (const x of p) eni.prefixes.set(x, now);
  }
  return eniView(eni, s.vpcId);
}

/**
 * The ENIs the filters can match at all: from an index when a filter pins the instance or asks for available
 * ENIs only (exact values), else every ENI. The filters themselves still decide.
 */
function candidates(s: Ec2Store, filters: Filter[] | undefined): EniRecord[] {
  const exact = (f: Filter | undefined) => f && f.values.every((v) => !/[*?]/.test(v)) ? f.values : undefined;
  const instances = exact(filters?.find((f) => f.name === "attachment.instance-id"));
  if (instances) return [...new Set(instances)].flatMap((id) => s.attachedTo(id));
  const status = exact(filters?.find((f) => f.name === "status"));
  if (status && status.every((v) => v === "available")) return s.unattached();
  return [...s.enis.values()];
}

/** DescribeNetworkInterfaces, one page. */
export function describeNetworkInterfaces(
  s: Ec2Store,
  input: DescribeEnisInput,
): { networkInterfaces: NetworkInterface[]; nextToken?: string } {
  const action = "DescribeNetworkInterfaces";
  s.settle();
  checkMaxResults(input.maxResults);
  const recs = input.networkInterfaceIds?.length
    ? input.networkInterfaceIds.map((id) => described(s, id, action))
    : candidates(s, input.filters).filter((e) => s.described(e));
  const withViews = recs.map((r) => ({ seq: r.seq, v: s.describeView(r) }));
  const kept = applyFilters(withViews, input.filters, (x, name) => eniFilterValues(x?.v ?? null, name));
  const page = paginate(kept, (x) => x.seq, input.maxResults, input.nextToken);
  return { networkInterfaces: page.items.map((x) => x.v), nextToken: page.nextToken };
}

/** The ENI by ID if Describe* show it yet; NotFound as for an unknown ID otherwise (eventual consistency). */
function described(s: Ec2Store, id: string, action: string): EniRecord {
  const e = s.eni(id, action);
  if (!s.described(e)) throw s.eniNotFound(id, action);
  return e;
}

/** DeleteNetworkInterface (only when not attached). */
export function deleteNetworkInterface(s: Ec2Store, networkInterfaceId: string): void {
  const action = "DeleteNetworkInterface";
  s.settle();
  need(networkInterfaceId, "NetworkInterfaceId");
  const eni = s.eni(networkInterfaceId, action);
  if (eni.attachment) {
    throw new Ec2Error(
      "InvalidNetworkInterface.InUse",
      `The network interface '${eni.id}' is currently in use.`,
      action,
    );
  }
  s.destroyEni(eni);
}

/** ModifyNetworkInterfaceAttribute: Attachment.DeleteOnTermination, SourceDestCheck, Description, groups. */
export function modifyNetworkInterfaceAttribute(s: Ec2Store, input: ModifyEniInput): void {
  const action = "ModifyNetworkInterfaceAttribute";
  s.settle();
  need(input.networkInterfaceId, "NetworkInterfaceId");
  const eni = s.eni(input.networkInterfaceId, action);
  const any = input.deleteOnTermination !== undefined || input.sourceDestCheck !== undefined ||
    input.description !== undefined || input.securityGroupIds !== undefined;
  if (!any) throw new Ec2Error("MissingParameter", "No attribute specified.", action);
  if (input.deleteOnTermination !== undefined) {
    need(input.attachmentId, "Attachment.AttachmentId");
    if (!eni.attachment || eni.attachment.id !== input.attachmentId) {
      throw new Ec2Error(
        "InvalidAttachmentID.NotFound",
        `The attachment ID '${input.attachmentId}' does not exist`,
        action,
      );
    }
    eni.attachment.deleteOnTermination = input.deleteOnTermination;
  }
  checkGroups(s, input.securityGroupIds, action);
  if (input.securityGroupIds) eni.securityGroupIds = [...input.securityGroupIds];
  if (input.sourceDestCheck !== undefined) eni.sourceDestCheck = input.sourceDestCheck;
  if (input.description !== undefined) eni.description = input.description;
}
