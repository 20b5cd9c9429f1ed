/**
 * A pod's CNI ADD as ipamd's socket API sees it (`POST /v1/add-network`): when ipamd answers "try again
 * later", kubelet retries it (kubelet_retry.ts). The pod is ready when ipamd answers 200: "pod-ready" is
 * measured at the ipamd socket, on both the simulation side (the route called directly, without the HTTP
 * framing) and the lab side (over the socket) of the honesty test, so the comparison is about ipamd's design
 * and not about the lab's sandbox set-up.
 */
import type { IpamdErrorBody } from "../../cni/api.ts";
import type { Clock } from "../../common/clock.ts";
import { ApiError } from "../../ipamd/api_request.ts";
import { retryLikeKubelet } from "../kubelet_retry.ts";

/** What happened to one pod. */
export interface PodOutcome {
  node: number;
  arrivedAt: number;
  readyAt?: number;
  /** add-network requests sent (first one included). */
  attempts: number;
  /** The last refusal, while the pod is not ready (or an unexpected error, which ends it). */
  error?: string;
  /** A refusal that said "do not retry" (kubelet retries anyway: it re-syncs every pod whose sync failed). */
  finalRefusal?: string;
}

/** ipamd answered add-network with an error body. */
export class AddRefused extends Error {
  constructor(readonly status: number, readonly body: IpamdErrorBody["error"]) {
    super(`${status} ${body.reason}: ${body.message}`);
    this.name = "AddRefused";
  }
}

/** ipamd's refusal: over HTTP ({@link AddRefused}) or from the route itself (`ApiError`); else undefined. */
function refusal(e: unknown): { message: string; retryable: boolean } | undefined {
  if (e instanceof AddRefused) return { message: e.message, retryable: e.body.retryable };
  if (e instanceof ApiError) {
    return { message: `${e.status} ${e.reason}: ${e.message}`, retryable: e.retryable };
  }
  return undefined;
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

/**
 * Runs one pod's ADD, retried after `nextDelayMs()` (see kubelet_retry.ts) whatever ipamd answered: kubelet
 * re-syncs a pod whose sandbox failed, CNI code 11 or not (a refusal marked not retryable is noted in
 * `finalRefusal`). Fills `out`; never throws.
 */
export async function runPod(
  send: () => Promise<void>,
  clock: Clock,
  out: PodOutcome,
  nextDelayMs: () => number,
): Promise<void> {
  try {
    await retryLikeKubelet(async () => {
      out.attempts++;
      try {
        await send();
      } catch (e) {
        const r = refusal(e);
        if (r) {
          out.error = r.message;
          if (!r.retryable) out.finalRefusal ??= r.message;
        }
        throw e;
      }
    }, { clock, retryable: (e) => refusal(e) !== undefined, nextDelayMs });
    out.readyAt = clock.now();
    out.error = undefined;
  } catch (e) {
    out.error = (e as Error).message;
  }
}
