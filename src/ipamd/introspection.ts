/**
 * Introspection (INTROSPECTION_BIND_ADDRESS, default 127.0.0.1:61679) and Prometheus metrics (:61678):
 * read-only views of the datastore, the ENIConfigs in use and the settings.
 */
import type { EniConfigSpec } from "../k8s/port.ts";
import type { IpamdConfig } from "./config.ts";
import { configSettings } from "./config_settings.ts";
import type { Datastore } from "./datastore.ts";
import type { IpamdMetrics } from "./metrics.ts";
import type { UnmanagedEni } from "./eni_policy.ts";
import { cidrContains } from "../net/ipv4.ts";

export interface IntrospectionContext {
  ds: Datastore;
  config: IpamdConfig;
  /** ENIConfigs ipamd uses (custom networking), by name. */
  eniConfigs: () => Record<string, EniConfigSpec>;
  ready: () => boolean;
  now?: () => number;
  /** Attached ENIs left out of the pool, and why. */
  unmanaged?: () => UnmanagedEni[];
  /** Our extension `/v1/pool`: the socket API's pool snapshot (current plan, failing tasks). */
  pool?: () => unknown;
}

/** One address in upstream's `/v1/enis` (datastore.AddressInfo), plus our `State`. */
export interface AddressInfo {
  Address: string;
  IPAMKey: { networkName: string; containerID: string; ifName: string };
  IPAMMetadata: { k8sPodNamespace?: string; k8sPodName?: string };
  AssignedTime: string;
  UnassignedTime: string;
  State: "free" | "assigned" | "cooling" | "unknown";
}

/** An IP/32 or a /28 prefix in upstream's `/v1/enis` (datastore.CidrInfo). */
export interface CidrInfo {
  Cidr: { IP: string; Mask: string };
  IPAddresses: Record<string, AddressInfo>;
  IsPrefix: boolean;
  AddressFamily: "4" | "6";
}

/** One ENI in upstream's `/v1/enis` (datastore.ENI), plus our `PrimaryIP`, `SubnetCIDR`, `MAC`, `CreatedAt`. */
export interface EniInfo {
  ID: string;
  IsPrimary: boolean;
  IsTrunk: boolean;
  IsEFA: boolean;
  DeviceNumber: number;
  AvailableIPv4Cidrs: Record<string, CidrInfo>;
  IPv6Cidrs: Record<string, CidrInfo>;
  PrimaryIP: string;
  SubnetCIDR: string;
  MAC: string;
  CreatedAt: string;
}

/** Upstream's `/v1/enis` answer (datastore.ENIInfos), plus our `CoolingIPs` and `UnmanagedENIs`. */
export interface EnisView {
  TotalIPs: number;
  AssignedIPs: number;
  CoolingIPs: number;
  ENIs: Record<string, EniInfo>;
  UnmanagedENIs: Record<string, string>;
}

/** Go's `time.Time` zero value as encoding/json writes it (upstream's "never"). */
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/** Go's `net.IPNet` as encoding/json writes it: the IP, and the mask as base64 bytes (4 or 16 of them). */
function goIpNet(cidr: string): { IP: string; Mask: string } {
  const [ip, len] = cidr.split("/");
  const bits = Number(len);
  const n = ip.includes(":") ? 16 : 4;
  const bytes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(8, bits - 8 * i)))
    .map((b) => (0xff << (8 - b)) & 0xff);
  return { IP: ip, Mask: btoa(String.fromCharCode(...bytes)) };
}

/**
 * `/v1/enis` in upstream's JSON shape (datastore.ENIInfos: `TotalIPs`, `AssignedIPs`, `ENIs` keyed by ENI ID,
 * each with `AvailableIPv4Cidrs` keyed by `IP/32` or `prefix/28`, each with `IPAddresses` keyed by address),
 * so tools written for upstream's introspection read it. Fields upstream lacks are extra (Go's decoder skips
 * them): `CoolingIPs`, `UnmanagedENIs` (ENI ID → why it is left alone), and per ENI `PrimaryIP`, `SubnetCIDR`,
 * `MAC`, `CreatedAt`, and per address `State` (assigned, cooling or free).
 */
