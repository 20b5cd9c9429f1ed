/**
 * The lab's EC2 Query API: a fetch-style handler over the model. Form-encoded POST (or GET query string)
 * with `Action` and `Version`; XML answers in EC2's shapes; EC2's XML errors and HTTP statuses (400 client,
 * 503 RequestLimitExceeded, 500 InternalError). With the lab's IAM, requests must be SigV4-signed with a key it
 * issued, as EC2 requires (the lab's control socket, `operator`, is exempt). Realism adds latency, throttling,
 * faults. Calls are counted per caller when asked.
 */
import { Ec2Error } from "../aws/ec2_port.ts";
import type { Ec2Model } from "./ec2_model.ts";
import { QueryParams } from "./ec2_query.ts";
import {
  el,
  eniXml,
  errorXml,
  instanceEniXml,
  instanceTypeXml,
  items,
  responseXml,
  subnetXml,
  tagSetXml,
  wrap,
  xmlEscape,
} from "./ec2_query_xml.ts";
import { Realism } from "./realism.ts";
import type { Ec2CallCounts } from "./ec2_call_counts.ts";
import type { LabIam } from "./iam.ts";
import { type AuthError, type SignedRequest, verifySigV4 } from "./sigv4.ts";

/** The caller's address: a plain host string, or `Deno.serve`'s `info.remoteAddr`. */
export interface RemoteInfo {
  remoteAddr?: string | Deno.Addr;
  /** The lab's own control socket: no signature needed, counted as `lab.sock`. */
  operator?: boolean;
}

/** Options for `createEc2Handler`. */
export interface Ec2ServerOptions {
  /** Verify SigV4 signatures against the keys this IAM issued (unset: unsigned requests pass). */
  iam?: LabIam;
  /** Count calls per caller here. */
  counts?: Ec2CallCounts;
  /** The instance behind a source address (the caller's name in `counts`). */
  instanceForRemote?(addr: string): string | undefined;
}

/** The caller's host from `RemoteInfo` ("" when unknown). */
export function remoteHost(info?: RemoteInfo): string {
  const a = info?.remoteAddr;
  if (!a) return "";
  if (typeof a === "string") return a;
  return "hostname" in a ? a.hostname : "";
}

/** A fetch-style handler, as `Deno.serve` takes (`info` may carry the caller's address). */
export type Ec2Handler = (req: Request, info?: RemoteInfo) => Promise<Response>;

type ActionFn = (model: Ec2Model, p: QueryParams) => string;

