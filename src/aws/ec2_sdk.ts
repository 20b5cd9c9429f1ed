/**
 * `SdkEc2`: the EC2 port over the real `@aws-sdk/client-ec2`. SDK retries are off (`maxAttempts: 1`): the
 * caller's limiter (`RateLimitedEc2`) owns retrying. API errors become `Ec2Error(code, message, action,
 * httpStatus)`; a call that got no HTTP answer (refused, reset, timed out) becomes `Ec2Error` with code
 * `NetworkError` and httpStatus 599, so it counts as retryable.
 */
import {
  type _InstanceType,
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
  type InstanceNetworkInterface as SdkInstanceEni,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface as SdkEni,
  type Tag as SdkTag,
  UnassignPrivateIpAddressesCommand,
} from "@aws-sdk/client-ec2";
import {
  type AssignPrivateIpsInput,
  type CreateNetworkInterfaceInput,
  Ec2Error,
  type Ec2Port,
  type Filter,
  type Instance,
  type InstanceTypeInfo,
  type NetworkInterface,
  type Subnet,
  type Tag,
  type UnassignPrivateIpsInput,
} from "./ec2_port.ts";

/** Options for `new SdkEc2(...)`. */
export interface SdkEc2Options {
  /** EC2 endpoint URL. Default `$AWS_EC2_ENDPOINT`, else the SDK's regional endpoint. */
  endpoint?: string;
  /** Region. Default `$AWS_REGION`, `$AWS_DEFAULT_REGION`, else `us-west-2`. */
  region?: string;
  /** Static credentials. Default: the SDK chain, or dummy ones when an endpoint is set and no AWS
   * credentials are configured (the lab does not check signatures). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
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

function hasAwsCredentials(): boolean {
  return [
    "AWS_ACCESS_KEY_ID",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  ]
    .some((n) => env(n) !== undefined);
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

/** Maps an SDK rejection to `Ec2Error`. */
export function toEc2Error(err: unknown, action: string): Ec2Error {
  if (err instanceof Ec2Error) return err;
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e?.$metadata?.httpStatusCode;
  if (status === undefined) {
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
    const credentials = opts.credentials ??
      (endpoint && !hasAwsCredentials() ? { accessKeyId: "lab", secretAccessKey: "lab" } : undefined);
    const timeout = opts.requestTimeoutMs ?? 10_000;
    this.client = new EC2Client({
      region,
      endpoint,
      credentials,
      maxAttempts: 1,
      requestHandler: { requestTimeout: timeout, connectionTimeout: Math.min(timeout, 3000) },
    });
  }

  /** Closes the SDK's HTTP agent. */
  destroy(): void {
    this.client.destroy();
  }

  async #send<T>(action: string, cmd: unknown): Promise<T> {
    try {
      return await this.client.send(cmd as never) as T;
    } catch (err) {
      throw toEc2Error(err, action);
    }
  }

