/**
 * The lab's Kubernetes API server: a `(Request) => Promise<Response>` handler over a `KubeStore`, serving the
 * real REST shapes (core/v1 nodes, pods, events; events.k8s.io/v1 events; crd.k8s.amazonaws.com/v1alpha1
 * eniconfigs), list/watch with selectors and resourceVersions, patch content types and `Status` errors.
 * Plain HTTP, no authentication (any bearer token is accepted).
 */

import {
  type Collection,
  COLLECTIONS,
  type KubeObject,
  KubeStatusError,
  type KubeStore,
} from "./k8s_store.ts";
import { applyPatch, PatchError } from "./k8s_server_patch.ts";
import { renderTable, wantsTable } from "./k8s_server_table.ts";

/** Handler options. */
export interface KubeHandlerOptions {
  /** A path prefix to strip first (e.g. "/k8s" when served beside other APIs). */
  prefix?: string;
  /** Watch length when the client sends no `timeoutSeconds` (default 1800). */
  defaultWatchTimeoutSeconds?: number;
  /** Interval between BOOKMARK events on watches that allow them (ms, default 10000). */
  bookmarkIntervalMs?: number;
  /**
   * Pod DELETE (without `gracePeriodSeconds=0`) only marks a scheduled pod with `deletionTimestamp`, leaving
   * the removal to a kubelet stand-in (`store.deletePod`). Default false: pods are removed at once.
   */
  gracefulPodDeletion?: boolean;
  /** `gitVersion` reported by /version (default "v1.31.0-vpc-cni-lab"). */
  gitVersion?: string;
  /** Events queued for a client that does not read before its watch is ended (default 10000). */
  maxQueuedEvents?: number;
  /** When it aborts, every open watch ends (as `close()`); later requests are still served. */
  signal?: AbortSignal;
}

/** The handler, with `close()` ending every open watch (the streams end cleanly). */
export interface KubeHandler {
  (req: Request): Promise<Response>;
  /** Ends all open watches; later requests are still served. */
  close(): void;
  /** Open watch streams. */
  readonly activeWatches: number;
}

interface Resource {
  base: string;
  plural: string;
  singular: string;
  collection: Collection;
  /** Version the objects are presented in (events.k8s.io converts). */
  apiVersion: string;
  shortNames?: string[];
}

const RESOURCES: Resource[] = [
  {
    base: "/api/v1",
    plural: "nodes",
    singular: "node",
    collection: "nodes",
    apiVersion: "v1",
    shortNames: ["no"],
  },
  {
    base: "/api/v1",
    plural: "pods",
    singular: "pod",
    collection: "pods",
    apiVersion: "v1",
    shortNames: ["po"],
  },
  {
    base: "/api/v1",
    plural: "events",
    singular: "event",
    collection: "events",
    apiVersion: "v1",
    shortNames: ["ev"],
  },
  {
    base: "/apis/events.k8s.io/v1",
    plural: "events",
    singular: "event",
    collection: "events",
    apiVersion: "events.k8s.io/v1",
    shortNames: ["ev"],
  },
  {
    base: "/apis/crd.k8s.amazonaws.com/v1alpha1",
    plural: "eniconfigs",
    singular: "eniconfig",
    collection: "eniconfigs",
    apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
  },
];

const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];
const encoder = new TextEncoder();

/** Creates the handler. */
export function createKubeHandler(store: KubeStore, opts: KubeHandlerOptions = {}): KubeHandler {
  const watches = new Set<() => void>();
  const ctx: Ctx = {
    store,
    opts,
    watches,
    gitVersion: opts.gitVersion ?? "v1.31.0-vpc-cni-lab",
  };
  const handler = async (req: Request): Promise<Response> => {
    try {
      return await route(ctx, req);
    } catch (e) {
      if (e instanceof KubeStatusError) return statusResponse(e);
      if (e instanceof PatchError) {
        return statusResponse(
          new KubeStatusError(e.code, e.code === 400 ? "BadRequest" : "Invalid", e.message),
        );
      }
      return statusResponse(
        new KubeStatusError(500, "InternalError", `internal error: ${(e as Error)?.message ?? e}`),
      );
    }
  };
  const close = () => {
    for (const end of [...watches]) end();
  };
  opts.signal?.addEventListener("abort", close, { once: true });
  Object.defineProperty(handler, "activeWatches", { get: () => watches.size });
  return Object.assign(handler, { close }) as KubeHandler;
}

