/** The lab API server's watch streams (`?watch=1` and `/watch/` paths). */

import { COLLECTIONS } from "./k8s_collections.ts";
import { present, type Resource } from "./k8s_api_resources.ts";
import type { KubeServerContext } from "./k8s_server.ts";
import { badRequest, KubeStatusError } from "./k8s_status.ts";

const encoder = new TextEncoder();

/**
 * Serves a watch as a stream of JSON lines. A resourceVersion older than the history gets one ERROR event
 * (410 Expired) and the stream ends; with `allowWatchBookmarks`, BOOKMARK events carry the newest
 * resourceVersion every `bookmarkIntervalMs`.
 */
export function serveWatch(
  ctx: KubeServerContext,
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
      throw badRequest(`invalid timeoutSeconds: ${timeoutText}`);
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
