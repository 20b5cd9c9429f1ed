/**
 * Introspection (INTROSPECTION_BIND_ADDRESS, default 127.0.0.1:61679) and Prometheus metrics (:61678):
 * read-only views of the datastore, the ENIConfigs in use and the settings.
 */
import type { EniConfigSpec } from "../k8s/port.ts";
import type { IpamdConfig } from "./config.ts";
import { configSettings } from "./config.ts";
import type { Datastore } from "./datastore.ts";
import type { IpamdMetrics } from "./metrics.ts";

export interface IntrospectionContext {
  ds: Datastore;
  config: IpamdConfig;
  /** ENIConfigs ipamd uses (custom networking), by name. */
  eniConfigs: () => Record<string, EniConfigSpec>;
  ready: () => boolean;
  now?: () => number;
}

/** `/v1/enis`: per ENI its addresses and their state, with node totals. */
export function enisView(ds: Datastore, now: number) {
  const s = ds.stats(now);
  return {
    totalIPs: s.total,
    assignedIPs: s.assigned,
    coolingIPs: s.cooling,
    enis: Object.fromEntries(
      ds.enis().map((e) => [e.eniId, {
        id: e.eniId,
        deviceNumber: e.deviceNumber,
        primaryIp: e.primaryIp,
        subnetCidr: e.subnetCidr,
        mac: e.mac,
        createdAt: new Date(e.createdAt).toISOString(),
        prefixes: e.prefixes,
        ips: e.ips.map((ip) => {
          const a = ds.findByIp(ip);
          return { address: ip, state: ds.ipState(ip, now), ...(a ? { containerId: a.containerId } : {}) };
        }),
        // IPv6 mode: the /80 and its addresses in use (the rest of the 2^48 are free).
        ...(e.ipv6Prefixes
          ? {
            ipv6Prefixes: e.ipv6Prefixes,
            ipv6s: ds.ipv6InUse(e.eniId, now).map((ip) => {
              const a = ds.findByIp(ip);
              return {
                address: ip,
                state: ds.ipState(ip, now),
                ...(a ? { containerId: a.containerId } : {}),
              };
            }),
          }
          : {}),
      }]),
    ),
  };
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
        return json(enisView(ctx.ds, now));
      case "/v1/pods":
        return json(podsView(ctx.ds));
      case "/v1/eni-configs":
        return json(ctx.eniConfigs());
      case "/v1/ipamd-env-settings":
        return json(configSettings(ctx.config));
      case "/v1/networkutils-env-settings":
        return json(networkUtilsSettings(ctx.config));
      case "/healthz":
        return ctx.ready() ? new Response("ok\n") : new Response("starting\n", { status: 503 });
      default:
        return json({ error: "not found" }, 404);
    }
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
