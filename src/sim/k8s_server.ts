/**
 * The lab's Kubernetes API server: a `(Request) => Promise<Response>` handler over a `KubeStore`, serving the
 * real REST shapes (core/v1 nodes, pods, events; events.k8s.io/v1 events; crd.k8s.amazonaws.com/v1alpha1
 * eniconfigs), list/watch with selectors and resourceVersions, patch content types and `Status` errors.
 * Plain HTTP, no authentication (any bearer token is accepted).
 */

import { COLLECTIONS } from "./k8s_collections.ts";
import { type Resource, RESOURCES } from "./k8s_api_resources.ts";
import { discoveryDoc } from "./k8s_server_discovery.ts";
import { json, methodNotAllowed, statusResponse } from "./k8s_server_http.ts";
import type { ProtobufDecode } from "./k8s_protobuf.ts";
import { PatchError } from "./k8s_server_patch.ts";
import { serveResource, type Target } from "./k8s_server_verbs.ts";
import { KubeStatusError } from "./k8s_status.ts";
import type { KubeStore } from "./k8s_store.ts";

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
  /** Decodes protobuf bodies (src/sim/k8s_protobuf.ts); without it they get 415. */
  decodeProtobuf?: ProtobufDecode;
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
  /** BOOKMARK events sent so far, on every watch (a test waits for one after a change instead of a clock). */
  readonly bookmarksSent: number;
}

/** Creates the handler. */
export function createKubeHandler(store: KubeStore, opts: KubeHandlerOptions = {}): KubeHandler {
  const watches = new Set<() => void>();
  const ctx: KubeServerContext = {
    store,
    opts,
    watches,
    gitVersion: opts.gitVersion ?? "v1.31.0-vpc-cni-lab",
    bookmarksSent: 0,
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
  Object.defineProperty(handler, "bookmarksSent", { get: () => ctx.bookmarksSent });
  return Object.assign(handler, { close }) as KubeHandler;
}

/** What every verb handler gets: the store, the options and the open watches. */
export interface KubeServerContext {
  store: KubeStore;
  opts: KubeHandlerOptions;
  watches: Set<() => void>;
  gitVersion: string;
  /** BOOKMARK events sent (`KubeHandler.bookmarksSent`). */
  bookmarksSent: number;
}

async function route(ctx: KubeServerContext, req: Request): Promise<Response> {
  const url = new URL(req.url);
  let path = url.pathname;
  if (ctx.opts.prefix && path.startsWith(ctx.opts.prefix)) path = path.slice(ctx.opts.prefix.length) || "/";
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  const method = req.method.toUpperCase();

  const discovery = discoveryDoc(ctx.gitVersion, path, url);
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
    return await serveResource({ ctx, req, url, res, target, watchPath });
  }
  return statusResponse(
    new KubeStatusError(404, "NotFound", "the server could not find the requested resource"),
  );
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
