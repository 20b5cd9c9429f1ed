/**
 * A tiny TCP server and client run inside network namespaces (via `nsenter` and `deno eval`), for tests that
 * prove a pod or a host port answers.
 * @module
 */
import assert from "node:assert/strict";
import { inNetns, netnsPath } from "../../harness/libcni.ts";

/** Starts a TCP server in `ns` that answers `reply` to every connection; resolves once it listens. */
export async function podServer(ns: string, port: number, reply: string): Promise<{ stop(): Promise<void> }> {
  const code = `const l = Deno.listen({ hostname: "0.0.0.0", port: ${port} }); console.log("listening");
    for await (const c of l) { await c.write(new TextEncoder().encode(${
    JSON.stringify(reply)
  })); c.close(); }`;
  const child = new Deno.Command("nsenter", {
    args: [`--net=${netnsPath(ns)}`, "--", Deno.execPath(), "eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  assert.match(new TextDecoder().decode(first.value ?? new Uint8Array()), /listening/);
  return {
    async stop() {
      child.kill("SIGKILL");
      await child.stdout.cancel();
      await child.status;
    },
  };
}

/** Connects from `ns` to host:port and returns what the server sent (untrimmed); gives up after `timeoutS`. */
export function tcpFetch(ns: string, host: string, port: number, timeoutS = 5): Promise<string> {
  const code = `const c = await Deno.connect({ hostname: "${host}", port: ${port} });
    const b = new Uint8Array(64); const k = await c.read(b); console.log(new TextDecoder().decode(b.subarray(0, k ?? 0)));`;
  return inNetns(ns, ["timeout", String(timeoutS), Deno.execPath(), "eval", code]);
}
