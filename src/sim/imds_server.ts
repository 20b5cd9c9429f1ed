/**
 * The lab's IMDSv2: session tokens (`PUT /latest/api/token`, TTL 1–21600 s) required on every GET (no v1
 * fallback), instance chosen by the caller's source address, and ENIs/IPs showing up `imdsLagMs` after
 * EC2 attached/assigned them.
 */
import type { ImdsInterface } from "../aws/imds_port.ts";
import type { Ec2Model } from "./ec2_model.ts";
import { imdsTime, type LabIam } from "./iam.ts";
import type { Realism } from "./realism.ts";
import { remoteHost, type RemoteInfo } from "./ec2_server.ts";

/** How the IMDS handler finds the calling instance. */
export interface ImdsHandlerOptions {
  /** The instance behind a source address, or undefined (then 404 on instance paths). */
  instanceForRemote?(addr: string): string | undefined;
  /** A fixed instance, overriding `instanceForRemote` (tests, the lab socket's `/imds/<node>/`). */
  instanceId?: string;
  /** Lag override in ms; default `realism.imdsLagMs`. */
  lagMs?: number;
  /** The lab's IAM: serves `iam/info` and the instance role's credentials (absent: no `iam/`). */
  iam?: LabIam;
}

/** A fetch-style IMDS handler. */
export type ImdsHandler = (req: Request, info?: RemoteInfo) => Promise<Response>;

const TOKEN_PATH = "/latest/api/token";
const META = "/latest/meta-data/";
const IDENTITY = "/latest/dynamic/instance-identity/document";
const MAX_TTL = 21600;
const MAX_TOKENS = 10_000;

function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain", ...headers } });
}

function notFound(): Response {
  return new Response(
    `<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>404 - Not Found</title></head>` +
      `<body><h1>404 - Not Found</h1></body></html>\n`,
    { status: 404, headers: { "content-type": "text/html" } },
  );
}

/** Creates the IMDSv2 handler over the model. */
export function createImdsHandler(
  model: Ec2Model,
  opts: ImdsHandlerOptions = {},
  realism?: Realism,
): ImdsHandler {
  const tokens = new Map<string, { expiresAt: number; instanceId?: string }>();

  const callerInstance = (info?: RemoteInfo) => {
    if (opts.instanceId) return opts.instanceId;
    const host = remoteHost(info);
    return host ? opts.instanceForRemote?.(host) : undefined;
  };

  return (req: Request, info?: RemoteInfo): Promise<Response> => {
    const url = new URL(req.url);
    const now = model.now();
    const instanceId = callerInstance(info);
    if (url.pathname === TOKEN_PATH) {
      if (req.method !== "PUT") return Promise.resolve(text("", 405, { allow: "PUT" }));
      if (req.headers.has("x-forwarded-for")) return Promise.resolve(text("Forbidden", 403));
      const raw = req.headers.get("x-aws-ec2-metadata-token-ttl-seconds");
      const ttl = raw !== null && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!(ttl >= 1 && ttl <= MAX_TTL)) return Promise.resolve(text("Bad Request", 400));
      for (const [t, v] of tokens) if (v.expiresAt <= now || tokens.size > MAX_TOKENS) tokens.delete(t);
      const token = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(40))));
      tokens.set(token, { expiresAt: now + ttl * 1000, instanceId });
      return Promise.resolve(text(token, 200, { "x-aws-ec2-metadata-token-ttl-seconds": String(ttl) }));
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return Promise.resolve(text("", 405, { allow: "GET, PUT" }));
    }
    const token = req.headers.get("x-aws-ec2-metadata-token");
    const session = token ? tokens.get(token) : undefined;
    if (!session || session.expiresAt <= now || session.instanceId !== instanceId) {
      if (session && session.expiresAt <= now) tokens.delete(token!);
      return Promise.resolve(text("Unauthorized", 401));
    }
    const lag = opts.lagMs ?? realism?.imdsLagMs ?? 0;
    const body = !instanceId
      ? undefined
      : url.pathname === IDENTITY
      ? identityDocument(model, instanceId)
      : metadata(model, instanceId, url.pathname, now - lag, opts.iam);
    return Promise.resolve(body === undefined ? notFound() : text(body));
  };
}

