/**
 * Talking to ipamd's unix socket from tests: one reused HTTP client per daemon, and the pod keys the
 * ipamd tests allocate for.
 * @module
 */
import { unixFetch } from "../../src/common/unix_fetch.ts";

/** An ipamd's unix socket. A request that gets no answer answers status 0 with the reason. */
export class IpamdSocket {
  constructor(readonly path: string) {}

  /** GET `path`, or POST `body` as JSON. */
  // deno-lint-ignore no-explicit-any -- JSON answers, checked field by field
  async call(path: string, body?: unknown): Promise<{ status: number; body: any }> {
    try {
      const r = await unixFetch(this.path, path, {
        method: body === undefined ? "GET" : "POST",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    } catch (e) {
      return { status: 0, body: { error: { reason: "unreachable", message: String(e) } } };
    }
  }

  /** Nothing to release (each call has its own connection); kept for callers' finally blocks. */
  close(): void {}
}

/** The add-network key of test pod i: container `c0007`, pod `default/pod-7`. */
export const testPod = (i: number) => ({
  netName: "aws-cni",
  containerId: `c${String(i).padStart(4, "0")}`,
  ifName: "eth0",
  k8sPodNamespace: "default",
  k8sPodName: `pod-${i}`,
});
