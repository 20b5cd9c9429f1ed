/**
 * `SdkEc2`: the EC2 port over the real `@aws-sdk/client-ec2`. Credentials come from the SDK's default chain
 * only (environment, shared files, web identity, container, then the instance role from IMDS), as on a real
 * node. SDK retries are off (`maxAttempts: 1`): the caller's limiter (`RateLimitedEc2`) owns retrying. API
 * errors become `Ec2Error(code, message, action, httpStatus)`; a call that got no complete HTTP answer
 * (refused, reset, timed out, cut off mid-body) becomes `Ec2Error` with code `NetworkError` and httpStatus 599,
 * so it counts as retryable.
 */
import {
  type _InstanceType,
  AssignIpv6AddressesCommand,
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
  type Filter as SdkFilter,
  type Instance as SdkInstance,
  type InstanceNetworkInterface as SdkInstanceEni,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface as SdkEni,
  type Tag as SdkTag,
  UnassignIpv6AddressesCommand,
  UnassignPrivateIpAddressesCommand,
} from "@aws-sdk/client-ec2";
import {
  type AssignIpv6AddressesInput,
  type AssignPrivateIpsInput,
  type AttachNetworkInterfaceInput,
  type CreateNetworkInterfaceInput,
  type DescribeNetworkInterfacesInput,
  type DescribeSubnetsInput,
  type DetachNetworkInterfaceInput,
  Ec2Error,
  type Ec2Port,
  type Filter,
  type Instance,
  type InstanceTypeInfo,
  type ModifyNetworkInterfaceAttributeInput,
  type NetworkInterface,
  type Subnet,
  type Tag,
  type UnassignIpv6AddressesInput,
  type UnassignPrivateIpsInput,
} from "./ec2_port.ts";

/** Options for `new SdkEc2(...)`. */
export interface SdkEc2Options {
  /** EC2 endpoint URL. Default `$AWS_EC2_ENDPOINT` (upstream's), else the SDK's (`$AWS_ENDPOINT_URL_EC2`, or
   * the regional endpoint). */
  endpoint?: string;
  /** Region. Default `$AWS_REGION`, `$AWS_DEFAULT_REGION`, else `us-west-2`. */
  region?: string;
  /** Per-request timeout in ms. Default 10 000. */
  requestTimeoutMs?: number;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

/** Follows `NextToken`: asks for pages until one comes back without a token; every page's items, in order. */
export async function paginate<P extends { NextToken?: string }, T>(
  page: (token: string | undefined) => Promise<P>,
  items: (p: P) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const p = await page(token);
    out.push(...items(p));
    token = p.NextToken || undefined;
  } while (token);
  return out;
}

const toSdkFilters = (f?: Filter[]): SdkFilter[] | undefined =>
  f?.length ? f.map((x) => ({ Name: x.name, Values: x.values })) : undefined;
const toSdkTags = (t: Tag[]): SdkTag[] => t.map((x) => ({ Key: x.key, Value: x.value }));
const fromSdkTags = (t?: SdkTag[]): Tag[] =>
  (t ?? []).map((x) => ({ key: x.Key ?? "", value: x.Value ?? "" }));

