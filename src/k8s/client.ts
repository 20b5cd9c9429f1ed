/**
 * `ClientNodeKube`: the Kubernetes port over `@kubernetes/client-node`: its kubeconfig reading and auth
 * (kube_config.ts), its `Watch` for the watches, and the few REST calls ipamd makes as plain JSON requests
 * over the same transport (kube_request.ts). client-node's generated API (`CoreV1Api`, …) is not loaded: it
 * and its 2,556 models were ~55 MiB of ipamd's RSS for six calls (docs/PERFORMANCE.md). Plus
 * `waitForApiServer`, the bounded start-up wait. Connection failures become `KubeUnreachableError`, error
 * `Status` answers `KubeApiError`.
 */

import { Watch } from "@kubernetes/client-node/dist/watch.js";
import { KubeAccess } from "./kube_config.ts";
import { type KubeRequest, kubeRequest, statusError, UNREACHABLE_CODES } from "./kube_request.ts";
import {
  type EniConfigSpec,
  KubeApiError,
  type KubePort,
  KubeUnreachableError,
  type NodeInfo,
  type PodEvent,
  type PodInfo,
} from "./port.ts";

/** Tuning for `ClientNodeKube`. */
export interface ClientNodeKubeOptions {
  /** Per-request timeout for non-watch calls, ms (default 10000). */
  requestTimeoutMs?: number;
  /** Server-side length of one watch request, s (default 300); the client gives up 30 s after that. */
  watchTimeoutSeconds?: number;
  /** First reconnect delay after a failure, ms (default 250); doubles per failure. */
  minBackoffMs?: number;
  /** Reconnect delay cap, ms (default 10000). */
  maxBackoffMs?: number;
  /** Namespace for recorded events (default "default"). */
  eventNamespace?: string;
  /** Reporting component for recorded events (default "aws-node"). */
  component?: string;
  /** Diagnostics (reconnects, swallowed errors); default silent. */
  log?: (message: string) => void;
}

/** The ENIConfig custom resources (cluster-scoped). */
const ENICONFIGS = "/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs";

// deno-lint-ignore no-explicit-any -- raw JSON objects from the API server
type Raw = any;

interface WatchOnceResult {
  /** The server said 410 Gone: re-list. */
  gone: boolean;
  /** Events (not bookmarks) delivered. */
  events: number;
}

/** The Kubernetes port over `@kubernetes/client-node`. */
export class ClientNodeKube implements KubePort {
  /** The API server URL. */
  readonly server: string;
  readonly #access: KubeAccess;
  readonly #watch: Watch;
  readonly #o: Required<Omit<ClientNodeKubeOptions, "log">> & { log: (m: string) => void };