const ACTIONS: Record<string, ActionFn> = {
  DescribeInstances(m, p) {
    const list = m.describeInstances(p.list("InstanceId"));
    return items("reservationSet", list, (i) => {
      const rec = m.instanceRecord(i.instanceId)!;
      const groups = items("groupSet", rec.securityGroupIds, (g) => el("groupId", g) + el("groupName", g));
      const instance = el("instanceId", i.instanceId) + el("imageId", "ami-0123456789abcdef0") +
        wrap(
          "instanceState",
          rec.state === "running"
            ? el("code", 16) + el("name", "running")
            : el("code", 48) + el("name", "terminated"),
        ) +
        el("privateDnsName", `ip-${i.privateIpAddress.replaceAll(".", "-")}.${m.region}.compute.internal`) +
        el("amiLaunchIndex", 0) + el("instanceType", i.instanceType) +
        el("launchTime", new Date(rec.launchedAt).toISOString()) +
        wrap("placement", el("availabilityZone", i.availabilityZone) + el("tenancy", "default")) +
        el("subnetId", i.subnetId) + el("vpcId", i.vpcId) + el("privateIpAddress", i.privateIpAddress) +
        el("sourceDestCheck", true) + groups + el("architecture", "x86_64") +
        el("rootDeviceType", "ebs") + el("virtualizationType", "hvm") +
        el("hypervisor", "xen") +
        tagSetXml([...rec.tags].map(([key, value]) => ({ key, value }))) +
        items("networkInterfaceSet", i.networkInterfaces, (e) => instanceEniXml(e, m.accountId));
      return el("reservationId", `r-${i.instanceId.slice(2)}`) + el("ownerId", m.accountId) + groups +
        wrap("instancesSet", wrap("item", instance));
    });
  },

  DescribeInstanceTypes(m, p) {
    return items("instanceTypeSet", m.describeInstanceTypes(p.list("InstanceType")), instanceTypeXml);
  },

  DescribeSubnets(m, p) {
    const list = m.describeSubnets({ subnetIds: p.list("SubnetId"), filters: p.filters() });
    return items("subnetSet", list, (s) => subnetXml(s, m.accountId));
  },

  DescribeNetworkInterfaces(m, p) {
    const page = m.describeNetworkInterfaces({
      networkInterfaceIds: p.list("NetworkInterfaceId"),
      filters: p.filters(),
      maxResults: p.int("MaxResults"),
      nextToken: p.get("NextToken") || undefined,
    });
    return items("networkInterfaceSet", page.networkInterfaces, (e) => eniXml(e, m.accountId)) +
      el("nextToken", page.nextToken);
  },

  CreateNetworkInterface(m, p) {
    const groups = p.list("SecurityGroupId");
    const eni = m.createNetworkInterface({
      subnetId: p.need("SubnetId"),
      description: p.get("Description"),
      securityGroupIds: groups.length ? groups : undefined,
      secondaryPrivateIpAddressCount: p.int("SecondaryPrivateIpAddressCount"),
      ipv4PrefixCount: p.int("Ipv4PrefixCount"),
      privateIpAddress: p.get("PrivateIpAddress"),
      tags: p.tagSpecifications("network-interface"),
      clientToken: p.get("ClientToken") || undefined,
    });
    return wrap("networkInterface", eniXml(eni, m.accountId)) + el("clientToken", p.get("ClientToken"));
  },

  AttachNetworkInterface(m, p) {
    const deviceIndex = p.int("DeviceIndex");
    if (deviceIndex === undefined) p.need("DeviceIndex");
    const r = m.attachNetworkInterface({
      networkInterfaceId: p.need("NetworkInterfaceId"),
      instanceId: p.need("InstanceId"),
      deviceIndex: deviceIndex!,
    });
    return el("attachmentId", r.attachmentId) + el("networkCardIndex", 0);
  },

  DetachNetworkInterface(m, p) {
    m.detachNetworkInterface({ attachmentId: p.need("AttachmentId"), force: p.bool("Force") });
    return el("return", true);
  },

  DeleteNetworkInterface(m, p) {
    m.deleteNetworkInterface(p.need("NetworkInterfaceId"));
    return el("return", true);
  },

  ModifyNetworkInterfaceAttribute(m, p) {
    const groups = p.list("SecurityGroupId");
    m.modifyNetworkInterfaceAttribute({
      networkInterfaceId: p.need("NetworkInterfaceId"),
      attachmentId: p.get("Attachment.AttachmentId"),
      deleteOnTermination: p.bool("Attachment.DeleteOnTermination"),
      sourceDestCheck: p.bool("SourceDestCheck.Value"),
      description: p.get("Description.Value"),
      securityGroupIds: groups.length ? groups : undefined,
    });
    return el("return", true);
  },

  AssignPrivateIpAddresses(m, p) {
    const id = p.need("NetworkInterfaceId");
    const ips = p.list("PrivateIpAddress");
    const prefixes = p.list("Ipv4Prefix");
    const r = m.assignPrivateIpAddresses({
      networkInterfaceId: id,
      secondaryPrivateIpAddressCount: p.int("SecondaryPrivateIpAddressCount"),
      privateIpAddresses: ips.length ? ips : undefined,
      ipv4PrefixCount: p.int("Ipv4PrefixCount"),
      ipv4Prefixes: prefixes.length ? prefixes : undefined,
    });
    return el("networkInterfaceId", id) +
      items("assignedPrivateIpAddressesSet", r.privateIps, (ip) => el("privateIpAddress", ip)) +
      items("assignedIpv4PrefixSet", r.ipv4Prefixes, (x) => el("ipv4Prefix", x)) + el("return", true);
  },

  UnassignPrivateIpAddresses(m, p) {
    const ips = p.list("PrivateIpAddress");
    const prefixes = p.list("Ipv4Prefix");
    m.unassignPrivateIpAddresses({
      networkInterfaceId: p.need("NetworkInterfaceId"),
      privateIpAddresses: ips.length ? ips : undefined,
      ipv4Prefixes: prefixes.length ? prefixes : undefined,
    });
    return el("return", true);
  },

  AssignIpv6Addresses(m, p) {
    const id = p.need("NetworkInterfaceId");
    const ips = p.list("Ipv6Addresses");
    // the wire name of the prefix list is Ipv6Prefix.N (the SDKs' locationName), as in UnassignIpv6Addresses
    const prefixes = p.list("Ipv6Prefix");
    const r = m.assignIpv6Addresses({
      networkInterfaceId: id,
      ipv6AddressCount: p.int("Ipv6AddressCount"),
      ipv6Addresses: ips.length ? ips : undefined,
      ipv6PrefixCount: p.int("Ipv6PrefixCount"),
      ipv6Prefixes: prefixes.length ? prefixes : undefined,
    });
    return el("networkInterfaceId", id) + items("assignedIpv6Addresses", r.ipv6Addresses, xmlEscape) +
      items("assignedIpv6PrefixSet", r.ipv6Prefixes, xmlEscape);
  },

  UnassignIpv6Addresses(m, p) {
    const id = p.need("NetworkInterfaceId");
    const ips = p.list("Ipv6Addresses");
    const prefixes = p.list("Ipv6Prefix");
    const r = m.unassignIpv6Addresses({
      networkInterfaceId: id,
      ipv6Addresses: ips.length ? ips : undefined,
      ipv6Prefixes: prefixes.length ? prefixes : undefined,
    });
    return el("networkInterfaceId", id) + items("unassignedIpv6Addresses", r.ipv6Addresses, xmlEscape) +
      items("unassignedIpv6PrefixSet", r.ipv6Prefixes, xmlEscape);
  },

  CreateTags(m, p) {
    m.createTags(p.list("ResourceId"), p.tags("Tag"));
    return el("return", true);
  },
};