function fromSdkEni(e: SdkEni | SdkInstanceEni, az = ""): NetworkInterface {
  const a = e.Attachment;
  const ips = (e.PrivateIpAddresses ?? []).map((p) => ({
    address: p.PrivateIpAddress ?? "",
    primary: !!p.Primary,
  }));
  return {
    networkInterfaceId: e.NetworkInterfaceId ?? "",
    subnetId: e.SubnetId ?? "",
    vpcId: e.VpcId ?? "",
    availabilityZone: "AvailabilityZone" in e ? e.AvailabilityZone ?? az : az,
    macAddress: e.MacAddress ?? "",
    description: e.Description ?? "",
    status: (e.Status ?? "available") as NetworkInterface["status"],
    privateIpAddress: e.PrivateIpAddress ?? ips.find((p) => p.primary)?.address ?? "",
    privateIps: ips,
    ipv4Prefixes: (e.Ipv4Prefixes ?? []).map((p) => p.Ipv4Prefix ?? ""),
    ...(e.Ipv6Addresses?.length || e.Ipv6Prefixes?.length
      ? {
        ipv6Addresses: (e.Ipv6Addresses ?? []).map((a) => a.Ipv6Address ?? ""),
        ipv6Prefixes: (e.Ipv6Prefixes ?? []).map((p) => p.Ipv6Prefix ?? ""),
      }
      : {}),
    securityGroupIds: (e.Groups ?? []).map((g) => g.GroupId ?? ""),
    attachment: a?.AttachmentId
      ? {
        attachmentId: a.AttachmentId,
        instanceId: "InstanceId" in a ? a.InstanceId ?? "" : "",
        deviceIndex: a.DeviceIndex ?? 0,
        status: (a.Status ?? "attached") as "attached",
        deleteOnTermination: !!a.DeleteOnTermination,
        attachTime: a.AttachTime?.toISOString(),
      }
      : undefined,
    tags: fromSdkTags("TagSet" in e ? e.TagSet : undefined),
    sourceDestCheck: e.SourceDestCheck ?? true,
  };
}

function fromSdkInstance(i: SdkInstance): Instance {
  const az = i.Placement?.AvailabilityZone ?? "";
  return {
    instanceId: i.InstanceId ?? "",
    instanceType: i.InstanceType ?? "",
    availabilityZone: az,
    subnetId: i.SubnetId ?? "",
    vpcId: i.VpcId ?? "",
    privateIpAddress: i.PrivateIpAddress ?? "",
    networkInterfaces: (i.NetworkInterfaces ?? []).map((e) => {
      const eni = fromSdkEni(e, az);
      if (eni.attachment) eni.attachment.instanceId = i.InstanceId ?? "";
      return eni;
    }),
  };
}

/** Maps an SDK rejection to `Ec2Error`. */
export function toEc2Error(err: unknown, action: string): Ec2Error {
  if (err instanceof Ec2Error) return err;
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $fault?: "client" | "server";
    $metadata?: { httpStatusCode?: number };
  };
  const status = e?.$metadata?.httpStatusCode;
  // No answer, or one that broke off (EC2's errors carry `$fault`; a body that could not be read does not):
  // whether the call took effect is unknown, so it is a retryable NetworkError.
  if (status === undefined || !e.$fault) {
    return new Ec2Error("NetworkError", e?.message ?? String(err), action, 599);
  }
  const code = e.Code ?? e.name ?? "Unknown";
  return new Ec2Error(code, e.message ?? code, action, status);
}

/** The EC2 port over `@aws-sdk/client-ec2`. */
export class SdkEc2 implements Ec2Port {
  readonly client: EC2Client;

  constructor(opts: SdkEc2Options = {}) {
    const endpoint = opts.endpoint ?? env("AWS_EC2_ENDPOINT");
    const region = opts.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? "us-west-2";
    const timeout = opts.requestTimeoutMs ?? 10_000;
    this.client = new EC2Client({
      region,
      ...(endpoint ? { endpoint } : {}),
      maxAttempts: 1,
      requestHandler: { requestTimeout: timeout, connectionTimeout: Math.min(timeout, 3000) },
    });
  }

  /** Closes the SDK's HTTP agent. */
  destroy(): void {
    this.client.destroy();
  }

