/**
 * The socket API's POST routes (src/cni/api.ts): add-network, del-network, check-network and gc. Every
 * change is checkpointed (`ctx.persist`) before the answer, and re-plans the pool.
 * @module
 */
import type { AddNetworkReply, CheckNetworkReply, DelNetworkReply, GcReply } from "../cni/api.ts";
import { systemClock } from "../common/clock.ts";
import { routeTableOf } from "../common/routing.ts";
import { assignOrWait } from "./api_assign.ts";
import { ApiError, attachmentKey, ID, str } from "./api_request.ts";
import type { Assignment } from "./datastore.ts";
import { isIpv6 } from "../net/ipv6.ts";
import type { ApiContext } from "./server.ts";

/**
 * A POST route: the request body in, the reply out (or an ApiError). `timing` collects the durations (ms) of
 * the route's own steps; the server sends them as the reply's `Server-Timing` header (the plugin's trace).
 */
export type PostRoute = (ctx: ApiContext, body: Record<string, unknown>, timing: RouteTiming) => unknown;

/** Step name → milliseconds (a diagnostic: measured with `performance.now`, never used for decisions). */
export type RouteTiming = Record<string, number>;

/** Awaits `p` and records how long it took as `timing[name]`. */
async function timed<T>(timing: RouteTiming | undefined, name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    if (timing) timing[name] = performance.now() - t0;
  }
}

function now(ctx: ApiContext): number {
  return (ctx.clock ?? systemClock).now();
}

/** The device and route table of an assignment's ENI. */
function tableOf(ctx: ApiContext, assignment: Assignment): { deviceNumber: number; routeTable: number } {
  const deviceNumber = ctx.ds.eni(assignment.eniId)?.deviceNumber ?? 0;
  return { deviceNumber, routeTable: routeTableOf(deviceNumber) };
}

/** The address fields of a reply: `ipv4`, or (IPv6 mode) `ipv6` with `ipv4` "" as upstream's AddNetworkReply. */
function addressOf(ip: string): { ipv4: string; ipv6?: string } {
  return isIpv6(ip) ? { ipv4: "", ipv6: ip } : { ipv4: ip };
}

/** `POST /v1/add-network`: an IP for the attachment (waiting for the pool to grow if need be). */
export async function addNetwork(
  ctx: ApiContext,
  body: Record<string, unknown>,
  timing?: RouteTiming,
): Promise<AddNetworkReply> {
  const key = attachmentKey(body);
  const optional = (field: string) => str(body, field, { optional: true }) || undefined;
  const meta = {
    netns: optional("netns"),
    k8sPodNamespace: optional("k8sPodNamespace"),
    k8sPodName: optional("k8sPodName"),
    k8sPodUid: optional("k8sPodUid"),
  };
  ctx.metrics?.addIpReq.inc();
  const a = await timed(timing, "assign", () => assignOrWait(ctx, key, meta));
  await timed(timing, "checkpoint", () => ctx.persist());
  void ctx.driver.trigger();
  const eni = ctx.ds.eni(a.eniId)!;
  const pod = `${meta.k8sPodNamespace}/${meta.k8sPodName}`;
  ctx.log?.info("assigned", { ...key, ip: a.ip, eniId: a.eniId, pod });
  await ctx.podIps?.added({ namespace: meta.k8sPodNamespace, name: meta.k8sPodName }, a.ip);
  return {
    ...addressOf(a.ip),
    ...tableOf(ctx, a),
    eniId: a.eniId,
    subnetCidr: eni.subnetCidr,
    vpcCidrs: ctx.vpcCidrs,
    useExternalSnat: ctx.config.externalSnat,
    mtu: ctx.config.podMtu,
  };
}

/** `POST /v1/del-network`: releases the attachment's IP (into cooldown); `released: false` if none. */
export async function delNetwork(
  ctx: ApiContext,
  body: Record<string, unknown>,
  timing?: RouteTiming,
): Promise<DelNetworkReply> {
  const key = attachmentKey(body);
  ctx.metrics?.delIpReq.inc({ reason: "PodDeleted" });
  const held = ctx.ds.get(key);
  const table = held && tableOf(ctx, held);
  const a = ctx.ds.release(key, now(ctx));
  if (!a) return { released: false };
  await timed(timing, "checkpoint", () => ctx.persist());
  void ctx.driver.trigger();
  ctx.log?.info("released", { ...key, ip: a.ip });
  await ctx.podIps?.released({ namespace: a.meta.k8sPodNamespace, name: a.meta.k8sPodName }, a.ip);
  return { released: true, ...addressOf(a.ip), ...table };
}

/** `POST /v1/check-network`: whether ipamd holds an IP for the attachment, and its table. */
export function checkNetwork(ctx: ApiContext, body: Record<string, unknown>): CheckNetworkReply {
  const a = ctx.ds.get(attachmentKey(body));
  return a ? { held: true, ...addressOf(a.ip), ...tableOf(ctx, a) } : { held: false };
}

/** The `valid` list of a GC request, as `[containerId, ifName]` JSON keys. */
function validKeys(body: Record<string, unknown>): Set<string> {
  if (!Array.isArray(body.valid)) throw new ApiError(400, "bad_request", `field "valid" must be an array`);
  return new Set(body.valid.map((v, i) => {
    if (typeof v !== "object" || v === null) {
      throw new ApiError(400, "bad_request", `field "valid[${i}]" must be an object`);
    }
    const o = v as Record<string, unknown>;
    return JSON.stringify([str(o, "containerId"), str(o, "ifName")]);
  }));
}

/** `POST /v1/gc`: releases every attachment of `netName` not in `valid`. */
export async function gcNetwork(ctx: ApiContext, body: Record<string, unknown>): Promise<GcReply> {
  const netName = str(body, "netName", { pattern: ID });
  const valid = validKeys(body);
  const released: GcReply["released"] = [];
  for (const a of ctx.ds.assignments()) {
    if (a.netName !== netName || valid.has(JSON.stringify([a.containerId, a.ifName]))) continue;
    if (ctx.ds.release(a, now(ctx))) {
      ctx.metrics?.delIpReq.inc({ reason: "gc" });
      released.push({ containerId: a.containerId, ifName: a.ifName, ...addressOf(a.ip) });
    }
  }
  if (released.length) {
    await ctx.persist();
    void ctx.driver.trigger();
  }
  return { released };
}

/** The POST routes by path. */
export const POST_ROUTES: Record<string, PostRoute> = {
  "/v1/add-network": addNetwork,
  "/v1/del-network": delNetwork,
  "/v1/check-network": checkNetwork,
  "/v1/gc": gcNetwork,
};