export function enisView(ds: Datastore, now: number, unmanaged: UnmanagedEni[] = []): EnisView {
  const s = ds.stats(now);
  const time = (t: number | undefined) => t === undefined ? GO_ZERO_TIME : new Date(t).toISOString();
  const address = (ip: string): AddressInfo => {
    const a = ds.findByIp(ip);
    const released = a ? undefined : ds.releasedAt(ip);
    return {
      Address: ip,
      IPAMKey: { networkName: a?.netName ?? "", containerID: a?.containerId ?? "", ifName: a?.ifName ?? "" },
      IPAMMetadata: {
        ...(a?.meta.k8sPodNamespace ? { k8sPodNamespace: a.meta.k8sPodNamespace } : {}),
        ...(a?.meta.k8sPodName ? { k8sPodName: a.meta.k8sPodName } : {}),
      },
      AssignedTime: time(a?.assignedAt),
      UnassignedTime: time(released),
      State: ds.ipState(ip, now),
    };
  };
  const cidr = (key: string, ips: string[], isPrefix: boolean): [string, CidrInfo] => [key, {
    Cidr: goIpNet(key),
    IPAddresses: Object.fromEntries(ips.map((ip) => [ip, address(ip)])),
    IsPrefix: isPrefix,
    AddressFamily: key.includes(":") ? "6" : "4",
  }];
  return {
    TotalIPs: s.total,
    AssignedIPs: s.assigned,
    CoolingIPs: s.cooling,
    ENIs: Object.fromEntries(
      ds.enis().map((e) => {
        const inPrefix = (ip: string) => e.prefixes.some((p) => cidrContains(p, ip));
        return [e.eniId, {
          ID: e.eniId,
          IsPrimary: e.deviceNumber === 0,
          IsTrunk: false,
          IsEFA: false,
          DeviceNumber: e.deviceNumber,
          AvailableIPv4Cidrs: Object.fromEntries([
            ...e.ips.filter((ip) => !inPrefix(ip)).map((ip) => cidr(`${ip}/32`, [ip], false)),
            ...e.prefixes.map((p) => cidr(p, e.ips.filter((ip) => cidrContains(p, ip)), true)),
          ]),
          // IPv6 mode: the /80 with the addresses in use (the rest of its 2^48 are free).
          IPv6Cidrs: Object.fromEntries(
            (e.ipv6Prefixes ?? []).map((p) => cidr(p, ds.ipv6InUse(e.eniId, now), true)),
          ),
          PrimaryIP: e.primaryIp,
          SubnetCIDR: e.subnetCidr,
          MAC: e.mac,
          CreatedAt: new Date(e.createdAt).toISOString(),
        }];
      }),
    ),
    UnmanagedENIs: Object.fromEntries(unmanaged.map((u) => [u.eniId, u.reason])),
  };
}

/** One ENI of {@link EnisView} flattened: its addresses in order with their state and holder. */
export interface FlatEni {
  id: string;
  deviceNumber: number;
  primaryIp: string;
  subnetCidr: string;
  mac: string;
  createdAt: string;
  prefixes: string[];
  ips: { address: string; state: string; containerId?: string }[];
}