  constructor(access: KubeAccess, opts: ClientNodeKubeOptions = {}) {
    this.server = access.server;
    this.#access = access;
    // deno-lint-ignore no-explicit-any -- Watch wants a KubeConfig; it calls only what KubeAccess has
    this.#watch = new Watch(access as any);
    this.#o = {
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
      minBackoffMs: opts.minBackoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      eventNamespace: opts.eventNamespace ?? "default",
      component: opts.component ?? "aws-node",
      log: opts.log ?? (() => {}),
    };
  }

  /** From a kubeconfig file. */
  static async fromKubeconfig(path: string, opts?: ClientNodeKubeOptions): Promise<ClientNodeKube> {
    return new ClientNodeKube(await KubeAccess.fromFile(path), opts);
  }

  /**
   * From the environment: `$KUBECONFIG` (a file), else the in-cluster service account
   * (`$KUBERNETES_SERVICE_HOST`), else `~/.kube/config`. `$CLUSTER_ENDPOINT` then replaces the API server's
   * address (upstream's rest config Host), so ipamd need not wait for kube-proxy to program the Service's
   * ClusterIP; the credentials stay those of the loaded config.
   */
  static async fromEnv(
    env: Record<string, string | undefined> = Deno.env.toObject(),
    opts?: ClientNodeKubeOptions,
  ): Promise<ClientNodeKube> {
    const access = await KubeAccess.fromEnv(env);
    const endpoint = env.CLUSTER_ENDPOINT?.trim().replace(/\/$/, "");
    return new ClientNodeKube(endpoint ? access.withServer(endpoint) : access, opts);
  }

  async version(): Promise<{ gitVersion: string }> {
    const v: Raw = await this.#call("/version");
    return { gitVersion: v?.gitVersion };
  }

  async getNode(name: string): Promise<NodeInfo> {
    return toNodeInfo(await this.#call(`/api/v1/nodes/${encodeURIComponent(name)}`));
  }

  async listPodsOnNode(nodeName: string): Promise<PodInfo[]> {
    return (await this.#listPods(nodeName)).pods;
  }

  async getEniConfig(name: string): Promise<EniConfigSpec | undefined> {
    try {
      const o: Raw = await this.#call(`${ENICONFIGS}/${encodeURIComponent(name)}`);
      const spec = o?.spec ?? {};
      return {
        name: o?.metadata?.name ?? name,
        subnet: typeof spec.subnet === "string" ? spec.subnet : "",
        securityGroups: Array.isArray(spec.securityGroups) ? spec.securityGroups.map(String) : [],
      };
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async annotatePod(
    namespace: string,
    name: string,
    key: string,
    value: string,
    o: { ifCurrently?: string } = {},
  ): Promise<boolean> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
    const pod: Raw = await this.#call(path);
    const annotations = pod?.metadata?.annotations;
    const current = annotations?.[key];
    if (current === value || (o.ifCurrently !== undefined && current !== o.ifCurrently)) return false;
    // JSON pointer escaping (RFC 6901): "~" → "~0", "/" → "~1".
    const at = `/metadata/annotations/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
    const body = !annotations
      ? [{ op: "add", path: "/metadata/annotations", value: { [key]: value } }]
      : [...(o.ifCurrently !== undefined ? [{ op: "test", path: at, value: o.ifCurrently }] : []), {
        op: "add",
        path: at,
        value,
      }];
    await this.#call(path, { method: "PATCH", contentType: "application/json-patch+json", body });
    return true;
  }

  async recordEvent(
    e: { nodeName: string; reason: string; message: string; type: "Normal" | "Warning" },
  ): Promise<void> {
    const now = new Date().toISOString();
    const ns = this.#o.eventNamespace;
    try {
      await this.#call(`/api/v1/namespaces/${encodeURIComponent(ns)}/events`, {
        method: "POST",
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${e.nodeName}.`, namespace: ns },
          // Node events name the node as its uid, as the kubelet does.
          involvedObject: { apiVersion: "v1", kind: "Node", name: e.nodeName, uid: e.nodeName },
          reason: e.reason,
          message: e.message,
          type: e.type,
          source: { component: this.#o.component, host: e.nodeName },
          reportingComponent: this.#o.component,
          reportingInstance: e.nodeName,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.#o.log(`recordEvent ${e.reason} failed (ignored): ${(err as Error).message}`);
    }
  }

  async watchPodsOnNode(
    nodeName: string,
    onEvent: (e: PodEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const fieldSelector = `spec.nodeName=${nodeName}`;
    const deliver = (e: PodEvent) => {
      try {
        onEvent(e);
      } catch (err) {
        this.#o.log(`pod watch handler threw (ignored): ${(err as Error).message}`);
      }
    };
    let rv: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await this.#listPods(nodeName);
          if (signal.aborted) break;
          rv = list.resourceVersion;
          deliver({ type: "RESYNC", pods: list.pods });
        }
        const started = Date.now();
        const r = await this.#watchOnce(
          "/api/v1/pods",
          { fieldSelector, resourceVersion: rv },
          (type, obj) => {
            const objRv = obj?.metadata?.resourceVersion;
            if (typeof objRv === "string" && objRv !== "") rv = objRv;
            if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
              deliver({ type, pod: toPodInfo(obj) });
            }
          },
          signal,
        );
        if (r.gone) {
          this.#o.log(`pod watch on ${nodeName}: resourceVersion ${rv} expired, re-listing`);
          rv = undefined;
          continue;
        }
        // A stream that ends at once with nothing in it repeatedly is a failure, not a timeout.
        failures = r.events > 0 || Date.now() - started > 1000 ? 0 : failures + 1;
      } catch (e) {
        failures++;
        this.#o.log(`pod watch on ${nodeName} failed (attempt ${failures}): ${(e as Error).message}`);
      }
      if (failures > 0) await sleep(this.#backoff(failures), signal);
    }
  }

  async watchNode(name: string, onChange: (n: NodeInfo) => void, signal: AbortSignal): Promise<void> {
    const fieldSelector = `metadata.name=${name}`;
    let last: string | undefined;
    const deliver = (raw: Raw) => {
      const info = toNodeInfo(raw);
      const key = JSON.stringify([
        sortKeys(info.labels),
        sortKeys(info.annotations),
        info.providerId ?? null,
        info.unschedulable,
      ]);
      if (key === last) return;
      last = key;
      try {
        onChange(info);
      } catch (err) {
        this.#o.log(`node watch handler threw (ignored): ${(err as Error).message}`);
      }
    };
    let rv: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list: Raw = await this.#call("/api/v1/nodes", { query: { fieldSelector } });
          if (signal.aborted) break;
          rv = String(list?.metadata?.resourceVersion ?? "0");
          if (list?.items?.[0]) deliver(list.items[0]);
        }
        const started = Date.now();
        const r = await this.#watchOnce(
          "/api/v1/nodes",
          { fieldSelector, resourceVersion: rv },
          (type, obj) => {
            const objRv = obj?.metadata?.resourceVersion;
            if (typeof objRv === "string" && objRv !== "") rv = objRv;
            if (type === "ADDED" || type === "MODIFIED") deliver(obj);
          },
          signal,
        );
        if (r.gone) {
          rv = undefined;
          continue;
        }
        failures = r.events > 0 || Date.now() - started > 1000 ? 0 : failures + 1;
      } catch (e) {
        failures++;
        this.#o.log(`node watch on ${name} failed (attempt ${failures}): ${(e as Error).message}`);
      }
      if (failures > 0) await sleep(this.#backoff(failures), signal);
    }
  }

  async #listPods(nodeName: string): Promise<{ pods: PodInfo[]; resourceVersion: string }> {
    const pods: PodInfo[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const page: Raw = await this.#call("/api/v1/pods", {
        query: { fieldSelector: `spec.nodeName=${nodeName}`, limit: 500, continue: cont },
      });
      resourceVersion ??= page?.metadata?.resourceVersion;
      for (const p of page?.items ?? []) pods.push(toPodInfo(p));
      cont = page?.metadata?.continue || undefined;
    } while (cont);
    return { pods, resourceVersion: resourceVersion ?? "0" };
  }

  /** One watch request; resolves when the stream ends (or `signal` aborts), rejects on connection errors. */
  #watchOnce(
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
          this.server,
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
        else if (err && !isAbort(err)) reject(this.#map(err));
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

  /** Runs one API call with a request timeout, mapping errors. */
  async #call<T = Raw>(path: string, r: Omit<KubeRequest, "signal"> = {}): Promise<T> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.#o.requestTimeoutMs);
    try {
      return await kubeRequest<T>(this.#access, path, { ...r, signal: ac.signal });
    } catch (e) {
      if (ac.signal.aborted) {
        throw new KubeUnreachableError(this.server, `no answer within ${this.#o.requestTimeoutMs} ms`);
      }
      throw this.#map(e);
    } finally {
      clearTimeout(timer);
    }
  }

  #map(e: unknown): Error {
    if (e instanceof KubeUnreachableError || e instanceof KubeApiError) return e;
    const err = e as { code?: string; type?: string; message?: string; statusCode?: number; name?: string };
    if (typeof err?.statusCode === "number") return statusError(err.statusCode, err.message ?? "");
    if (
      (err?.code && UNREACHABLE_CODES.has(err.code)) || err?.type === "system" ||
      err?.type === "request-timeout" ||
      err?.name === "FetchError" || e instanceof TypeError && /fetch|connect|network/i.test(err.message ?? "")
    ) {
      return new KubeUnreachableError(this.server, err.message ?? String(e));
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  #backoff(failures: number): number {
    const base = Math.min(this.#o.maxBackoffMs, this.#o.minBackoffMs * 2 ** Math.min(failures - 1, 20));
    return base / 2 + Math.random() * base / 2;
  }
}

/**
 * Calls `kube.version()` until it answers, backing off (250 ms doubling to 5 s) and giving up after
 * `timeoutMs` with `KubeUnreachableError` (ipamd then exits non-zero). Non-connection errors (e.g. a 503)
 * are retried too. Aborting `signal` also ends the wait with `KubeUnreachableError`.
 */
export async function waitForApiServer(
  kube: KubePort,
  o: {
    timeoutMs: number;
    signal?: AbortSignal;
    minDelayMs?: number;
    maxDelayMs?: number;
    log?: (m: string) => void;
  },
): Promise<{ gitVersion: string }> {
  const deadline = Date.now() + o.timeoutMs;
  const server = (kube as { server?: string }).server ?? "(unknown)";
  let delay = o.minDelayMs ?? 250;
  let last: unknown;
  for (let attempt = 1;; attempt++) {
    if (o.signal?.aborted) break;
    try {
      return await kube.version();
    } catch (e) {
      last = e;
      o.log?.(`API server not ready (attempt ${attempt}): ${(e as Error).message}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(delay, left), o.signal);
    delay = Math.min(delay * 2, o.maxDelayMs ?? 5000);
  }
  if (last instanceof KubeUnreachableError) {
    throw new KubeUnreachableError(last.server, `gave up after ${o.timeoutMs} ms: ${last.message}`);
  }
  throw new KubeUnreachableError(
    server,
    `gave up after ${o.timeoutMs} ms: ${(last as Error)?.message ?? "aborted"}`,
  );
}

/** Converts a Pod (typed or raw JSON) to `PodInfo`. */
export function toPodInfo(p: Raw): PodInfo {
  const info: PodInfo = {
    namespace: p?.metadata?.namespace ?? "",
    name: p?.metadata?.name ?? "",
    uid: p?.metadata?.uid ?? "",
    nodeName: p?.spec?.nodeName ?? "",
    deleting: p?.metadata?.deletionTimestamp !== undefined && p?.metadata?.deletionTimestamp !== null,
  };
  if (p?.status?.podIP) info.podIp = p.status.podIP;
  if (p?.status?.phase) info.phase = p.status.phase;
  return info;
}

/** Converts a Node (typed or raw JSON) to `NodeInfo`. */
export function toNodeInfo(n: Raw): NodeInfo {
  const taints: Raw[] = Array.isArray(n?.spec?.taints) ? n.spec.taints : [];
  const info: NodeInfo = {
    name: n?.metadata?.name ?? "",
    labels: { ...(n?.metadata?.labels ?? {}) },
    annotations: { ...(n?.metadata?.annotations ?? {}) },
    unschedulable: n?.spec?.unschedulable === true ||
      taints.some((t) => t?.key === "node.kubernetes.io/unschedulable" && t?.effect === "NoSchedule"),
  };
  if (n?.spec?.providerID) info.providerId = n.spec.providerID;
  return info;
}

function sortKeys(m: Record<string, string>): [string, string][] {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function isAbort(e: unknown): boolean {
  const err = e as { name?: string; type?: string };
  return err?.name === "AbortError" || err?.type === "aborted";
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