  async describeInstances(instanceIds: string[]): Promise<Instance[]> {
    const out: Instance[] = [];
    let token: string | undefined;
    do {
      const r = await this.#send<import("@aws-sdk/client-ec2").DescribeInstancesCommandOutput>(
        "DescribeInstances",
        new DescribeInstancesCommand({
          InstanceIds: instanceIds.length ? instanceIds : undefined,
          NextToken: token,
        }),
      );
      for (const res of r.Reservations ?? []) {
        for (const i of res.Instances ?? []) {
          const az = i.Placement?.AvailabilityZone ?? "";
          out.push({
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
          });
        }
      }
      token = r.NextToken || undefined;
    } while (token);
    return out;
  }

  async describeInstanceTypes(types: string[]): Promise<InstanceTypeInfo[]> {
    const r = await this.#send<import("@aws-sdk/client-ec2").DescribeInstanceTypesCommandOutput>(
      "DescribeInstanceTypes",
      new DescribeInstanceTypesCommand({ InstanceTypes: types as _InstanceType[] }),
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

  async describeSubnets(input: { subnetIds?: string[]; filters?: Filter[] }): Promise<Subnet[]> {
    const out: Subnet[] = [];
    let token: string | undefined;
    do {
      const r = await this.#send<import("@aws-sdk/client-ec2").DescribeSubnetsCommandOutput>(
        "DescribeSubnets",
        new DescribeSubnetsCommand({
          SubnetIds: input.subnetIds?.length ? input.subnetIds : undefined,
          Filters: toSdkFilters(input.filters),
          NextToken: token,
        }),
      );
      for (const s of r.Subnets ?? []) {
        out.push({
          subnetId: s.SubnetId ?? "",
          vpcId: s.VpcId ?? "",
          cidrBlock: s.CidrBlock ?? "",
          availabilityZone: s.AvailabilityZone ?? "",
          availableIpAddressCount: s.AvailableIpAddressCount ?? 0,
          tags: fromSdkTags(s.Tags),
        });
      }
      token = r.NextToken || undefined;
    } while (token);
    return out;
  }

  async describeNetworkInterfaces(
    input: { networkInterfaceIds?: string[]; filters?: Filter[]; maxResults?: number },
  ): Promise<NetworkInterface[]> {
    const out: NetworkInterface[] = [];
    let token: string | undefined;
    do {
      const r = await this.#send<import("@aws-sdk/client-ec2").DescribeNetworkInterfacesCommandOutput>(
        "DescribeNetworkInterfaces",
        new DescribeNetworkInterfacesCommand({
          NetworkInterfaceIds: input.networkInterfaceIds?.length ? input.networkInterfaceIds : undefined,
          Filters: toSdkFilters(input.filters),
          MaxResults: input.maxResults,
          NextToken: token,
        }),
      );
      for (const e of r.NetworkInterfaces ?? []) out.push(fromSdkEni(e));
      token = r.NextToken || undefined;
    } while (token);
    return out;
  }

  async createNetworkInterface(input: CreateNetworkInterfaceInput): Promise<NetworkInterface> {
    const r = await this.#send<import("@aws-sdk/client-ec2").CreateNetworkInterfaceCommandOutput>(
      "CreateNetworkInterface",
      new CreateNetworkInterfaceCommand({
        SubnetId: input.subnetId,
        Description: input.description,
        Groups: input.securityGroupIds?.length ? input.securityGroupIds : undefined,
        SecondaryPrivateIpAddressCount: input.secondaryPrivateIpAddressCount,
        Ipv4PrefixCount: input.ipv4PrefixCount,
        TagSpecifications: input.tags?.length
          ? [{ ResourceType: "network-interface", Tags: toSdkTags(input.tags) }]
          : undefined,
      }),
    );
    if (!r.NetworkInterface) {
      throw new Ec2Error("InvalidResponse", "no networkInterface", "CreateNetworkInterface");
    }
    return fromSdkEni(r.NetworkInterface);
  }

  async attachNetworkInterface(
    input: { networkInterfaceId: string; instanceId: string; deviceIndex: number },
  ): Promise<{ attachmentId: string }> {
    const r = await this.#send<import("@aws-sdk/client-ec2").AttachNetworkInterfaceCommandOutput>(
      "AttachNetworkInterface",
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: input.networkInterfaceId,
        InstanceId: input.instanceId,
        DeviceIndex: input.deviceIndex,
      }),
    );
    return { attachmentId: r.AttachmentId ?? "" };
  }

  async detachNetworkInterface(input: { attachmentId: string; force?: boolean }): Promise<void> {
    await this.#send(
      "DetachNetworkInterface",
      new DetachNetworkInterfaceCommand({ AttachmentId: input.attachmentId, Force: input.force }),
    );
  }

  async deleteNetworkInterface(networkInterfaceId: string): Promise<void> {
    await this.#send(
      "DeleteNetworkInterface",
      new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: networkInterfaceId }),
    );
  }

  async modifyNetworkInterfaceAttribute(input: {
    networkInterfaceId: string;
    attachmentId?: string;
    deleteOnTermination?: boolean;
    sourceDestCheck?: boolean;
  }): Promise<void> {
    await this.#send(
      "ModifyNetworkInterfaceAttribute",
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: input.networkInterfaceId,
        Attachment: input.deleteOnTermination !== undefined
          ? { AttachmentId: input.attachmentId, DeleteOnTermination: input.deleteOnTermination }
          : undefined,
        SourceDestCheck: input.sourceDestCheck !== undefined ? { Value: input.sourceDestCheck } : undefined,
      }),
    );
  }

  async assignPrivateIpAddresses(
    input: AssignPrivateIpsInput,
  ): Promise<{ privateIps: string[]; ipv4Prefixes: string[] }> {
    const r = await this.#send<import("@aws-sdk/client-ec2").AssignPrivateIpAddressesCommandOutput>(
      "AssignPrivateIpAddresses",
      new AssignPrivateIpAddressesCommand({
        NetworkInterfaceId: input.networkInterfaceId,
        SecondaryPrivateIpAddressCount: input.secondaryPrivateIpAddressCount,
        PrivateIpAddresses: input.privateIpAddresses?.length ? input.privateIpAddresses : undefined,
        Ipv4PrefixCount: input.ipv4PrefixCount,
      }),
    );
    return {
      privateIps: (r.AssignedPrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress ?? ""),
      ipv4Prefixes: (r.AssignedIpv4Prefixes ?? []).map((p) => p.Ipv4Prefix ?? ""),
    };
  }

  async unassignPrivateIpAddresses(input: UnassignPrivateIpsInput): Promise<void> {
    await this.#send(
      "UnassignPrivateIpAddresses",
      new UnassignPrivateIpAddressesCommand({
        NetworkInterfaceId: input.networkInterfaceId,
        PrivateIpAddresses: input.privateIpAddresses?.length ? input.privateIpAddresses : undefined,
        Ipv4Prefixes: input.ipv4Prefixes?.length ? input.ipv4Prefixes : undefined,
      }),
    );
  }

  async createTags(resourceIds: string[], tags: Tag[]): Promise<void> {
    await this.#send("CreateTags", new CreateTagsCommand({ Resources: resourceIds, Tags: toSdkTags(tags) }));
  }
}