/** {@link EnisView} flattened for people and tests (`ipamd status`-like): totals and ENIs with per-IP state. */
export function flattenEnis(v: EnisView): {
  totalIPs: number;
  assignedIPs: number;
  coolingIPs: number;
  enis: Record<string, FlatEni>;
} {
  const enis: Record<string, FlatEni> = {};
  for (const e of Object.values(v.ENIs)) {
    const cidrs = Object.entries(e.AvailableIPv4Cidrs);
    enis[e.ID] = {
      id: e.ID,
      deviceNumber: e.DeviceNumber,
      primaryIp: e.PrimaryIP,
      subnetCidr: e.SubnetCIDR,
      mac: e.MAC,
      createdAt: e.CreatedAt,
      prefixes: [...cidrs, ...Object.entries(e.IPv6Cidrs)].filter(([, c]) => c.IsPrefix).map(([k]) => k),
      ips: [...cidrs, ...Object.entries(e.IPv6Cidrs)].flatMap(([, c]) => Object.values(c.IPAddresses)).map((
        a,
      ) => ({
        address: a.Address,
        state: a.State,
        ...(a.IPAMKey.containerID ? { containerId: a.IPAMKey.containerID } : {}),
      })),
    };
  }
  return { totalIPs: v.TotalIPs, assignedIPs: v.AssignedIPs, coolingIPs: v.CoolingIPs, enis };
}

/** `/v1/pods`: one entry per assignment, keyed like upstream by `<ns>_<pod>_<container>`. */
export function podsView(ds: Datastore) {
  return Object.fromEntries(
    ds.assignments().map((a) => [
      `${a.meta.k8sPodNamespace ?? ""}_${a.meta.k8sPodName ?? ""}_${a.containerId}`,
      {
        ...(a.ip.includes(":") ? { ipv6: a.ip } : { ipv4: a.ip }),
        eniId: a.eniId,
        netName: a.netName,
        containerId: a.containerId,
        ifName: a.ifName,
        namespace: a.meta.k8sPodNamespace,
        name: a.meta.k8sPodName,
        uid: a.meta.k8sPodUid,
        assignedAt: new Date(a.assignedAt).toISOString(),
      },
    ]),
  );
}

/** The settings that drive host networking (upstream's networkutils). */
export function networkUtilsSettings(c: IpamdConfig): Record<string, string> {
  return {
    AWS_VPC_K8S_CNI_EXTERNALSNAT: String(c.externalSnat),
    AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: c.excludeSnatCidrs.join(","),
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: c.randomizeSnat,
    AWS_VPC_ENI_MTU: String(c.eniMtu),
    POD_MTU: String(c.podMtu),
    AWS_VPC_K8S_CNI_VETHPREFIX: c.vethPrefix,
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** The introspection server's handler. */
export function introspectionHandler(ctx: IntrospectionContext): (req: Request) => Response {
  return (req) => {
    const now = (ctx.now ?? Date.now)();
    switch (new URL(req.url).pathname) {
      case "/v1/enis":
        return json(enisView(ctx.ds, now, ctx.unmanaged?.()));
      case "/v1/pods":
        return json(podsView(ctx.ds));
      case "/v1/eni-configs":
        return json(ctx.eniConfigs());
      case "/v1/ipamd-env-settings":
        return json(configSettings(ctx.config));
      case "/v1/networkutils-env-settings":
        return json(networkUtilsSettings(ctx.config));
      case "/v1/pool":
        if (!ctx.pool) break;
        return json(ctx.pool());
      case "/healthz":
        return ctx.ready() ? new Response("ok\n") : new Response("starting\n", { status: 503 });
    }
    return json({ error: "not found" }, 404);
  };
}

/** The metrics server's handler: `/metrics` in the Prometheus text format. */
export function metricsHandler(m: IpamdMetrics): (req: Request) => Response {
  return (req) =>
    new URL(req.url).pathname === "/metrics"
      ? new Response(m.registry.render(), { headers: { "content-type": "text/plain; version=0.0.4" } })
      : new Response("not found\n", { status: 404 });
}

/** Splits "host:port" (or ":port") for Deno.serve; "unix:/path" (upstream's form) is a unix socket. */
export function parseBind(
  addr: string,
): { hostname: string; port: number } | { path: string; transport: "unix" } {
  if (addr.startsWith("unix:")) return { path: addr.slice(5), transport: "unix" };
  const i = addr.lastIndexOf(":");
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`bad bind address "${addr}"`);
  }
  return { hostname: addr.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0", port };
}
