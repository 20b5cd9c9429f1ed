/**
 * Watches over client-node's `Watch`: one watch request at a time (`watchOnce`), and the list-then-watch loop
 * ipamd's two watches share (`listAndWatch`): re-list after 410 Gone, back off after failures, resume from the
 * last resourceVersion seen.
 * @module
 */
import type { Watch } from "@kubernetes/client-node/dist/watch.js";
import { abortableSleep } from "./api_server_wait.ts";
import type { Raw } from "./kube_objects.ts";
import { toKubeError } from "./kube_request.ts";
import { KubeApiError, KubeUnreachableError } from "./port.ts";

/** How one watch request ended. */
export interface WatchOnceResult {
  /** The server said 410 Gone: re-list. */
  gone: boolean;
  /** Events (not bookmarks) delivered. */
  events: number;
}

/** Timing of {@link KubeWatcher} (the client's options). */
export interface KubeWatcherOptions {
  /** No answer to the watch request within this: `KubeUnreachableError`. */
  requestTimeoutMs: number;
  /** Server-side length of one watch request; the client gives up 30 s after that. */
  watchTimeoutSeconds: number;
  /** First reconnect delay after a failure; doubles per failure up to `maxBackoffMs`. */
  minBackoffMs: number;
  maxBackoffMs: number;
  log: (message: string) => void;
}

/** One collection to list and then watch. */
export interface ListAndWatch {
  /** For log lines, e.g. "pod watch on node-1". */
  what: string;
  /** Lists the collection: its resourceVersion, and how to hand the listed objects on. */
  list(): Promise<{ resourceVersion: string; deliver(): void }>;
  /** Every watch event but ERROR (BOOKMARK included): its type and object. */
  onEvent(type: string, obj: Raw): void;
}

/** Watch requests against one API server. */
export class KubeWatcher {
  readonly #watch: Watch;
  readonly #server: string;
  readonly #o: KubeWatcherOptions;

  constructor(watch: Watch, server: string, o: KubeWatcherOptions) {
    this.#watch = watch;
    this.#server = server;
    this.#o = o;
  }

  /**
   * Lists, then watches `path` from the list's resourceVersion until `signal` aborts: after 410 Gone it lists
   * again; a failure (or a stream that ends at once, empty) backs off before the next try.
   */
  async listAndWatch(
    path: string,
    params: Record<string, string>,
    lw: ListAndWatch,
    signal: AbortSignal,
  ): Promise<void> {
    let rv: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const listed = await lw.list();
          if (signal.aborted) break;
          rv = listed.resourceVersion;
          listed.deliver();
        }
        const started = Date.now();
        const r = await this.watchOnce(path, { ...params, resourceVersion: rv }, (type, obj) => {
          const objRv = obj?.metadata?.resourceVersion;
          if (typeof objRv === "string" && objRv !== "") rv = objRv;
          lw.onEvent(type, obj);
        }, signal);
        if (r.gone) {
          this.#o.log(`${lw.what}: resourceVersion ${rv} expired, re-listing`);
          rv = undefined;
          continue;
        }
        // A stream that ends at once with nothing in it repeatedly is a failure, not a timeout.
        failures = r.events > 0 || Date.now() - started > 1000 ? 0 : failures + 1;
      } catch (e) {
        failures++;
        this.#o.log(`${lw.what} failed (attempt ${failures}): ${(e as Error).message}`);
      }
      if (failures > 0) await abortableSleep(this.#backoff(failures), signal);
    }
  }

  /** One watch request; resolves when the stream ends (or `signal` aborts), rejects on connection errors. */
  watchOnce(
    path: string,
    params: Record<string, string>,
    onObject: (type: string, obj: Raw) => void,
    signal: AbortSignal,
  ): Promise<WatchOnceResult> {
    return new Promise((resolve, reject) => {
      const result: WatchOnceResult = { gone: false, events: 0 };
      let controller: AbortController | undefined;
      let settled = false;
      let failure: Error | undefined;
      // Before the response arrives there is no controller: settle at once (a late response is aborted).
      const stop = () => (controller ? controller.abort() : finish(null));
      const guard = setTimeout(stop, (this.#o.watchTimeoutSeconds + 30) * 1000);
      const connect = setTimeout(() => {
        if (controller) return;
        failure = new KubeUnreachableError(
          this.#server,
          `watch: no answer within ${this.#o.requestTimeoutMs} ms`,
        );
        finish(null);
      }, this.#o.requestTimeoutMs);
      const finish = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        clearTimeout(connect);
        signal.removeEventListener("abort", stop);
        controller?.abort();
        if (signal.aborted || result.gone) resolve(result);
        else if (failure) reject(failure);
        else if (err && !isAbort(err)) reject(toKubeError(this.#server, err));
        else resolve(result);
      };
      signal.addEventListener("abort", stop, { once: true });
      this.#watch.watch(
        path,
        { ...params, allowWatchBookmarks: true, timeoutSeconds: this.#o.watchTimeoutSeconds },
        (type: string, obj: Raw) => {
          if (settled) return;
          if (type === "ERROR") {
            if (obj?.code === 410) result.gone = true;
            else {failure = new KubeApiError(
                obj?.code ?? 500,
                obj?.reason ?? "",
                obj?.message ?? "watch error",
              );}
            stop();
            return;
          }
          if (type !== "BOOKMARK") result.events++;
          onObject(type, obj);
        },
        finish,
      ).then((c) => {
        controller = c;
        if (settled || signal.aborted) c.abort();
      }, finish);
    }).then((r) => r as WatchOnceResult, (e) => {
      // A 410 answered as an HTTP status (rather than an in-stream ERROR event) means the same.
      if (e instanceof KubeApiError && e.code === 410) return { gone: true, events: 0 };
      throw e;
    });
  }

  #backoff(failures: number): number {
    const base = Math.min(this.#o.maxBackoffMs, this.#o.minBackoffMs * 2 ** Math.min(failures - 1, 20));
    return base / 2 + Math.random() * base / 2;
  }
}

function isAbort(e: unknown): boolean {
  const err = e as { name?: string; type?: string };
  return err?.name === "AbortError" || err?.type === "aborted";
}
