/**
 * What the bench's sections share: the cleanups run on exit or on a signal, a lab node to measure on, ipamd's
 * socket API, EC2 call counts, pod namespaces and RSS sampling.
 * @module
 */
import { labDown, labUp, REPO_DIR } from "../src/sim/daemon_launch.ts";
import { fetchStatus, type LabStatus } from "../src/sim/daemon_client.ts";
import { LabNames } from "../src/sim/naming.ts";
import { unixFetch } from "../src/common/unix_fetch.ts";
import { addNetns, delNetns, libcni, netnsPath, randomSuffix } from "../harness/libcni.ts";
import { until } from "../harness/poll.ts";
import { percentile } from "../harness/stats.ts";

export { REPO_DIR, until };

/** Progress goes to stderr (stdout is for rows). */
export const progress = (s: string): void => console.error(`bench: ${s}`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Cleanups to run on exit or on a signal (newest first). */
const cleanups: (() => Promise<void>)[] = [];

/** Registers a cleanup; returns a function that runs it now (and forgets it). */
export function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  cleanups.push(fn);
  return async () => {
    const i = cleanups.lastIndexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
    await fn();
  };
}

/** Runs every cleanup, newest first; failures are reported, not thrown. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()!();
    } catch (e) {
      progress(`cleanup: ${(e as Error).message}`);
    }
  }
}

/** A GET on ipamd's socket API, parsed. */
export async function ipamdGet<T>(socket: string, path: string): Promise<T> {
  const r = await unixFetch(socket, path, { timeoutMs: 5000 });
  const t = await r.text();
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${t.slice(0, 200)}`);
  return JSON.parse(t) as T;
}

/** The part of `GET /v1/pool` the bench reads. */
export interface Pool {
  enis: { eniId: string; total: number }[];
  totals: { total: number; assigned: number; cooling: number; free: number };
  pendingEnis?: number;
}

/** One lab node to measure on. */
export interface BenchLab {
  dir: string;
  names: LabNames;
  status: LabStatus;
  node: LabStatus["nodes"][number];
  pool: () => Promise<Pool>;
  ec2Calls: () => Promise<Record<string, number>>;
  /** Takes the lab down now. */
  down: () => Promise<void>;
}

/** Brings up a one-node lab with realistic EC2 latency and waits until its ipamd answers. */
export async function startLab(
  dir: string,
  instanceType: string,
  ipamdEnv: Record<string, string>,
): Promise<BenchLab> {
  const down = onCleanup(async () => {
    await labDown(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  });
  const { status } = await labUp({ stateDir: dir, nodes: 1, instanceType, latency: "realistic", ipamdEnv });
  const node = status.nodes[0];
  const names = new LabNames(dir);
  await until(
    "ipamd ready",
    async () => (await ipamdGet(node.ipamdSocket, "/v1/status").catch(() => 0)),
    120_000,
  );
  return {
    dir,
    names,
    status,
    node,
    pool: () => ipamdGet<Pool>(node.ipamdSocket, "/v1/pool"),
    ec2Calls: async () => (await fetchStatus(names)).nodes[0].ec2Calls,
    down,
  };
}

/** Waits until the node's pool has at least `n` free IPs. */
export function warm(lab: BenchLab, n: number, timeoutMs = 120_000): Promise<unknown> {
  return until(`≥ ${n} free IPs`, async () => (await lab.pool()).totals.free >= n, timeoutMs, 200);
}

/** The change in each counter from `a` to `b` (counters that did not move are left out). */
export function ec2Delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

/** EC2 actions that change something. */
export const MUTATING = /^(Create|Delete|Attach|Detach|Assign|Unassign|Modify)/;

export const sumCalls = (o: Record<string, number>, f: (k: string) => boolean = () => true): number =>
  Object.entries(o).filter(([k]) => f(k)).reduce((n, [, v]) => n + v, 0);
export const fmtCalls = (o: Record<string, number>): string =>
  Object.entries(o).map(([k, v]) => `${k}=${v}`).join(" ") || "none";

/** `n` pod namespaces named `<prefix><i>` (removed at cleanup, or by the returned function). */
export async function podNamespaces(
  prefix: string,
  n: number,
): Promise<{ names: string[]; remove: () => Promise<void> }> {
  const names: string[] = [];
  const remove = onCleanup(async () => {
    for (const p of names) await delNetns(p);
  });
  for (let i = 0; i < n; i++) names.push(await addNetns(`${prefix}${i}`));
  return { names, remove };
}

/**
 * One ADD per namespace in `netns`, all at once, through the Go libcni driver with the lab node's conflist (an
 * ADD answered with CNI code 11 is retried, as kubelet retries a pod sandbox); the pods stay. The driver's
 * report.
 */
export function addPodsAtOnce<T = Record<string, unknown>>(
  lab: BenchLab,
  netns: string[],
  o: { namespace: string; idPrefix: string },
): Promise<T> {
  return libcni<T>("parallel-add", {
    conflist: lab.names.conflistPath(0),
    binDir: lab.names.binDir,
    inNetns: lab.node.netns,
    cacheDir: `${lab.dir}/libcni-cache`,
    args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: o.namespace },
    netns: netns.map(netnsPath),
    containerId: `${o.idPrefix}-${randomSuffix()}`,
    n: netns.length,
    retryCode: 11,
    keep: true,
  });
}

/** VmRSS of a live process, in KiB. */
export function vmRssKiB(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(s.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN);
}

/** VmRSS's split (MiB): RssAnon (heap, stacks, malloc) and RssFile (mapped files: deno's binary, libraries). */
export function rssSplitMiB(pid: number): { anon: number; file: number } {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (k: string) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { anon: kib("RssAnon") / 1024, file: kib("RssFile") / 1024 };
}

/** VmRSS sampled `n` times a second apart: the median and the range, in MiB (RSS moves with the GC). */
export async function sampledRssMiB(
  pid: number,
  n = 5,
): Promise<{ median: number; min: number; max: number }> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i) await sleep(1000);
    xs.push(vmRssKiB(pid) / 1024);
  }
  return { median: percentile(xs, 50), min: Math.min(...xs), max: Math.max(...xs) };
}

/** VmRSS (MiB) of a deno process evaluating `code` with the repo's config, a second after it printed "ready". */
export async function idleRssMiB(code: string, denoFlags: string[] = []): Promise<number> {
  return (await idleRss(code, denoFlags)).rss;
}

/** {@linkcode idleRssMiB}, with VmRSS's split ({@linkcode rssSplitMiB}). */
export async function idleRss(
  code: string,
  denoFlags: string[] = [],
): Promise<{ rss: number; anon: number; file: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", ...denoFlags, "--config", `${REPO_DIR}/deno.json`, code],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let buf = "";
    while (!buf.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`idle process exited before ready: ${buf}`);
      buf += value;
    }
    await sleep(1000);
    return { rss: vmRssKiB(child.pid) / 1024, ...rssSplitMiB(child.pid) };
  } finally {
    child.kill("SIGKILL");
    reader.cancel().catch(() => {});
    await child.status;
  }
}
