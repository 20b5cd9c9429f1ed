/**
 * The ipamd socket API (src/cni/api.ts) as a fetch-style handler, and its unix-socket listener.
 * Every state change is checkpointed before the answer; a missing IP is explained with a precise reason.
 */
import type {
  AddNetworkReply,
  AttachmentKey,
  CheckNetworkReply,
  DelNetworkReply,
  GcReply,
  IpamdErrorBody,
  IpamdErrorReason,
} from "../cni/api.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import { routeTableOf } from "../common/routing.ts";
import type { Assignment, Datastore, PodMeta } from "./datastore.ts";
import { NoFreeIpError } from "./datastore.ts";
import type { IpamdConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";
import { isGrowAction } from "./pool.ts";
import type { PoolDriver } from "./pool_driver.ts";

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;
const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

export interface ApiContext {
  ds: Datastore;
  driver: PoolDriver;
  config: IpamdConfig;
  vpcCidrs: string[];
  /** Persists the datastore's assignments (serialised; resolves once written). */
  persist: () => Promise<void>;
  /** Whether start-up has finished. */
  ready: () => boolean;
  /** How long AddNetwork waits for the pool to grow before answering with a reason. */
  addWaitMs?: number;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Extra GET routes (introspection data shared with the socket). */
  extraGets?: Record<string, () => unknown>;
  /** Default `systemClock`. */
  clock?: Clock;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: IpamdErrorReason,
    message: string,
    readonly retryable = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function errorResponse(e: ApiError): Response {
  const body: IpamdErrorBody = {
    error: {
      reason: e.reason,
      message: e.message,
      retryable: e.retryable,
      ...(e.retryAfterMs !== undefined ? { retryAfterMs: Math.round(e.retryAfterMs) } : {}),
    },
  };
  return json(e.status, body);
}

async function readBody(req: Request): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) {
    throw new ApiError(413, "bad_request", `request body over ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    for await (const c of req.body) {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        throw new ApiError(413, "bad_request", `request body over ${MAX_BODY_BYTES} bytes`);
      }
      chunks.push(c);
    }
  }
  const buf = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) buf.set(c, (off += c.length) - c.length);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(buf));
  } catch (e) {
    throw new ApiError(400, "bad_request", `invalid JSON body: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ApiError(400, "bad_request", "the body must be a JSON object");
  }
  return v as Record<string, unknown>;
}

function str(
  b: Record<string, unknown>,
  field: string,
  o: { optional?: boolean; pattern?: RegExp } = {},
): string {
  const v = b[field];
  if (v === undefined && o.optional) return "";
  if (typeof v !== "string" || (!o.optional && v === "")) {
    throw new ApiError(400, "bad_request", `field "${field}" must be a non-empty string`);
  }
  if (o.pattern && v !== "" && !o.pattern.test(v)) {
    throw new ApiError(400, "bad_request", `field "${field}" is invalid: "${v.slice(0, 80)}"`);
  }
  return v;
}

function ifName(b: Record<string, unknown>): string {
  const v = str(b, "ifName");
  if (new TextEncoder().encode(v).length > 15 || v === "." || v === ".." || /[/:\s]/.test(v)) {
    throw new ApiError(400, "bad_request", `field "ifName" is invalid: "${v.slice(0, 80)}"`);
  }
  return v;
}

function attachmentKey(b: Record<string, unknown>): AttachmentKey {
  return {
    netName: str(b, "netName", { pattern: ID }),
    containerId: str(b, "containerId", { pattern: ID }),
    ifName: ifName(b),
  };
}

/** The handler behind the unix socket. */
export function apiHandler(ctx: ApiContext): (req: Request) => Promise<Response> {
  const clock = ctx.clock ?? systemClock;
  const now = () => clock.now();
  const tableOf = (a: Assignment) => {
    const dn = ctx.ds.eni(a.eniId)?.deviceNumber ?? 0;
    return { deviceNumber: dn, routeTable: routeTableOf(dn) };
  };

  /**
   * Assigns, or grows the pool and waits (up to addWaitMs) for it; else throws the precise reason. While it
   * waits, the ADD counts in `driver.waitingPods`, so each plan covers every waiting pod at once; it retries
   * whenever a grow action (or one ENI of a create) finishes.
   */
  async function assignOrWait(key: AttachmentKey, meta: PodMeta): Promise<Assignment> {
    const deadline = now() + (ctx.addWaitMs ?? 5_000);
    const errBefore = ctx.driver.lastError;
    let coolingRetryMs: number | undefined;
    let waiting = false;
    try {
      while (true) {
        try {
          return ctx.ds.assign(key, meta, now());
        } catch (e) {
          if (!(e instanceof NoFreeIpError)) throw e;
          coolingRetryMs = e.retryAfterMs;
          ctx.log?.debug("no free IP; growing the pool", {
            ...key,
            stats: ctx.ds.stats(now()),
            err: e.message,
          });
        }
        if (!waiting) {
          waiting = true;
          ctx.driver.waitingPods++;
        }
        const left = deadline - now();
        if (left <= 0 || ctx.driver.lastError !== errBefore) break;
        let cancelTimer = () => {};
        const timeout = new Promise<"timeout">((r) => cancelTimer = clock.timer(left, () => r("timeout")));
        try {
          const since = ctx.driver.growthEvents;
          const plan = await Promise.race([ctx.driver.plan(), timeout]);
          if (plan === "timeout") continue;
          if (!ctx.driver.growing) {
            // Nothing grows: the plan had nothing to do, or its growth is already over.
            if (plan?.actions.some(isGrowAction) || ctx.driver.growthEvents !== since) continue;
            try {
              return ctx.ds.assign(key, meta, now());
            } catch { /* nothing will change soon */ }
            break;
          }
          await Promise.race([ctx.driver.growthSettled(since), timeout]);
        } finally {
          cancelTimer();
        }
      }
    } finally {
      if (waiting) ctx.driver.waitingPods--;
    }
    ctx.metrics?.noAvailableIp.inc();
    const r = ctx.driver.reasonForNoIp(coolingRetryMs);
    throw new ApiError(
      r.reason === "max_enis_reached" ? 409 : 503,
      r.reason,
      r.message,
      r.retryable,
      r.retryAfterMs,
    );
  }

  async function add(b: Record<string, unknown>): Promise<AddNetworkReply> {
    const key = attachmentKey(b);
    const meta = {
      netns: str(b, "netns", { optional: true }) || undefined,
      k8sPodNamespace: str(b, "k8sPodNamespace", { optional: true }) || undefined,
      k8sPodName: str(b, "k8sPodName", { optional: true }) || undefined,
      k8sPodUid: str(b, "k8sPodUid", { optional: true }) || undefined,
    };
    ctx.metrics?.addIpReq.inc();
    const a = await assignOrWait(key, meta);
    await ctx.persist();
    void ctx.driver.trigger();
    const eni = ctx.ds.eni(a.eniId)!;
    ctx.log?.info("assigned", {
      ...key,
      ip: a.ip,
      eniId: a.eniId,
      pod: `${meta.k8sPodNamespace}/${meta.k8sPodName}`,
    });
    return {
      ipv4: a.ip,
      ...tableOf(a),
      eniId: a.eniId,
      subnetCidr: eni.subnetCidr,
      vpcCidrs: ctx.vpcCidrs,
      useExternalSnat: ctx.config.externalSnat,
      mtu: ctx.config.podMtu,
    };
  }

  async function del(b: Record<string, unknown>): Promise<DelNetworkReply> {
    const key = attachmentKey(b);
    ctx.metrics?.delIpReq.inc();
    const held = ctx.ds.get(key);
    const t = held && tableOf(held);
    const a = ctx.ds.release(key, now());
    if (!a) return { released: false };
    await ctx.persist();
    void ctx.driver.trigger();
    ctx.log?.info("released", { ...key, ip: a.ip });
    return { released: true, ipv4: a.ip, ...t };
  }

  function check(b: Record<string, unknown>): CheckNetworkReply {
    const a = ctx.ds.get(attachmentKey(b));
    return a ? { held: true, ipv4: a.ip, ...tableOf(a) } : { held: false };
  }

  async function gc(b: Record<string, unknown>): Promise<GcReply> {
    const netName = str(b, "netName", { pattern: ID });
    if (!Array.isArray(b.valid)) throw new ApiError(400, "bad_request", `field "valid" must be an array`);
    const valid = new Set(b.valid.map((v, i) => {
      if (typeof v !== "object" || v === null) {
        throw new ApiError(400, "bad_request", `field "valid[${i}]" must be an object`);
      }
      const o = v as Record<string, unknown>;
      return JSON.stringify([str(o, "containerId"), str(o, "ifName")]);
    }));
    const released: GcReply["released"] = [];
    for (const a of ctx.ds.assignments()) {
      if (a.netName !== netName || valid.has(JSON.stringify([a.containerId, a.ifName]))) continue;
      if (ctx.ds.release(a, now())) {
        released.push({ containerId: a.containerId, ifName: a.ifName, ipv4: a.ip });
      }
    }
    if (released.length) {
      await ctx.persist();
      void ctx.driver.trigger();
    }
    return { released };
  }

  const POST_ROUTES = {
    "/v1/add-network": add,
    "/v1/del-network": del,
    "/v1/check-network": check,
    "/v1/gc": gc,
  };
  return async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const t0 = now();
    try {
      if (req.method === "GET") {
        if (path === "/v1/status") {
          return ctx.ready()
            ? json(200, { ready: true })
            : errorResponse(new ApiError(503, "not_ready", "ipamd is starting", true, 1000));
        }
        if (path === "/v1/pool") return json(200, poolSnapshot(ctx, now()));
        const extra = ctx.extraGets?.[path];
        if (extra) return json(200, extra());
        if (Object.hasOwn(POST_ROUTES, path)) {
          throw new ApiError(405, "bad_request", `method GET not allowed on ${path} (POST)`);
        }
        throw new ApiError(404, "not_found", `no such path: ${req.method} ${path}`);
      }
      const route = Object.hasOwn(POST_ROUTES, path)
        ? POST_ROUTES[path as keyof typeof POST_ROUTES]
        : undefined;
      const isGet = path === "/v1/status" || path === "/v1/pool" || !!ctx.extraGets?.[path];
      if (!route && !isGet) throw new ApiError(404, "not_found", `no such path: ${req.method} ${path}`);
      if (req.method !== "POST" || !route) {
        throw new ApiError(405, "bad_request", `method ${req.method} not allowed on ${path}`);
      }
      if (!ctx.ready()) throw new ApiError(503, "not_ready", "ipamd is starting", true, 1000);
      const body = await readBody(req);
      const t1 = now();
      const reply = await route(body);
      if (now() - t0 > 1000) {
        ctx.log?.warn("slow request", { path, readMs: t1 - t0, totalMs: now() - t0 });
      }
      return json(200, reply);
    } catch (e) {
      if (e instanceof ApiError) return errorResponse(e);
      ctx.metrics?.ipamdErr.inc({ fn: path });
      ctx.log?.error("request failed", { path, err: e });
      return errorResponse(new ApiError(500, "internal", (e as Error).message ?? String(e), true, 1000));
    }
  };
}

/** The pool as `ipamd status` shows it. */
export function poolSnapshot(ctx: Pick<ApiContext, "ds" | "driver">, now: number) {
  const { ds, driver } = ctx;
  return {
    enis: ds.enis().map((e) => ({
      eniId: e.eniId,
      deviceNumber: e.deviceNumber,
      primaryIp: e.primaryIp,
      subnetCidr: e.subnetCidr,
      prefixes: e.prefixes,
      ...ds.eniStats(e.eniId, now),
    })),
    totals: ds.stats(now),
    pods: ds.assignments().map((a) => ({
      ip: a.ip,
      eniId: a.eniId,
      netName: a.netName,
      containerId: a.containerId,
      ifName: a.ifName,
      namespace: a.meta.k8sPodNamespace,
      name: a.meta.k8sPodName,
    })),
    pendingEnis: driver.pendingEnis,
    pendingIps: driver.pendingIps,
    waitingPods: driver.waitingPods,
    maxEnis: driver.maxEnis,
    lastPlan: driver.lastPlan?.reason,
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