interface Ctx {
  store: KubeStore;
  opts: KubeHandlerOptions;
  watches: Set<() => void>;
  gitVersion: string;
}

async function route(ctx: Ctx, req: Request): Promise<Response> {
  const url = new URL(req.url);
  let path = url.pathname;
  if (ctx.opts.prefix && path.startsWith(ctx.opts.prefix)) path = path.slice(ctx.opts.prefix.length) || "/";
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  const method = req.method.toUpperCase();

  const discovery = discoveryDoc(ctx, path, url);
  if (discovery !== undefined) {
    if (method !== "GET" && method !== "HEAD") return methodNotAllowed();
    return typeof discovery === "string"
      ? new Response(discovery, { headers: { "content-type": "text/plain" } })
      : json(200, discovery);
  }

  for (const res of RESOURCES) {
    if (path !== res.base && !path.startsWith(res.base + "/")) continue;
    let segs = path.slice(res.base.length).split("/").filter((s) => s !== "").map(decodeURIComponent);
    let watchPath = false;
    if (segs[0] === "watch") {
      watchPath = true;
      segs = segs.slice(1);
    }
    const target = matchResource(res, segs);
    if (!target) continue;
    return await serveResource(ctx, req, url, res, target, watchPath);
  }
  return statusResponse(
    new KubeStatusError(404, "NotFound", "the server could not find the requested resource"),
  );
}

interface Target {
  namespace?: string;
  name?: string;
  subresource?: "status";
}

function matchResource(res: Resource, segs: string[]): Target | undefined {
  const namespaced = COLLECTIONS[res.collection].namespaced;
  let rest = segs;
  let namespace: string | undefined;
  if (namespaced && rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest[0] !== res.plural) return undefined;
  if (rest.length === 1) return { namespace };
  if (namespaced && namespace === undefined) return undefined;
  if (rest.length === 2) return { namespace, name: rest[1] };
  if (
    rest.length === 3 && rest[2] === "status" && res.collection !== "eniconfigs" &&
    res.collection !== "events"
  ) {
    return { namespace, name: rest[1], subresource: "status" };
  }
  return undefined;
}

