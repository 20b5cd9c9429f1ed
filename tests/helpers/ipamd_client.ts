/**
 * Talking to ipamd's unix socket from tests: one reused HTTP client per daemon, and the pod keys the
 * ipamd tests allocate for.
 * @module
 */

/** One unix-socket client per ipamd. A failed request answers status 0 and reconnects on the next call. */
export class IpamdSocket {
  #client?: Deno.HttpClient;
  constructor(readonly path: string) {}

  /** GET `path`, or POST `body` as JSON. */
  // deno-lint-ignore no-explicit-any -- JSON answers, checked field by field
  async call(path: string, body?: unknown): Promise<{ status: number; body: any }> {
    this.#client ??= Deno.createHttpClient({ proxy: { transport: "unix", path: this.path } });
    try {
      const r = await fetch(`http://ipamd${path}`, {
        client: this.#client,
        method: body === undefined ? "GET" : "POST",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    } catch (e) {
      this.close(); // ipamd restarted: reconnect next time
      return { status: 0, body: { error: { reason: "unreachable", message: String(e) } } };
    }
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

/** The add-network key of test pod i: container `c0007`, pod `default/pod-7`. */
export const testPod = (i: number) => ({
  netName: "aws-cni",
  containerId: `c${String(i).padStart(4, "0")}`,
  ifName: "eth0",
  k8sPodNamespace: "default",
  k8sPodName: `pod-${i}`,
});