const INTERFACE_KEYS = [
  "device-number",
  "interface-id",
  "ipv4-prefix",
  "ipv6-prefix",
  "ipv6s",
  "local-hostname",
  "local-ipv4s",
  "mac",
  "owner-id",
  "security-group-ids",
  "subnet-id",
  "subnet-ipv4-cidr-block",
  "subnet-ipv6-cidr-blocks",
  "vpc-id",
  "vpc-ipv4-cidr-block",
  "vpc-ipv4-cidr-blocks",
  "vpc-ipv6-cidr-blocks",
];

/**
 * The text at a metadata path, or undefined for 404. Every path answers the same with or without a trailing
 * slash, as real IMDS does for listings (`macs` and `macs/`) and for documents (`security-credentials/<role>/`).
 */
function metadata(
  model: Ec2Model,
  instanceId: string,
  path: string,
  visibleAt: number,
  iam?: LabIam,
): string | undefined {
  const inst = model.instanceRecord(instanceId);
  if (!inst || inst.state !== "running") return undefined;
  if (path !== META.slice(0, -1) && !path.startsWith(META)) return undefined;
  const rel = path.slice(META.length).replace(/\/+$/, "");
  const view: InstanceView = {
    model,
    instanceId,
    az: inst.availabilityZone,
    instanceType: inst.type.instanceType,
    enis: model.imdsInterfaces(instanceId, visibleAt),
    primary: model.attachedEnis(instanceId).find((e) => e.attachment?.deviceIndex === 0),
    iam,
  };
  return listing(view, rel)?.join("\n") ?? value(view, rel);
}

/** What the metadata paths of one instance read. */
interface InstanceView {
  model: Ec2Model;
  instanceId: string;
  az: string;
  instanceType: string;
  enis: ImdsInterface[];
  /** The primary ENI (device 0), when attached. */
  primary: { primaryIp: string; mac: string } | undefined;
  iam?: LabIam;
}

/** The entries of a listing path (sub-listings end in `/`), or undefined when `rel` is no listing. */
function listing(v: InstanceView, rel: string): string[] | undefined {
  switch (rel) {
    case "":
      return [
        ...(v.iam ? ["iam/"] : []),
        ...["instance-id", "instance-type"],
        ...(primaryIpv6(v) ? ["ipv6"] : []),
        ...["local-hostname", "local-ipv4", "mac", "network/", "placement/"],
      ];
    case "iam":
      return v.iam && ["info", "security-credentials/"];
    case "iam/security-credentials":
      return v.iam?.roles(v.instanceId);
    case "placement":
      return ["availability-zone", "region"];
    case "network":
      return ["interfaces/"];
    case "network/interfaces":
      return ["macs/"];
    case "network/interfaces/macs":
      return v.enis.map((e) => `${e.mac}/`);
  }
  const m = /^network\/interfaces\/macs\/([0-9a-f:]{17})$/.exec(rel);
  const eni = m && v.enis.find((e) => e.mac === m[1]);
  return eni ? INTERFACE_KEYS.filter((k) => interfaceValue(v.model, eni, k) !== undefined) : undefined;
}

/** `ipv6`: the first IPv6 address of the interface at device 0 (404 when it has none). */
function primaryIpv6(v: InstanceView): string | undefined {
  return v.enis.find((e) => e.deviceNumber === 0)?.ipv6s?.[0];
}

