/**
 * A pod's CNI ADD as ipamd's socket API sees it (`POST /v1/add-network`): when ipamd answers "try again
 * later", kubelet retries it (kubelet_retry.ts). The pod is ready when ipamd answers 200: "pod-ready" is
 * measured at the ipamd socket, on both the simulation side (the route called directly, without the HTTP
 * framing) and the lab side (over the socket) of the honesty test, so the comparison is about ipamd's design
 * and not about the lab's sandbox set-up.
 */
import type { IpamdErrorBody } from "../../cni/api.ts";
import type { Clock } from "../../common/clock.ts";
import { retryLikeKubelet } from "../kubelet_retry.ts";

/** What happened to one pod. */
export interface PodOutcome {
  node: number;
  arrivedAt: number;
  readyAt?: number;
  /** add-network requests sent (first one included). */
  attempts: number;
  /** The final refusal, when the pod failed. */
  error?: string;
}

/** ipamd answered add-network with an error body. */
export class AddRefused extends Error {
  constructor(readonly status: number, readonly body: IpamdErrorBody["error"]) {
    super(`${status} ${body.reason}: ${body.message}`);
    this.name = "AddRefused";
  }
}

/** The add-network body for pod `i` of node `node`. */
export function podRequest(node: number, i: number) {
  return {
    netName: "aws-cni",
    containerId: `n${node}p${i}`,
    ifName: "eth0",
    k8sPodNamespace: "default",
    k8sPodName: `pod-${node}-${i}`,
  };
}

/** Sends one add-network to an HTTP handler; resolves on 200, throws {@link AddRefused} otherwise. */
export async function addOverHttp(
  api: (req: Request) => Promise<Response>,
  body: ReturnType<typeof podRequest>,
): Promise<void> {
  const res = await api(
    new Request("http://ipamd/v1/add-network", { method: "POST", body: JSON.stringify(body) }),
  );
  const json = await res.json();
  if (res.status !== 200) throw new AddRefused(res.status, (json as IpamdErrorBody).error);
}

/** Runs one pod's ADD, retried after `nextDelayMs()` (see kubelet_retry.ts); fills `out`. Never throws. */
export async function runPod(
  send: () => Promise<void>,
  clock: Clock,
  out: PodOutcome,
  nextDelayMs: () => number,
): Promise<void> {
  try {
    await retryLikeKubelet(() => {
      out.attempts++;
      return send();
    }, { clock, retryable: (e) => e instanceof AddRefused && e.body.retryable, nextDelayMs });
    out.readyAt = clock.now();
  } catch (e) {
    out.error = (e as Error).message;
  }
}