async function serveResource(
  ctx: Ctx,
  req: Request,
  url: URL,
  res: Resource,
  t: Target,
  watchPath: boolean,
): Promise<Response> {
  const { store } = ctx;
  const method = req.method.toUpperCase();
  const q = url.searchParams;
  const info = COLLECTIONS[res.collection];

  if (t.name === undefined) {
    if (method === "GET") {
      const watch = watchPath || q.get("watch") === "true" || q.get("watch") === "1";
      const sel = {
        namespace: t.namespace,
        fieldSelector: convertSelector(res, q.get("fieldSelector") ?? undefined),
        labelSelector: q.get("labelSelector") ?? undefined,
      };
      const rv = q.get("resourceVersion") ?? undefined;
      if (watch) return serveWatch(ctx, req, res, { ...sel, resourceVersion: rv }, q);
      if (rv !== undefined && rv !== "" && !/^\d+$/.test(rv)) {
        throw new KubeStatusError(400, "BadRequest", `invalid resource version: ${rv}`);
      }
      const limitText = q.get("limit");
      const limit = limitText ? Number(limitText) : undefined;
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
        throw new KubeStatusError(400, "BadRequest", `invalid limit: ${limitText}`);
      }
      const r = store.list(res.collection, { ...sel, limit, continue: q.get("continue") ?? undefined });
      const metadata: Record<string, unknown> = { resourceVersion: r.resourceVersion };
      if (r.continue) {
        metadata.continue = r.continue;
        metadata.remainingItemCount = r.remainingItemCount;
      }
      if (wantsTable(req.headers.get("accept"))) {
        return json(200, renderTable(res.collection, r.items, metadata));
      }
      return json(200, {
        kind: info.listKind,
        apiVersion: res.apiVersion,
        metadata,
        items: r.items.map((o) => present(res, o)),
      });
    }
    if (method === "POST") {
      if (info.namespaced && t.namespace === undefined) return methodNotAllowed();
      const body = await readBody(req);
      const obj = accept(res, body);
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      if (info.namespaced) {
        if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== t.namespace) {
          throw new KubeStatusError(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
          );
        }
        meta.namespace = t.namespace;
      }
      obj.metadata = meta;
      return json(201, present(res, store.create(res.collection, obj)));
    }
    return methodNotAllowed();
  }

  const name = t.name;
  switch (method) {
    case "GET": {
      const obj = store.mustGet(res.collection, t.namespace, name);
      if (wantsTable(req.headers.get("accept"))) {
        return json(
          200,
          renderTable(res.collection, [obj], { resourceVersion: obj.metadata.resourceVersion }),
        );
      }
      return json(200, present(res, obj));
    }
    case "PUT": {
      const body = accept(res, await readBody(req));
      const meta = (body.metadata ?? {}) as Record<string, unknown>;
      if (meta.name !== undefined && meta.name !== name) {
        throw new KubeStatusError(
          400,
          "BadRequest",
          `the name of the object (${meta.name}) does not match the name on the URL (${name})`,
        );
      }
      if (
        info.namespaced && meta.namespace !== undefined && meta.namespace !== "" &&
        meta.namespace !== t.namespace
      ) {
        throw new KubeStatusError(
          400,
          "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      body.metadata = { ...meta, name, ...(info.namespaced ? { namespace: t.namespace } : {}) };
      const out = store.update(res.collection, body as KubeObject, { subresource: t.subresource });
      return json(200, present(res, out));
    }
    case "PATCH": {
      const type = req.headers.get("content-type") ?? "";
      if (!/^application\/(json-patch|merge-patch|strategic-merge-patch)\+json/i.test(type)) {
        throw new KubeStatusError(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: ` +
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
        );
      }
      const body = await readBody(req);
      const out = store.patch(res.collection, t.namespace, name, (cur) => {
        const patched = applyPatch(type, present(res, cur), body);
        if (typeof patched !== "object" || patched === null || Array.isArray(patched)) {
          throw new KubeStatusError(422, "Invalid", "patch must produce an object");
        }
        return accept(res, patched) as KubeObject;
      }, { subresource: t.subresource });
      return json(200, present(res, out));
    }
    case "DELETE": {
      if (t.subresource) return methodNotAllowed();
      const text = await req.text();
      let body: Record<string, unknown> = {};
      if (text.trim() !== "") {
        try {
          body = JSON.parse(text);
        } catch {
          throw new KubeStatusError(400, "BadRequest", "invalid DeleteOptions body");
        }
      }
      const graceText = q.get("gracePeriodSeconds");
      const grace = graceText !== null ? Number(graceText) : (body.gracePeriodSeconds as number | undefined);
      const pre = (body.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
      let graceful = false;
      if (res.collection === "pods" && ctx.opts.gracefulPodDeletion && grace !== 0) {
        const cur = store.mustGet("pods", t.namespace, name);
        graceful = Boolean((cur.spec as { nodeName?: string } | undefined)?.nodeName);
      }
      const r = store.delete(res.collection, t.namespace, name, {
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
          group: info.apiVersion.includes("/") ? info.apiVersion.split("/")[0] : "",
          kind: res.plural,
          uid: r.object.metadata.uid,
        },
      });
    }
    default:
      return methodNotAllowed();
  }
}

function serveWatch(
  ctx: Ctx,
  req: Request,
  res: Resource,
  o: { namespace?: string; fieldSelector?: string; labelSelector?: string; resourceVersion?: string },
  q: URLSearchParams,
): Response {
  const timeoutText = q.get("timeoutSeconds");
  let timeoutSeconds = ctx.opts.defaultWatchTimeoutSeconds ?? 1800;
  if (timeoutText !== null) {
    const n = Number(timeoutText);
    if (!Number.isFinite(n) || n < 0) {
      throw new KubeStatusError(400, "BadRequest", `invalid timeoutSeconds: ${timeoutText}`);
    }
    if (n > 0) timeoutSeconds = n;
  }
  const bookmarks = q.get("allowWatchBookmarks") === "true" || q.get("allowWatchBookmarks") === "1";
  const info = COLLECTIONS[res.collection];

  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  let watcher: { close(): void } | undefined;
  const timers: { end?: ReturnType<typeof setTimeout>; bookmark?: ReturnType<typeof setInterval> } = {};
  const send = (v: unknown) => {
    if (ended) return;
    try {
      controller.enqueue(encoder.encode(JSON.stringify(v) + "\n"));
      // A client that stopped reading is dropped (it re-watches), as the API server drops slow watchers.
      if ((controller.desiredSize ?? 0) < -(ctx.opts.maxQueuedEvents ?? 10_000)) end();
    } catch {
      end();
    }
  };
  const end = () => {
    if (ended) return;
    ended = true;
    watcher?.close();
    if (timers.end !== undefined) clearTimeout(timers.end);
    if (timers.bookmark !== undefined) clearInterval(timers.bookmark);
    req.signal.removeEventListener("abort", end);
    ctx.watches.delete(end);
    try {
      controller.close();
    } catch {
      // already closed or errored by a disconnect
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      end();
    },
  });

  try {
    watcher = ctx.store.watch(
      res.collection,
      o,
      (e) => send({ type: e.type, object: present(res, e.object) }),
    );
  } catch (e) {
    if (e instanceof KubeStatusError && e.code === 410) {
      send({ type: "ERROR", object: e.toStatus() });
      ended = true;
      controller.close();
      return streamResponse(stream);
    }
    ended = true;
    throw e;
  }
  if (req.signal.aborted || ctx.opts.signal?.aborted) {
    end();
    return streamResponse(stream);
  }
  ctx.watches.add(end);
  req.signal.addEventListener("abort", end);
  timers.end = setTimeout(end, timeoutSeconds * 1000);
  if (bookmarks) {
    timers.bookmark = setInterval(() => {
      send({
        type: "BOOKMARK",
        object: {
          kind: info.kind,
          apiVersion: res.apiVersion,
          metadata: { resourceVersion: ctx.store.resourceVersion },
        },
      });
    }, ctx.opts.bookmarkIntervalMs ?? 10_000);
  }
  return streamResponse(stream);
}

function streamResponse(stream: ReadableStream<Uint8Array>): Response {
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
  });
}

/** Presents a stored object in the resource's version (events.k8s.io/v1 events are converted). */
function present(res: Resource, o: KubeObject): KubeObject {
  if (res.apiVersion !== "events.k8s.io/v1") return o;
  const {
    involvedObject,
    message,
    source,
    reportingComponent,
    firstTimestamp,
    lastTimestamp,
    count,
    ...rest
  } = o;
  const out: KubeObject = { ...rest, apiVersion: "events.k8s.io/v1", kind: "Event" };
  if (involvedObject !== undefined) out.regarding = involvedObject;
  if (message !== undefined) out.note = message;
  if (reportingComponent !== undefined) out.reportingController = reportingComponent;
  if (source !== undefined) out.deprecatedSource = source;
  if (firstTimestamp !== undefined) out.deprecatedFirstTimestamp = firstTimestamp;
  if (lastTimestamp !== undefined) out.deprecatedLastTimestamp = lastTimestamp;
  if (count !== undefined) out.deprecatedCount = count;
  return out;
}

/** Converts a request body from the resource's version to the stored (core) shape. */
function accept(
  res: Resource,
  body: unknown,
): Record<string, unknown> & { metadata?: Record<string, unknown> } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new KubeStatusError(400, "BadRequest", "the request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  if (b.metadata !== undefined && (typeof b.metadata !== "object" || b.metadata === null)) {
    throw new KubeStatusError(400, "BadRequest", "metadata must be an object");
  }
  if (res.apiVersion !== "events.k8s.io/v1") return { ...b };
  const {
    regarding,
    note,
    reportingController,
    deprecatedSource,
    deprecatedFirstTimestamp,
    deprecatedLastTimestamp,
    deprecatedCount,
    ...rest
  } = b;
  const out: Record<string, unknown> = { ...rest };
  if (regarding !== undefined) out.involvedObject = regarding;
  if (note !== undefined) out.message = note;
  if (reportingController !== undefined) out.reportingComponent = reportingController;
  if (deprecatedSource !== undefined) out.source = deprecatedSource;
  if (deprecatedFirstTimestamp !== undefined) out.firstTimestamp = deprecatedFirstTimestamp;
  if (deprecatedLastTimestamp !== undefined) out.lastTimestamp = deprecatedLastTimestamp;
  if (deprecatedCount !== undefined) out.count = deprecatedCount;
  return out;
}

function convertSelector(res: Resource, s: string | undefined): string | undefined {
  if (!s || res.apiVersion !== "events.k8s.io/v1") return s;
  return s.replaceAll("regarding.", "involvedObject.").replaceAll(
    "reportingController",
    "reportingComponent",
  );
}

function discoveryDoc(ctx: Ctx, path: string, url: URL): unknown | string | undefined {
  switch (path) {
    case "/version":
      return {
        major: "1",
        minor: "31",
        gitVersion: ctx.gitVersion,
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2026-11-25T00:00:00Z",
        goVersion: "go1.23",
        compiler: "gc",
        platform: "linux/amd64",
      };
    case "/healthz":
    case "/livez":
    case "/readyz":
      return "ok";
    case "/api":
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: url.host }],
      };
    case "/apis":
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: ["crd.k8s.amazonaws.com/v1alpha1", "events.k8s.io/v1"].map((gv) => {
          const [name, version] = gv.split("/");
          const v = { groupVersion: gv, version };
          return { name, versions: [v], preferredVersion: v };
        }),
      };
  }
  const bases = [...new Set(RESOURCES.map((r) => r.base))];
  const base = bases.find((b) => b === path);
  if (base === undefined) return undefined;
  const groupVersion = base === "/api/v1" ? "v1" : base.slice("/apis/".length);
  const resources: unknown[] = [];
  for (const r of RESOURCES.filter((r) => r.base === base)) {
    const info = COLLECTIONS[r.collection];
    resources.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: VERBS,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    });
    if (r.collection === "pods" || r.collection === "nodes") {
      resources.push({
        name: `${r.plural}/status`,
        singularName: "",
        namespaced: info.namespaced,
        kind: info.kind,
        verbs: ["get", "patch", "update"],
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources };
}

async function readBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") throw new KubeStatusError(400, "BadRequest", "the request body is empty");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KubeStatusError(
      400,
      "BadRequest",
      `the request body is not valid JSON: ${(e as Error).message}`,
    );
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function statusResponse(e: KubeStatusError): Response {
  return json(e.code, e.toStatus());
}

function methodNotAllowed(): Response {
  return statusResponse(
    new KubeStatusError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    ),
  );
}
