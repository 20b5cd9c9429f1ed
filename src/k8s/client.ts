/**
 * `ClientNodeKube`: the Kubernetes port over `@kubernetes/client-node`: its kubeconfig reading and auth
 * (kube_config.ts), its `Watch` for the two watches (kube_watch.ts), and the few REST calls ipamd makes as
 * plain JSON requests over the same transport (kube_request.ts). client-node's generated API (`CoreV1Api`, …)
 * is not loaded: it and its 2,556 models were ~55 MiB of ipamd's RSS for six calls (docs/PERFORMANCE.md).
 * Connection failures become `KubeUnreachableError`, error `Status` answers `KubeApiError`. Every REST call
 * the client makes is a `this.#call(path, …)` here (tests/manifest_test.ts derives the RBAC from them).
 */

import { Watch } from "@kubernetes/client-node/dist/watch.js";
import { KubeAccess } from "./kube_config.ts";
import { nodeChangeKey, type Raw, toNodeInfo, toPodInfo } from "./kube_objects.ts";
import { type KubeRequest, kubeRequest, toKubeError } from "./kube_request.ts";
import { KubeWatcher } from "./kube_watch.ts";
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

/** The Kubernetes port over `@kubernetes/client-node`. */
export class ClientNodeKube implements KubePort {
  /** The API server URL. */
  readonly server: string;
  readonly #access: KubeAccess;
  readonly #watcher: KubeWatcher;
  readonly #o: Required<Omit<ClientNodeKubeOptions, "log">> & { log: (m: string) => void };

  constructor(access: KubeAccess, opts: ClientNodeKubeOptions = {}) {
    this.server = access.server;
    this.#access = access;
    this.#o = {
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
      minBackoffMs: opts.minBackoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      eventNamespace: opts.eventNamespace ?? "default",
      component: opts.component ?? "aws-node",
      log: opts.log ?? (() => {}),
    };
    // deno-lint-ignore no-explicit-any -- Watch wants a KubeConfig; it calls only what KubeAccess has
    this.#watcher = new KubeWatcher(new Watch(access as any), this.server, this.#o);
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
    const deliver = (e: PodEvent) => {
      try {
        onEvent(e);
      } catch (err) {
        this.#o.log(`pod watch handler threw (ignored): ${(err as Error).message}`);
      }
    };
    await this.#watcher.listAndWatch("/api/v1/pods", { fieldSelector: `spec.nodeName=${nodeName}` }, {
      what: `pod watch on ${nodeName}`,
      list: async () => {
        const { pods, resourceVersion } = await this.#listPods(nodeName);
        return { resourceVersion, deliver: () => deliver({ type: "RESYNC", pods }) };
      },
      onEvent: (type, obj) => {
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
          deliver({ type, pod: toPodInfo(obj) });
        }
      },
    }, signal);
  }

  async watchNode(name: string, onChange: (n: NodeInfo) => void, signal: AbortSignal): Promise<void> {
    const fieldSelector = `metadata.name=${name}`;
    let last: string | undefined;
    const deliver = (raw: Raw) => {
      const info = toNodeInfo(raw);
      const key = nodeChangeKey(info);
      if (key === last) return;
      last = key;
      try {
        onChange(info);
      } catch (err) {
        this.#o.log(`node watch handler threw (ignored): ${(err as Error).message}`);
      }
    };
    await this.#watcher.listAndWatch("/api/v1/nodes", { fieldSelector }, {
      what: `node watch on ${name}`,
      list: async () => {
        const list: Raw = await this.#call("/api/v1/nodes", { query: { fieldSelector } });
        const first = list?.items?.[0];
        return {
          resourceVersion: String(list?.metadata?.resourceVersion ?? "0"),
          deliver: () => first && deliver(first),
        };
      },
      onEvent: (type, obj) => {
        if (type === "ADDED" || type === "MODIFIED") deliver(obj);
      },
    }, signal);
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
      throw toKubeError(this.server, e);
    } finally {
      clearTimeout(timer);
    }
  }
}
