/**
 * `POST /lab/pods/run` on lab.sock: the daemon itself adds a pod as a kubelet + runtime would (runtime_pod.ts
 * `podAdd`, retrying a CNI "try again later" as kubelet does), with the Kubernetes side done on its own store.
 * `lab pod add` is then one request, and no process of the lab's own per pod: only the plugins the node's
 * conflist names run.
 * @module
 */
import { LabApiError, labFetch } from "./daemon_client.ts";
import { retryLikeKubelet } from "./kubelet_retry.ts";
import type { PodRecord } from "./lab_state.ts";
import type { KubeStore } from "./k8s_store.ts";
import type { LabNames } from "./naming.ts";
import { CniPluginError } from "./runtime.ts";
import { podAdd, type PodAddOptions, type PodApi, PodError } from "./runtime_pod.ts";

/** How long the daemon keeps retrying a pod whose ADD answered CNI code 11. */
export const POD_RUN_BUDGET_MS = 60_000;

/** The request body. */
export interface PodRunRequest extends PodAddOptions {
  name?: string;
}

/** {@linkcode PodApi} on the daemon's store (node index → its Node name by `nodeName`). */
export function storePodApi(store: KubeStore, nodeName: (node: number) => string | undefined): PodApi {
  return {
    create: (namespace, name, node) => {
      const nn = nodeName(node);
      if (!nn) return Promise.reject(new PodError(`no node ${node}`));
      const p = store.createPod({ namespace, name, nodeName: nn }) as { metadata: { uid: string } };
      return Promise.resolve({ uid: p.metadata.uid });
    },
    setIp: (namespace, name, ip) => Promise.resolve(void store.setPodIp(namespace, name, ip)),
    remove: (namespace, name) => Promise.resolve(void store.deletePod(namespace, name)),
  };
}

/** The answer: the pod record (201), or the error with its HTTP status and, for a plugin, its CNI error. */
export async function runPod(
  names: LabNames,
  api: PodApi,
  b: PodRunRequest,
  log: (line: string) => void = () => {},
): Promise<{ status: number; body: unknown }> {
  if (!b.name) return { status: 400, body: { error: "pods/run: need a name" } };
  const name = b.name;
  try {
    const rec = await retryLikeKubelet(() => podAdd(names, name, b, api), {
      retryable: (e) => e instanceof CniPluginError && e.code === 11,
      budgetMs: POD_RUN_BUDGET_MS,
      onRetry: (e, ms) => log(`daemon: pod ${name}: ${(e as CniPluginError).msg}; again in ${ms} ms`),
    });
    return { status: 201, body: rec };
  } catch (e) {
    if (e instanceof PodError) return { status: 409, body: { error: e.message } };
    if (e instanceof CniPluginError) {
      const { plugin, command, code, msg, details } = e;
      return { status: 502, body: { error: e.message, cni: { plugin, command, code, msg, details } } };
    }
    throw e;
  }
}

/** `lab pod add` as a client: one request; a plugin's error comes back as the CniPluginError it was. */
export async function labPodRun(names: LabNames, name: string, o: PodAddOptions = {}): Promise<PodRecord> {
  const r = await labFetch(names, "/lab/pods/run", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...o, name }),
    // The daemon retries for up to POD_RUN_BUDGET_MS, and a plugin may take up to 2 minutes.
    timeoutMs: POD_RUN_BUDGET_MS + 180_000,
  });
  const text = await r.text();
  if (r.status === 201) return JSON.parse(text) as PodRecord;
  let body: {
    error?: string;
    cni?: { plugin: string; command: string; code: number; msg: string; details: string };
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw new LabApiError(r.status, "/lab/pods/run", text);
  }
  const c = body.cni;
  if (c) throw new CniPluginError(c.plugin, c.command, c.code, c.msg, c.details);
  if (r.status === 409 || r.status === 400) throw new PodError(body.error ?? text);
  throw new LabApiError(r.status, "/lab/pods/run", text);
}
