/**
 * Is ipamd healthy? One probe over its unix socket (`GET /v1/status` must answer 200 `{ready: true}`) or a URL
 * (200), and a poller around it for `ipamd install`. `ipamd health` (health_command.ts) is the same probe as an
 * exec probe for the DaemonSet, like upstream's grpc-health-probe.
 * @module
 */
import { parseArgs } from "node:util";
import { IPAMD_SOCKET_DEFAULT } from "../cni/api.ts";

/** A probe's outcome; `status` is ipamd's `GET /v1/status` answer when a socket said ready. */
export interface Probe {
  ok: boolean;
  why: string;
  status?: { ready: true; iptablesBackend?: string };
}

/**
 * One health probe: a URL must answer 200; a socket path must answer `GET /v1/status` 200 `{ready:true}`.
 * The socket request's URL host is an IP literal: with a name, fetch resolves it through DNS even over a unix
 * socket, which stalls on a node whose resolver is unreachable.
 */
export async function probeHealthy(target: string, timeoutMs = 2000): Promise<Probe> {
  const signal = AbortSignal.timeout(timeoutMs);
  const isUrl = /^https?:\/\//.test(target);
  const client = isUrl ? undefined : Deno.createHttpClient({ proxy: { transport: "unix", path: target } });
  try {
    const r = await fetch(isUrl ? target : "http://127.0.0.1/v1/status", { client, signal });
    const text = await r.text();
    if (r.status !== 200) return { ok: false, why: `HTTP ${r.status}: ${text.slice(0, 200).trim()}` };
    if (isUrl) return { ok: true, why: "" };
    const status = JSON.parse(text);
    if (status?.ready !== true) return { ok: false, why: `not ready: ${text.slice(0, 200)}` };
    return { ok: true, why: "", status };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  } finally {
    client?.close();
  }
}

/**
 * Polls {@link probeHealthy} until it passes, resolving with the passing probe; throws after `timeoutMs` (or
 * when `signal` aborts).
 */
export async function waitHealthy(
  target: string,
  o: { timeoutMs: number; pollMs?: number; signal?: AbortSignal; log?: (m: string) => void },
): Promise<Probe> {
  const deadline = Date.now() + o.timeoutMs;
  let last = "";
  for (let attempt = 1;; attempt++) {
    if (o.signal?.aborted) throw new Error(`stopped waiting for ipamd at ${target}: ${last || "aborted"}`);
    const p = await probeHealthy(target, Math.max(1, Math.min(2000, deadline - Date.now())));
    if (p.ok) return p;
    if (p.why !== last) o.log?.(`ipamd at ${target} not healthy yet (attempt ${attempt}): ${p.why}`);
    last = p.why;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(`ipamd at ${target} did not answer healthy within ${o.timeoutMs / 1000} s: ${last}`);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.min(o.pollMs ?? 500, left));
      function done() {
        clearTimeout(t);
        o.signal?.removeEventListener("abort", done);
        resolve();
      }
      o.signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * `ipamd health [--socket PATH] [--timeout S]`: the DaemonSet's exec probe (upstream's grpc-health-probe
 * against ipamd's port 50051). Exit 0 and `ok` when ipamd answers ready on its unix socket; else exit 1 and
 * why on stderr. Needs neither the introspection server nor the metrics port.
 */
export async function healthMain(args: string[], env = Deno.env.toObject()): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { socket: { type: "string" }, timeout: { type: "string" } },
    }));
  } catch (e) {
    console.error(
      `ipamd health: ${(e as Error).message}\nusage: ipamd health [--socket PATH] [--timeout SECONDS]`,
    );
    return 2;
  }
  const socket = values.socket ?? (env.IPAMD_SOCKET?.trim() || IPAMD_SOCKET_DEFAULT);
  const seconds = Number(values.timeout ?? "5");
  if (!(seconds > 0)) {
    console.error(`ipamd health: --timeout ${values.timeout}: expected seconds > 0`);
    return 2;
  }
  const p = await probeHealthy(socket, seconds * 1000);
  if (p.ok) {
    console.log("ok");
    return 0;
  }
  console.error(`ipamd health: not healthy (${socket}): ${p.why}`);
  return 1;
}
