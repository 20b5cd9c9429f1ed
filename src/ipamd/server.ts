/**
 * The ipamd socket API (src/cni/api.ts) as a fetch-style handler, and its unix-socket listener: GET routes
 * (`/v1/status`, `/v1/pool`, introspection views), the POST routes of api_routes.ts, 404/405 for the rest,
 * and an unexpected error as a 500 that carries its cause (logged and counted in `awscni_ipamd_error_count`).
 * Requests and error bodies: api_request.ts.
 * @module
 */
import type { Clock } from "../common/clock.ts";
import { systemClock } from "../common/clock.ts";
import { ApiError, errorResponse, json, readBody, serverTiming } from "./api_request.ts";
import { POST_ROUTES, type RouteTiming } from "./api_routes.ts";
import type { IpamdConfig } from "./config.ts";
import type { Datastore } from "./datastore.ts";
import type { Logger } from "./log.ts";
import type { PodIpAnnotator } from "./pod_ip_annotation.ts";
import type { IpamdMetrics } from "./metrics.ts";
import type { PoolDriver } from "./pool_driver.ts";
import { poolSnapshot } from "./pool_status.ts";

/** What the socket API works with. */
export interface ApiContext {
  ds: Datastore;
  driver: PoolDriver;
  config: IpamdConfig;
  vpcCidrs: string[];
  /** Persists the datastore's assignments (serialised; resolves once written). */
  persist: () => Promise<void>;
  /** Whether start-up has finished. */
  ready: () => boolean;
  /**
   * The iptables backend ipamd's rules are in, told in `GET /v1/status` so that `ipamd install` can give
   * egress-cni the same one (its SNAT must sit beside ipamd's and kube-proxy's rules).
   */
  iptablesBackend?: () => string | undefined;
  /** How long AddNetwork waits for the pool to grow before answering with a reason. */
  addWaitMs?: number;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Extra GET routes (introspection data shared with the socket). */
  extraGets?: Record<string, () => unknown>;
  /** Default `systemClock`. */
  clock?: Clock;
  /** ANNOTATE_POD_IP: writes the pod's IP annotation at ADD and clears it at DEL. */
  podIps?: PodIpAnnotator;
}

const notReady = () => new ApiError(503, "not_ready", "ipamd is starting", true, 1000);

/** A GET: the status, the pool, an introspection view, else 405 (a POST route) or 404. */
function answerGet(ctx: ApiContext, path: string): Response {
  if (path === "/v1/status") {
    if (!ctx.ready()) return errorResponse(notReady());
    const backend = ctx.iptablesBackend?.();
    return json(200, { ready: true, ...(backend ? { iptablesBackend: backend } : {}) });
  }
  if (path === "/v1/pool") return json(200, poolSnapshot(ctx, (ctx.clock ?? systemClock).now()));
  const extra = ctx.extraGets?.[path];
  if (extra) return json(200, extra());
  if (Object.hasOwn(POST_ROUTES, path)) {
    throw new ApiError(405, "bad_request", `method GET not allowed on ${path} (POST)`);
  }
  throw new ApiError(404, "not_found", `no such path: GET ${path}`);
}

/** Any other method: 404 for an unknown path, 405 unless a POST to a POST route, 503 until ready. */
async function answerPost(ctx: ApiContext, req: Request, path: string): Promise<Response> {
  const now = () => (ctx.clock ?? systemClock).now();
  const t0 = now();
  const route = Object.hasOwn(POST_ROUTES, path) ? POST_ROUTES[path] : undefined;
  const isGet = path === "/v1/status" || path === "/v1/pool" || !!ctx.extraGets?.[path];
  if (!route && !isGet) throw new ApiError(404, "not_found", `no such path: ${req.method} ${path}`);
  if (req.method !== "POST" || !route) {
    throw new ApiError(405, "bad_request", `method ${req.method} not allowed on ${path}`);
  }
  if (!ctx.ready()) throw notReady();
  const start = performance.now(); // for Server-Timing only (a diagnostic, not a decision)
  const body = await readBody(req);
  const t1 = now();
  const timing: RouteTiming = {};
  const reply = await route(ctx, body, timing);
  if (Object.keys(timing).length) timing.handler = performance.now() - start;
  if (now() - t0 > 1000) ctx.log?.warn("slow request", { path, readMs: t1 - t0, totalMs: now() - t0 });
  return json(200, reply, Object.keys(timing).length ? { "server-timing": serverTiming(timing) } : {});
}

/** The answer to a request that threw: its ApiError, or a 500 with the cause (logged and counted). */
function failure(ctx: ApiContext, path: string, thrown: unknown): Response {
  if (thrown instanceof ApiError) return errorResponse(thrown);
  ctx.metrics?.ipamdErr.inc({ fn: path });
  ctx.log?.error("request failed", { path, err: thrown });
  return errorResponse(
    new ApiError(500, "internal", (thrown as Error).message ?? String(thrown), true, 1000),
  );
}

/** The handler behind the unix socket. */
export function apiHandler(ctx: ApiContext): (req: Request) => Promise<Response> {
  return async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    try {
      return req.method === "GET" ? answerGet(ctx, path) : await answerPost(ctx, req, path);
    } catch (e) {
      return failure(ctx, path, e);
    }
  };
}

/** Serves the API on a unix socket: stale socket removed first, then mode 0660. */
export async function serveUnix(
  path: string,
  handler: (req: Request) => Promise<Response>,
): Promise<Deno.HttpServer> {
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  const server = Deno.serve({ path, onListen: () => {} }, handler);
  await Deno.chmod(path, 0o660);
  return server;
}
