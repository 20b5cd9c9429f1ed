/**
 * `waitForApiServer`: ipamd's bounded start-up wait for the Kubernetes API server.
 * @module
 */
import { type KubePort, KubeUnreachableError } from "./port.ts";

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
    await abortableSleep(Math.min(delay, left), o.signal);
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

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
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