/** The message an `Ec2Error` was built with (without its "Action: Code: " prefix). */
export function ec2Message(e: Ec2Error): string {
  const prefix = `${e.action ? e.action + ": " : ""}${e.code}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

function xmlResponse(body: string, status: number, requestId: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/xml;charset=UTF-8", "x-amzn-requestid": requestId },
  });
}

/**
 * A 200 whose body stops halfway: `content-length` announces the whole answer, the stream ends early, so the
 * connection closes mid-answer and the client gets no complete answer (as when a connection drops).
 */
function truncatedResponse(body: string, requestId: string): Response {
  const bytes = new TextEncoder().encode(body);
  const half = bytes.slice(0, Math.floor(bytes.length / 2));
  return new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(half);
        c.close();
      },
    }),
    {
      status: 200,
      headers: {
        "content-type": "text/xml;charset=UTF-8",
        "content-length": String(bytes.length),
        "x-amzn-requestid": requestId,
      },
    },
  );
}

/**
 * Who sent a request: the instance behind the source address, else the one the signing key belongs to, else
 * the address (`lab.sock` for the operator); and, when the IAM checks signatures, EC2's refusal if any.
 */
function identify(
  req: SignedRequest,
  info: RemoteInfo | undefined,
  opts: Ec2ServerOptions,
  region: string,
): { caller: string; refusal?: AuthError } {
  const host = remoteHost(info);
  if (info?.operator) return { caller: "lab.sock" };
  const byAddress = opts.instanceForRemote?.(host);
  const fallback = byAddress ?? (host || "unknown");
  if (!opts.iam) return { caller: fallback };
  const key = verifySigV4(req, opts.iam, { region, service: "ec2" });
  if ("code" in key) return { caller: fallback, refusal: key };
  return { caller: byAddress ?? key.instanceId ?? fallback };
}

/** Creates the EC2 Query API handler over `model`, with `realism` (default: none, no faults, EC2's buckets). */
export function createEc2Handler(
  model: Ec2Model,
  realism: Realism = new Realism(),
  opts: Ec2ServerOptions = {},
): Ec2Handler {
  return async (req: Request, info?: RemoteInfo): Promise<Response> => {
    const requestId = crypto.randomUUID();
    const fail = (code: string, message: string, status: number) =>
      xmlResponse(errorXml(code, message, requestId), status, requestId);
    if (req.method !== "POST" && req.method !== "GET") {
      return fail("InvalidHttpRequest", `Method ${req.method} is not allowed`, 405);
    }
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    let params: QueryParams;
    try {
      params = QueryParams.parse(req.method === "POST" ? new TextDecoder().decode(body) : "", url.search);
    } catch {
      return fail("MalformedQueryString", "The query string is malformed", 400);
    }
    const action = params.get("Action");
    const who = identify({ method: req.method, url, headers: req.headers, body }, info, opts, model.region);
    const count = (outcome: "calls" | "rejected") => action && opts.counts?.add(who.caller, action, outcome);
    if (who.refusal) {
      count("rejected");
      return fail(who.refusal.code, who.refusal.message, who.refusal.status);
    }
    if (!action) return fail("MissingAction", "The request must contain the parameter Action", 400);
    const fn = ACTIONS[action];
    if (!fn) return fail("InvalidAction", `The action ${action} is not valid for this web service.`, 400);
    model.setLags(realism.modelLags());
    const verdict = realism.admit(action);
    if (verdict === "throttled" || verdict === "injected-throttle") {
      count("rejected");
      return fail("RequestLimitExceeded", "Request limit exceeded.", 503);
    }
    await realism.sleep(realism.latencyMs(action));
    if (verdict === "injected-5xx" || verdict === "attach-fail") {
      count("rejected");
      return fail("InternalError", "An internal error has occurred", 500);
    }
    count("calls");
    try {
      const body = responseXml(action, requestId, fn(model, params));
      // Committed; the answer may still be lost: a 500, or the connection drops in the middle of the answer.
      const lost = realism.loseAnswer(action);
      if (lost === "5xx") return fail("InternalError", "An internal error has occurred", 500);
      return lost === "drop" ? truncatedResponse(body, requestId) : xmlResponse(body, 200, requestId);
    } catch (e) {
      realism.recordError(action);
      if (e instanceof Ec2Error) return fail(e.code, ec2Message(e), e.httpStatus);
      return fail("InternalError", `An internal error has occurred: ${(e as Error).message}`, 500);
    }
  };
}
