/**
 * The daemon's listeners: the socket API on the unix socket (with the `/v1/enis` and `/v1/pods` views),
 * introspection (TCP or a unix socket, unless disabled) and metrics (`:61678`, unless disabled).
 * @module
 */
import type { Clock } from "../common/clock.ts";
import { enisView, introspectionHandler, metricsHandler, parseBind, podsView } from "./introspection.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";
import { poolSnapshot } from "./pool_status.ts";
import { type ApiContext, apiHandler, serveUnix } from "./server.ts";
import type { EniConfigSpec } from "../k8s/port.ts";
import type { UnmanagedEni } from "./eni_policy.ts";
import type { PodIpAnnotator } from "./pod_ip_annotation.ts";

/** What the listeners serve: the socket API's context, and what introspection and metrics add. */
export interface ServeDeps extends Omit<ApiContext, "extraGets" | "metrics" | "log" | "clock"> {
  metrics: IpamdMetrics;
  log: Logger;
  clock: Clock;
  eniConfigs: () => Record<string, EniConfigSpec>;
  /** ANNOTATE_POD_IP: the pod-IP annotation writer. */
  podIps?: PodIpAnnotator;
  /** Attached ENIs left out of the pool, and why (in `/v1/enis`). */
  unmanaged?: () => UnmanagedEni[];
  /** Metrics listen address (default all interfaces, like upstream's :61678). */
  metricsHostname?: string;
  /** Ends the TCP listeners. */
  signal: AbortSignal;
}

/** The started listeners, and the TCP addresses they took. */
export interface Listeners {
  servers: Deno.HttpServer[];
  introspectionAddr?: Deno.NetAddr;
  metricsAddr?: Deno.NetAddr;
}

/** Starts every listener; they end with `deps.signal` (TCP) or their `shutdown()`. */
export async function serveIpamd(deps: ServeDeps): Promise<Listeners> {
  const { config, ds, clock } = deps;
  const now = () => clock.now();
  const api: ApiContext = {
    ...deps,
    extraGets: {
      "/v1/enis": () => enisView(ds, now(), deps.unmanaged?.()),
      "/v1/pods": () => podsView(ds),
    },
  };
  const out: Listeners = { servers: [await serveUnix(config.ipamdSocket, apiHandler(api))] };
  const quiet = { onListen: () => {}, signal: deps.signal };
  if (!config.disableIntrospection) {
    const bind = parseBind(config.introspectionBindAddress);
    const pool = () => poolSnapshot(deps, now());
    const handler = introspectionHandler({
      ds,
      config,
      eniConfigs: deps.eniConfigs,
      ready: deps.ready,
      now,
      unmanaged: deps.unmanaged,
      pool,
    });
    if ("path" in bind) {
      await Deno.remove(bind.path).catch(() => {}); // a socket a previous run left behind
      out.servers.push(Deno.serve({ ...bind, ...quiet }, handler));
    } else {
      const s = Deno.serve({ ...bind, ...quiet }, handler);
      out.introspectionAddr = s.addr;
      out.servers.push(s);
    }
  }
  if (!config.disableMetrics) {
    const s = Deno.serve(
      { hostname: deps.metricsHostname ?? "0.0.0.0", port: config.metricsPort, ...quiet },
      metricsHandler(deps.metrics),
    );
    out.metricsAddr = s.addr as Deno.NetAddr;
    out.servers.push(s);
  }
  deps.log.info("serving", {
    socket: config.ipamdSocket,
    introspection: out.introspectionAddr,
    metrics: out.metricsAddr,
  });
  return out;
}