  /** Runs one SDK call, mapping its rejection to `Ec2Error`. */
  async #call<T>(action: string, send: (client: EC2Client) => Promise<T>): Promise<T> {
    try {
      return await send(this.client);
    } catch (err) {
      throw toEc2Error(err, action);
    }
  }

  describeInstances(instanceIds: string[]): Promise<Instance[]> {
    return paginate(
      (token) =>
        this.#call("DescribeInstances", (c) =>
          c.send(
            new DescribeInstancesCommand({
              InstanceIds: instanceIds.length ? instanceIds : undefined,
              NextToken: token,
            }),
          )),
      (page) => (page.Reservations ?? []).flatMap((res) => (res.Instances ?? []).map(fromSdkInstance)),
    );
  }

  async describeInstanceTypes(types: string[]): Promise<InstanceTypeInfo[]> {
    const r = await this.#call(
      "DescribeInstanceTypes",
      (c) => c.send(new DescribeInstanceTypesCommand({ InstanceTypes: types as _InstanceType[] })),
    );
    return (r.InstanceTypes ?? []).map((t) => ({
      instanceType: t.InstanceType ?? "",
      maxEnis: t.NetworkInfo?.MaximumNetworkInterfaces ?? 0,
      ipv4PerEni: t.NetworkInfo?.Ipv4AddressesPerInterface ?? 0,
      vcpus: t.VCpuInfo?.DefaultVCpus ?? 0,
      hypervisor: t.Hypervisor === "nitro" ? "nitro" : "xen",
      networkCards: t.NetworkInfo?.MaximumNetworkCards,
    }));
  }

  describeSubnets(input: DescribeSubnetsInput): Promise<Subnet[]> {
    return paginate(
      (token) =>
        this.#call("DescribeSubnets", (c) =>
          c.send(
            new DescribeSubnetsCommand({
              SubnetIds: input.subnetIds?.length ? input.subnetIds : undefined,
              Filters: toSdkFilters(input.filters),
              NextToken: token,
            }),
          )),
      (page) =>
        (page.Subnets ?? []).map((s) => ({
          subnetId: s.SubnetId ?? "",
          vpcId: s.VpcId ?? "",
          cidrBlock: s.CidrBlock ?? "",
          availabilityZone: s.AvailabilityZone ?? "",
          availableIpAddressCount: s.AvailableIpAddressCount ?? 0,
          tags: fromSdkTags(s.Tags),
          ...(s.Ipv6CidrBlockAssociationSet?.length
            ? {
              ipv6CidrBlocks: s.Ipv6CidrBlockAssociationSet
                .filter((a) => a.Ipv6CidrBlockState?.State === "associated")
                .map((a) => a.Ipv6CidrBlock ?? ""),
              assignIpv6AddressOnCreation: !!s.AssignIpv6AddressOnCreation,
            }
            : {}),
        })),
    );
  }

  describeNetworkInterfaces(input: DescribeNetworkInterfacesInput): Promise<NetworkInterface[]> {
    return paginate(
      (token) =>
        this.#call("DescribeNetworkInterfaces", (c) =>
          c.send(
            new DescribeNetworkInterfacesCommand({
              NetworkInterfaceIds: input.networkInterfaceIds?.length ? input.networkInterfaceIds : undefined,
              Filters: toSdkFilters(input.filters),
              MaxResults: input.maxResults,
              NextToken: token,
            }),
          )),
      (page) => (page.NetworkInterfaces ?? []).map((e) => fromSdkEni(e)),
    );
  }

  async createNetworkInterface(input: CreateNetworkInterfaceInput): Promise<NetworkInterface> {
    const r = await this.#call("CreateNetworkInterface", (c) =>
      c.send(
        new CreateNetworkInterfaceCommand({
          ClientToken: input.clientToken,
          SubnetId: input.subnetId,
          Description: input.description,
          Groups: input.securityGroupIds?.length ? input.securityGroupIds : undefined,
          SecondaryPrivateIpAddressCount: input.secondaryPrivateIpAddressCount,
          Ipv4PrefixCount: input.ipv4PrefixCount,
          TagSpecifications: input.tags?.length
            ? [{ ResourceType: "network-interface", Tags: toSdkTags(input.tags) }]
            : undefined,
        }),
      ));
    if (!r.NetworkInterface) {
      throw new Ec2Error("InvalidResponse", "no networkInterface", "CreateNetworkInterface");
    }
    return fromSdkEni(r.NetworkInterface);
  }

  async attachNetworkInterface(input: AttachNetworkInterfaceInput): Promise<{ attachmentId: string }> {
    const r = await this.#call("AttachNetworkInterface", (c) =>
      c.send(
        new AttachNetworkInterfaceCommand({
          NetworkInterfaceId: input.networkInterfaceId,
          InstanceId: input.instanceId,
          DeviceIndex: input.deviceIndex,
        }),
      ));
    return { attachmentId: r.AttachmentId ?? "" };
  }

  async detachNetworkInterface(input: DetachNetworkInterfaceInput): Promise<void> {
    await this.#call(
      "DetachNetworkInterface",
      (c) =>
        c.send(new DetachNetworkInterfaceCommand({ AttachmentId: input.attachmentId, Force: input.force })),
    );
  }

  async deleteNetworkInterface(networkInterfaceId: string): Promise<void> {
    await this.#call(
      "DeleteNetworkInterface",
      (c) => c.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: networkInterfaceId })),
    );
  }

  async modifyNetworkInterfaceAttribute(input: ModifyNetworkInterfaceAttributeInput): Promise<void> {
    await this.#call("ModifyNetworkInterfaceAttribute", (c) =>
      c.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: input.networkInterfaceId,
          Attachment: input.deleteOnTermination !== undefined
            ? { AttachmentId: input.attachmentId, DeleteOnTermination: input.deleteOnTermination }
            : undefined,
          SourceDestCheck: input.sourceDestCheck !== undefined ? { Value: input.sourceDestCheck } : undefined,
        }),
      ));
  }

  async assignPrivateIpAddresses(
    input: AssignPrivateIpsInput,
  ): Promise<{ privateIps: string[]; ipv4Prefixes: string[] }> {
    const r = await this.#call("AssignPrivateIpAddresses", (c) =>
      c.send(
        new AssignPrivateIpAddressesCommand({
          NetworkInterfaceId: input.networkInterfaceId,
          SecondaryPrivateIpAddressCount: input.secondaryPrivateIpAddressCount,
          PrivateIpAddresses: input.privateIpAddresses?.length ? input.privateIpAddresses : undefined,
          Ipv4PrefixCount: input.ipv4PrefixCount,
        }),
      ));
    return {
      privateIps: (r.AssignedPrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress ?? ""),
      ipv4Prefixes: (r.AssignedIpv4Prefixes ?? []).map((p) => p.Ipv4Prefix ?? ""),
    };
  }

  async unassignPrivateIpAddresses(input: UnassignPrivateIpsInput): Promise<void> {
    await this.#call("UnassignPrivateIpAddresses", (c) =>
      c.send(
        new UnassignPrivateIpAddressesCommand({
          NetworkInterfaceId: input.networkInterfaceId,
          PrivateIpAddresses: input.privateIpAddresses?.length ? input.privateIpAddresses : undefined,
          Ipv4Prefixes: input.ipv4Prefixes?.length ? input.ipv4Prefixes : undefined,
        }),
      ));
  }

  async assignIpv6Addresses(
    input: AssignIpv6AddressesInput,
  ): Promise<{ ipv6Addresses: string[]; ipv6Prefixes: string[] }> {
    const r = await this.#call("AssignIpv6Addresses", (c) =>
      c.send(
        new AssignIpv6AddressesCommand({
          NetworkInterfaceId: input.networkInterfaceId,
          Ipv6AddressCount: input.ipv6AddressCount,
          Ipv6Addresses: input.ipv6Addresses?.length ? input.ipv6Addresses : undefined,
          Ipv6PrefixCount: input.ipv6PrefixCount,
          Ipv6Prefixes: input.ipv6Prefixes?.length ? input.ipv6Prefixes : undefined,
        }),
      ));
    return { ipv6Addresses: r.AssignedIpv6Addresses ?? [], ipv6Prefixes: r.AssignedIpv6Prefixes ?? [] };
  }

  async unassignIpv6Addresses(input: UnassignIpv6AddressesInput): Promise<void> {
    await this.#call("UnassignIpv6Addresses", (c) =>
      c.send(
        new UnassignIpv6AddressesCommand({
          NetworkInterfaceId: input.networkInterfaceId,
          Ipv6Addresses: input.ipv6Addresses?.length ? input.ipv6Addresses : undefined,
          Ipv6Prefixes: input.ipv6Prefixes?.length ? input.ipv6Prefixes : undefined,
        }),
      ));
  }

  async createTags(resourceIds: string[], tags: Tag[]): Promise<void> {
    await this.#call(
      "CreateTags",
      (c) => c.send(new CreateTagsCommand({ Resources: resourceIds, Tags: toSdkTags(tags) })),
    );
  }
}
