/**
 * The lab API server's watch streams (`?watch=1` and `/watch/` paths), one JSON event per line.
 *
 * - A resourceVersion older than the history gets one ERROR event (410 Expired) and the stream ends.
 * - With `allowWatchBookmarks`, BOOKMARK events carry the newest resourceVersion every `bookmarkIntervalMs`.
 * - Watch-list (`sendInitialEvents=true&resourceVersionMatch=NotOlderThan`, KEP-3157): the current objects
 *   stream as ADDED, then (when bookmarks are allowed) one BOOKMARK at the resourceVersion they were read at,
 *   annotated `k8s.io/initial-events-end: "true"`; later changes follow.
 */

import { COLLECTIONS } from "./k8s_collections.ts";
import { present, type Resource } from "./k8s_api_resources.ts";
import { INITIAL_EVENTS_END, type ListQuery } from "./k8s_list_options.ts";
import type { KubeServerContext } from "./k8s_server.ts";
import { KubeStatusError } from "./k8s_status.ts";

const encoder = new TextEncoder();

/** Where and what to watch. */
export interface WatchScope {
  res: Resource;
  namespace?: string;
  /** The field selector in stored field names. */
  fieldSelector?: string;
}

/** Serves a watch. */
export function serveWatch(ctx: KubeServerContext, req: Request, scope: WatchScope, q: ListQuery): Response {
  const stream = new WatchStream(ctx, req, scope.res);
  try {
    const watcher = ctx.store.watch(scope.res.collection, {
      namespace: scope.namespace,
      fieldSelector: scope.fieldSelector,
      labelSelector: q.labelSelector,
      resourceVersion: q.resourceVersion,
      sendInitialEvents: q.sendInitialEvents,
    }, (e) => stream.send({ type: e.type, object: present(scope.res, e.object) }));
    stream.watcher = watcher;
    if (q.sendInitialEvents && q.allowWatchBookmarks) {
      stream.bookmark(watcher.startResourceVersion, { [INITIAL_EVENTS_END]: "true" });
    }
  } catch (e) {
    if (e instanceof KubeStatusError && e.code === 410) {
      stream.send({ type: "ERROR", object: e.toStatus() });
      stream.end();
      return stream.response();
    }
    stream.end();
    throw e;
  }
  if (req.signal.aborted || ctx.opts.signal?.aborted) {
    stream.end();
    return stream.response();
  }
  stream.keepOpen(q.timeoutSeconds ?? ctx.opts.defaultWatchTimeoutSeconds ?? 1800, q.allowWatchBookmarks);
  return stream.response();
}

/** One watch response body: events are queued as JSON lines; ending it releases the store watcher. */
class WatchStream {
  watcher?: { close(): void };
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #stream: ReadableStream<Uint8Array>;
  #ended = false;
  #timers: { end?: ReturnType<typeof setTimeout>; bookmark?: ReturnType<typeof setInterval> } = {};
  #end = () => this.end();

  constructor(readonly ctx: KubeServerContext, readonly req: Request, readonly res: Resource) {
    this.#stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      cancel: () => this.end(),
    });
  }

  /** Queues one event; a client that stopped reading is dropped (it re-watches), as the API server does. */
  send(v: unknown): void {
    if (this.#ended) return;
    try {
      this.#controller.enqueue(encoder.encode(JSON.stringify(v) + "\n"));
      if ((this.#controller.desiredSize ?? 0) < -(this.ctx.opts.maxQueuedEvents ?? 10_000)) this.end();
    } catch {
      this.end();
    }
  }

  /** Sends a BOOKMARK at `resourceVersion`, with annotations when given. */
  bookmark(resourceVersion: string, annotations?: Record<string, string>): void {
    const metadata: Record<string, unknown> = { resourceVersion };
    if (annotations) metadata.annotations = annotations;
    const info = COLLECTIONS[this.res.collection];
    this.send({ type: "BOOKMARK", object: { kind: info.kind, apiVersion: this.res.apiVersion, metadata } });
    if (!this.#ended) this.ctx.bookmarksSent++;
  }

  /** Keeps the watch open until its timeout, the client leaves or the handler closes; bookmarks periodically. */
  keepOpen(timeoutSeconds: number, bookmarks: boolean): void {
    this.ctx.watches.add(this.#end);
    this.req.signal.addEventListener("abort", this.#end);
    this.#timers.end = setTimeout(this.#end, timeoutSeconds * 1000);
    if (bookmarks) {
      this.#timers.bookmark = setInterval(
        () => this.bookmark(this.ctx.store.resourceVersion),
        this.ctx.opts.bookmarkIntervalMs ?? 10_000,
      );
    }
  }

  /** Ends the stream (idempotent). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.watcher?.close();
    if (this.#timers.end !== undefined) clearTimeout(this.#timers.end);
    if (this.#timers.bookmark !== undefined) clearInterval(this.#timers.bookmark);
    this.req.signal.removeEventListener("abort", this.#end);
    this.ctx.watches.delete(this.#end);
    try {
      this.#controller.close();
    } catch {
      // already closed or errored by a disconnect
    }
  }

  response(): Response {
    return new Response(this.#stream, {
      status: 200,
      headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
    });
  }
}
