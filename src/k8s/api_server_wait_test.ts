import assert from "node:assert/strict";
import { waitForApiServer } from "./api_server_wait.ts";
import { KubeApiError, type KubePort, KubeUnreachableError } from "./port.ts";

Deno.test("waitForApiServer: retries non-connection failures, then gives up with KubeUnreachableError", async () => {
  let calls = 0;
  const flaky: Pick<KubePort, "version"> = {
    version() {
      calls++;
      if (calls < 3) return Promise.reject(new KubeApiError(503, "ServiceUnavailable", "starting"));
      return Promise.resolve({ gitVersion: "v1.31.0" });
    },
  };
  assert.deepEqual(await waitForApiServer(flaky as KubePort, { timeoutMs: 2000, minDelayMs: 10 }), {
    gitVersion: "v1.31.0",
  });
  assert.equal(calls, 3);
  const never = { server: "http://x", version: () => Promise.reject(new KubeApiError(503, "", "down")) };
  await assert.rejects(
    waitForApiServer(never as unknown as KubePort, { timeoutMs: 100, minDelayMs: 10 }),
    (e) => e instanceof KubeUnreachableError && e.server === "http://x",
  );
});
