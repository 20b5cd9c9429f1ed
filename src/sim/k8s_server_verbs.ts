/**
 * The lab API server's REST verbs on one resource: list and create on a collection; get, replace (PUT),
 * patch and delete on an object or its status subresource. Watches are in k8s_server_watch.ts.
 */

import { COLLECTIONS, type KubeObject } from "./k8s_collections.ts";
import { accept, convertSelector, present, type Resource } from "./k8s_api_resources.ts";
import type { KubeServerContext } from "./k8s_server.ts";
import type { ProtobufDecode } from "./k8s_protobuf.ts";
import { checkMediaType, json, methodNotAllowed, readBody } from "./k8s_server_http.ts";
import { applyPatch } from "./k8s_server_patch.ts";
import { renderTable, wantsTable } from "./k8s_server_table.ts";
import { serveWatch } from "./k8s_server_watch.ts";
import { parseListQuery } from "./k8s_list_options.ts";
import { badRequest, groupOf, KubeStatusError } from "./k8s_status.ts";

/** The patch media types the lab applies (no server-side apply). */
const PATCH_MEDIA_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

/** Where a request points inside a resource. */
export interface Target {
  namespace?: string;
  name?: string;
  subresource?: "status";
}

/** What one request to a resource is. */
export interface ResourceRequest {
  ctx: KubeServerContext;
  req: Request;
  url: URL;
  res: Resource;
  target: Target;
  /** The `/watch/` path form was used. */
  watchPath: boolean;
}

/** Serves one request to a resource. */
export async function serveResource(r: ResourceRequest): Promise<Response> {
  const method = r.req.method.toUpperCase();
  if (r.target.name === undefined) {
    if (method === "GET") return serveList(r);
    if (method === "POST") return await serveCreate(r);
    return methodNotAllowed();
  }
  switch (method) {
    case "GET":
      return serveGet(r, r.target.name);
    case "PUT":
      return await serveReplace(r, r.target.name);
    case "PATCH":
      return await servePatch(r, r.target.name);
    case "DELETE":
      return await serveDelete(r, r.target.name);
    default:
      return methodNotAllowed();
  }
}

function serveList({ ctx, req, url, res, target, watchPath }: ResourceRequest): Response {
  const q = parseListQuery(url.searchParams, watchPath);
  const fieldSelector = convertSelector(res, q.fieldSelector);
  if (q.watch) return serveWatch(ctx, req, { res, namespace: target.namespace, fieldSelector }, q);
  const list = ctx.store.list(res.collection, {
    namespace: target.namespace,
    fieldSelector,
    labelSelector: q.labelSelector,
    limit: q.limit,
    continue: q.continue,
  });
  const metadata: Record<string, unknown> = { resourceVersion: list.resourceVersion };
  if (list.continue) {
    metadata.continue = list.continue;
    metadata.remainingItemCount = list.remainingItemCount;
  }
  if (wantsTable(req.headers.get("accept"))) {
    return json(200, renderTable(res.collection, list.items, metadata));
  }
  return json(200, {
    kind: COLLECTIONS[res.collection].listKind,
    apiVersion: res.apiVersion,
    metadata,
    items: list.items.map((o) => present(res, o)),
  });
}

async function serveCreate({ ctx, req, res, target }: ResourceRequest): Promise<Response> {
  const info = COLLECTIONS[res.collection];
  if (info.namespaced && target.namespace === undefined) return methodNotAllowed();
  const obj = accept(res, await readBody(req, { protobuf: ctx.opts.decodeProtobuf }));
  const meta = (obj.metadata ?? {}) as Record<string, unknown>;
  if (info.namespaced) {
    checkNamespace(meta, target);
    meta.namespace = target.namespace;
  }
  obj.metadata = meta;
  return json(201, present(res, ctx.store.create(res.collection, obj)));
}

function serveGet({ ctx, req, res, target }: ResourceRequest, name: string): Response {
  const obj = ctx.store.mustGet(res.collection, target.namespace, name);
  if (wantsTable(req.headers.get("accept"))) {
    return json(200, renderTable(res.collection, [obj], { resourceVersion: obj.metadata.resourceVersion }));
  }
  return json(200, present(res, obj));
}

async function serveReplace({ ctx, req, res, target }: ResourceRequest, name: string): Promise<Response> {
  const info = COLLECTIONS[res.collection];
  const body = accept(res, await readBody(req, { protobuf: ctx.opts.decodeProtobuf }));
  const meta = (body.metadata ?? {}) as Record<string, unknown>;
  if (meta.name !== undefined && meta.name !== name) {
    throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
  }
  if (info.namespaced) checkNamespace(meta, target);
  body.metadata = { ...meta, name, ...(info.namespaced ? { namespace: target.namespace } : {}) };
  const out = ctx.store.update(res.collection, body as KubeObject, { subresource: target.subresource });
  return json(200, present(res, out));
}

async function servePatch({ ctx, req, res, target }: ResourceRequest, name: string): Promise<Response> {
  const type = checkMediaType(req, PATCH_MEDIA_TYPES);
  const body = await readBody(req, { accepted: PATCH_MEDIA_TYPES });
  const out = ctx.store.patch(res.collection, target.namespace, name, (cur) => {
    const patched = applyPatch(type, present(res, cur), body);
    if (typeof patched !== "object" || patched === null || Array.isArray(patched)) {
      throw new KubeStatusError(422, "Invalid", "patch must produce an object");
    }
    return accept(res, patched) as KubeObject;
  }, { subresource: target.subresource });
  return json(200, present(res, out));
}

async function serveDelete({ ctx, req, url, res, target }: ResourceRequest, name: string): Promise<Response> {
  if (target.subresource) return methodNotAllowed();
  const body = await readDeleteOptions(req, ctx.opts.decodeProtobuf);
  const graceText = url.searchParams.get("gracePeriodSeconds");
  const grace = graceText !== null ? Number(graceText) : (body.gracePeriodSeconds as number | undefined);
  const pre = (body.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
  let graceful = false;
  if (res.collection === "pods" && ctx.opts.gracefulPodDeletion && grace !== 0) {
    const cur = ctx.store.mustGet("pods", target.namespace, name);
    graceful = Boolean((cur.spec as { nodeName?: string } | undefined)?.nodeName);
  }
  const r = ctx.store.delete(res.collection, target.namespace, name, {
    graceful,
    gracePeriodSeconds: grace,
    uid: pre.uid,
    resourceVersion: pre.resourceVersion,
  });
  if (res.collection === "pods") return json(200, present(res, r.object));
  return json(200, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: {
      name,
      group: groupOf(COLLECTIONS[res.collection]),
      kind: res.plural,
      uid: r.object.metadata.uid,
    },
  });
}

/** DeleteOptions from the body: none, JSON, or protobuf when the lab decodes it. */
async function readDeleteOptions(req: Request, protobuf?: ProtobufDecode): Promise<Record<string, unknown>> {
  if (!req.headers.has("content-type")) {
    const text = await req.text();
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text);
    } catch {
      throw badRequest("invalid DeleteOptions body");
    }
  }
  const body = await req.clone().arrayBuffer();
  if (body.byteLength === 0) return {};
  const opts = await readBody(req, { protobuf });
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) {
    throw badRequest("invalid DeleteOptions body");
  }
  return opts as Record<string, unknown>;
}

function checkNamespace(meta: Record<string, unknown>, target: Target): void {
  if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== target.namespace) {
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
}
