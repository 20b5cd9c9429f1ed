/**
 * What the demo's steps share: its options and output (timestamped lines and section heads), the lab, the
 * pods it made, the checks so far; and ipamd's views over the node's unix socket.
 * @module
 */
import type { flattenEnis } from "../src/ipamd/introspection.ts";
import { unixFetch } from "../src/common/unix_fetch.ts";
import type { LabStatus } from "../src/sim/daemon_client.ts";
import type { PodRecord } from "../src/sim/lab_state.ts";
import type { LabNames } from "../src/sim/naming.ts";

/** ipamd settings the demo passes with `--ipamd-env`, and why. */
export const DEMO_IPAMD_ENV: Record<string, string> = {
  // A small warm pool (2 free IPs per node) so every few pods make the pool grow, visibly.
  WARM_IP_TARGET: "2",
  // 10 s instead of 30 s, so the pool shrinks within the demo's two minutes.
  IP_COOLDOWN_PERIOD: "10",
};
/** The demo's warm pool, in free IPs per node (read from its ipamd settings). */
export const DEMO_WARM_IPS = Number(DEMO_IPAMD_ENV.WARM_IP_TARGET);
/** The demo's IP cooldown in seconds (read from its ipamd settings). */
export const DEMO_COOLDOWN_S = Number(DEMO_IPAMD_ENV.IP_COOLDOWN_PERIOD);

/** One check's outcome. */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** A pod the demo added, and where it landed. */
export interface DemoPod {
  rec: PodRecord;
  ip: string;
  node: number;
  eniId: string;
  dev: number;
}

/** The demo's shared state. */
export interface DemoContext {
  log: (line: string) => void;
  /** `[ 12 s]`: seconds since the demo started. */
  stamp: () => string;
  /** Prints a section head. */
  head: (title: string) => void;
  names: LabNames;
  stateDir: string;
  status: LabStatus;
  pods: DemoPod[];
  checks: CheckResult[];
  /** Usable pod IPs per ENI of the demo's instance type. */
  usable: number;
}

/** ipamd's `/v1/enis`, flattened per IP (see introspection.ts `flattenEnis`). */
export type EnisView = ReturnType<typeof flattenEnis>;

/** ipamd's `GET /v1/pool`, the fields the demo reads. */
export interface PoolView {
  enis: {
    eniId: string;
    deviceNumber: number;
    total: number;
    assigned: number;
    cooling: number;
    free: number;
  }[];
  totals: { total: number; assigned: number; cooling: number; free: number };
  pods: { ip: string; eniId: string; containerId: string }[];
  pendingEnis?: number;
  /** The plan for the pool as it is now. */
  plan?: { reason: string; computedAt: string };
}

/** GET `path` on an ipamd socket, as JSON; throws on a non-2xx answer. */
export async function ipamdGet<T>(socket: string, path: string, timeoutMs?: number): Promise<T> {
  const r = await unixFetch(socket, path, { timeoutMs });
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** Waits until the ipamd on `socket` answers `/v1/status` with 200. */
export async function waitIpamdReady(socket: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      await ipamdGet(socket, "/v1/status");
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ipamd on ${socket} not ready after ${timeoutMs / 1000} s: ${last}`);
}