/** The value at a non-listing path, or undefined for 404. */
function value(v: InstanceView, rel: string): string | undefined {
  const { model, primary } = v;
  switch (rel) {
    case "instance-id":
      return v.instanceId;
    case "instance-type":
      return v.instanceType;
    case "local-ipv4":
      return primary?.primaryIp;
    case "ipv6":
      return primaryIpv6(v);
    case "local-hostname":
    case "hostname":
      return primary && `ip-${primary.primaryIp.replaceAll(".", "-")}.${model.region}.compute.internal`;
    case "mac":
      return primary?.mac;
    case "placement/availability-zone":
      return v.az;
    case "placement/region":
      return model.region;
    case "iam/info":
      return v.iam && imdsJson(v.iam.info(v.instanceId));
  }
  const role = /^iam\/security-credentials\/([^/]+)$/.exec(rel)?.[1];
  if (role) {
    return v.iam?.roles(v.instanceId).includes(role) ? roleCredentials(v.iam, v.instanceId) : undefined;
  }
  const m = /^network\/interfaces\/macs\/([0-9a-f:]{17})\/(.+)$/.exec(rel);
  const eni = m && v.enis.find((e) => e.mac === m[1]);
  return eni ? interfaceValue(model, eni, m[2]) : undefined;
}

/** IMDS's JSON layout: two-space indent, `"Key" : "value"`. */
function imdsJson(doc: Record<string, string>): string {
  return `{\n${Object.entries(doc).map(([k, x]) => `  "${k}" : ${JSON.stringify(x)}`).join(",\n")}\n}`;
}

/** `iam/security-credentials/<role>`: the role's current temporary credentials. */
function roleCredentials(iam: LabIam, instanceId: string): string {
  const k = iam.credentials(instanceId);
  return imdsJson({
    Code: "Success",
    LastUpdated: imdsTime(k.issuedAt),
    Type: "AWS-HMAC",
    AccessKeyId: k.accessKeyId,
    SecretAccessKey: k.secretAccessKey,
    Token: k.sessionToken!,
    Expiration: imdsTime(k.expiresAt!),
  });
}

/** A list value, one per line; absent (404) when empty, as IMDS leaves out a key with nothing to list. */
function lines(xs: string[] | undefined): string | undefined {
  return xs?.length ? xs.join("\n") : undefined;
}

/** One key under `network/interfaces/macs/<mac>/`. */
function interfaceValue(model: Ec2Model, eni: ImdsInterface, key: string): string | undefined {
  switch (key) {
    case "device-number":
      return String(eni.deviceNumber);
    case "interface-id":
      return eni.interfaceId;
    case "mac":
      return eni.mac;
    case "owner-id":
      return model.accountId;
    case "local-hostname":
      return `ip-${eni.localIpv4s[0].replaceAll(".", "-")}.${model.region}.compute.internal`;
    case "local-ipv4s":
      return eni.localIpv4s.join("\n");
    case "ipv4-prefix":
      return lines(eni.ipv4Prefixes);
    case "ipv6-prefix":
      return lines(eni.ipv6Prefixes);
    case "ipv6s":
      return lines(eni.ipv6s);
    case "subnet-ipv6-cidr-blocks":
      return lines(eni.subnetIpv6Cidrs);
    case "vpc-ipv6-cidr-blocks":
      return lines(eni.vpcIpv6Cidrs);
    case "security-group-ids":
      return eni.securityGroupIds.join("\n");
    case "subnet-id":
      return eni.subnetId;
    case "subnet-ipv4-cidr-block":
      return eni.subnetCidr;
    case "vpc-id":
      return model.vpcId;
    case "vpc-ipv4-cidr-block":
      return eni.vpcCidrs[0];
    case "vpc-ipv4-cidr-blocks":
      return eni.vpcCidrs.join("\n");
  }
  return undefined;
}

/** `/latest/dynamic/instance-identity/document`: the JSON some SDKs read the region from. */
function identityDocument(model: Ec2Model, instanceId: string): string | undefined {
  const inst = model.instanceRecord(instanceId);
  if (!inst || inst.state !== "running") return undefined;
  const primary = model.attachedEnis(instanceId).find((e) => e.attachment?.deviceIndex === 0);
  return JSON.stringify(
    {
      accountId: model.accountId,
      architecture: "x86_64",
      availabilityZone: inst.availabilityZone,
      imageId: "ami-0123456789abcdef0",
      instanceId,
      instanceType: inst.type.instanceType,
      pendingTime: new Date(inst.launchedAt).toISOString(),
      privateIp: primary?.primaryIp,
      region: model.region,
      version: "2017-09-30",
    },
    null,
    2,
  );
}
