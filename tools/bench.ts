/**
 * `deno task bench`: performance figures of aws-cni and ipamd on the lab, each against a baseline measured
 * on the same machine in the same run. Root only; about 4–6 minutes.
 *
 *   deno task bench [--json] [--cycles 30] [--parallel 30] [--burst 60] [--churn 200]
 *
 * `--json` prints one object per line: `{id, metric, value, unit, baseline, ratio, note}` (ratio = value /
 * baseline; null when there is no baseline to measure). Progress goes to stderr.
 *
 * - P1 aws-cni ADD/DEL p50 over 30 sequential cycles via the libcni driver on a lab node with a warm pool;
 *   baseline Debian ptp + host-local through the same driver ({@linkcode measureBaseline}).
 * - P2 30 parallel ADDs (driver's parallel-add mode): p50 and p99, same baseline.
 * - P3 60 pods at once onto an m5.4xlarge whose pool holds 30 (WARM_IP_TARGET=30), realistic latency: time
 *   until every pod has an IP, vs the critical path of the lab's latencies (CreateNetworkInterface +
 *   AttachNetworkInterface at their slowest + IMDS lag; ENIs in parallel).
 * - P4 EC2 calls per pod during N add/delete cycles inside the pool, and per ENI added in P3 (the node's own
 *   calls in lab status).
 * - P5 ipamd VmRSS with 110 pods assigned; baselines: a deno process that imported @aws-sdk/client-ec2, and a
 *   bare deno, both measured here.
 * - P6 aws-cni peak RSS and wall time per invocation (VERSION, ADD), vs `deno run` of an empty script.
 * @module
 */
import { parseArgs } from "node:util";
import { REALISTIC_LATENCY_MS } from "../src/sim/realism.ts";
import { labDown, labUp, REPO_DIR } from "../src/sim/daemon_launch.ts";
import { fetchStatus, type LabStatus } from "../src/sim/daemon_client.ts";
import { LabNames } from "../src/sim/naming.ts";
import { CniPluginError } from "../src/sim/runtime.ts";
import { podAdd } from "../src/sim/runtime_pod.ts";
import { addNetns, delNetns, libcni, netnsPath, randomSuffix } from "../harness/libcni.ts";
import { percentile, summary } from "../harness/stats.ts";
import { measureBaseline, ptpConflist } from "./baseline.ts";
import { ensureDebianPackages, isRoot } from "./deps.ts";
import { timedRun } from "./timed_run.ts";

/** One result line. */
export interface BenchRow {
  id: string;
  metric: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  note?: string;
}

const MUTATING = /^(Create|Delete|Attach|Detach|Assign|Unassign|Modify)/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One decimal; three below 1 (so 1 call in 200 cycles shows as 0.005, not 0). */
const r1 = (x: number) => Math.abs(x) < 1 ? Math.round(x * 1000) / 1000 : Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const progress = (s: string) => console.error(`bench: ${s}`);

function row(
  id: string,
  metric: string,
  value: number,
  unit: string,
  baseline: number | null,
  note?: string,
): BenchRow {
  return {
    id,
    metric,
    value: r1(value),
    unit,
    baseline: baseline === null ? null : r1(baseline),
    ratio: baseline ? r2(value / baseline) : null,
    ...(note ? { note } : {}),
  };
}

async function ipamdGet<T>(socket: string, path: string): Promise<T> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const r = await fetch(`http://127.0.0.1${path}`, { client, signal: AbortSignal.timeout(5000) });
    const t = await r.text();
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${t.slice(0, 200)}`);
    return JSON.parse(t) as T;
  } finally {
    client.close();
  }
}

interface Pool {
  enis: { eniId: string }[];
  totals: { total: number; assigned: number; cooling: number; free: number };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await fn()) return;
    } catch { /* not yet */ }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function ec2Delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}
const sum = (o: Record<string, number>, f: (k: string) => boolean = () => true) =>
  Object.entries(o).filter(([k]) => f(k)).reduce((n, [, v]) => n + v, 0);
const fmtCalls = (o: Record<string, number>) =>
  Object.entries(o).map(([k, v]) => `${k}=${v}`).join(" ") || "none";

/** VmRSS sampled `n` times a second apart: the median and the range, in MiB (RSS moves with the GC). */
async function sampledRssMiB(pid: number, n = 5): Promise<{ median: number; min: number; max: number }> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i) await sleep(1000);
    xs.push(vmRssKiB(pid) / 1024);
  }
  return { median: percentile(xs, 50), min: Math.min(...xs), max: Math.max(...xs) };
}

function vmRssKiB(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(s.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN);
}

/** VmRSS of a deno process running `code` after it printed "ready" (then it is killed). */
async function idleRss(code: string): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", `${REPO_DIR}/deno.json`, code],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`idle process exited before ready: ${buf}`);
    buf += value;
  }
  await sleep(1000);
  const kib = vmRssKiB(child.pid);
  child.kill("SIGKILL");
  reader.cancel().catch(() => {});
  await child.status;
  return kib;
}

/** Cleanups to run on exit or on a signal (newest first). */
const cleanups: (() => Promise<void>)[] = [];
async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()!();
    } catch (e) {
      progress(`cleanup: ${(e as Error).message}`);
    }
  }
}

async function startLab(
  stateDir: string,
  instanceType: string,
  ipamdEnv: Record<string, string>,
): Promise<LabStatus> {
  cleanups.push(async () => {
    await labDown(stateDir);
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  });
  const { status } = await labUp({ stateDir, nodes: 1, instanceType, latency: "realistic", ipamdEnv });
  await until("ipamd ready", async () => (await ipamdGet(status.nodes[0].ipamdSocket, "/v1/status"), true));
  return status;
}

export interface BenchOptions {
  cycles: number;
  parallel: number;
  burst: number;
  churn: number;
  emit: (r: BenchRow) => void;
}

/** Runs every measurement; rows go to `emit` as soon as they are known. */
export async function runBench(o: BenchOptions): Promise<void> {
  const { emit } = o;
  const id = randomSuffix();
  const tmp = await Deno.makeTempDir({ prefix: "vpc-cni-bench-" });
  cleanups.push(() => Deno.remove(tmp, { recursive: true }).catch(() => {}));

  // ---- baseline: Debian ptp + host-local through the libcni driver
  progress(`baseline: ptp + host-local, ${o.cycles} cycles + ${o.parallel} parallel ADDs`);
  const baseNode = `vcb-n${id}`;
  await addNetns(baseNode);
  cleanups.push(() => delNetns(baseNode));
  await Deno.writeTextFile(`${tmp}/ptp.conflist`, ptpConflist(`vcb${id}`, tmp));
  const base = await measureBaseline({
    conflist: `${tmp}/ptp.conflist`,
    nodeNetns: baseNode,
    cycles: o.cycles,
    parallel: o.parallel,
  });
  await cleanups.pop()!(); // the baseline node

  // ---- lab 1: one m5.4xlarge node, default warm pool (WARM_ENI_TARGET=1: 2 ENIs × 29 IPs)
  const lab1Dir = `${tmp}/lab1`;
  progress("lab 1: 1 × m5.4xlarge, realistic latency, default warm pool, IP_COOLDOWN_PERIOD=1");
  const s1 = await startLab(lab1Dir, "m5.4xlarge", { IP_COOLDOWN_PERIOD: "1" });
  const n1 = s1.nodes[0];
  const names1 = new LabNames(lab1Dir);
  const warm = (n: number) =>
    until(`≥ ${n} free IPs`, async () => (await ipamdGet<Pool>(n1.ipamdSocket, "/v1/pool")).totals.free >= n);
  await warm(Math.max(o.parallel, 30));
  // aws-cni alone (no portmap), so the plugin is compared with ptp plugin to plugin.
  const conf = JSON.parse(await Deno.readTextFile(names1.conflistPath(0)));
  conf.plugins = conf.plugins.filter((p: { type: string }) => p.type === "aws-cni");
  await Deno.writeTextFile(`${tmp}/aws.conflist`, JSON.stringify(conf));
  const awsOpts = {
    conflist: `${tmp}/aws.conflist`,
    binDir: names1.binDir,
    nodeNetns: n1.netns,
    // No K8S_POD_NAME: each host veth is named from its container ID (parallel pods need distinct names).
    args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "bench" },
    podPrefix: `${s1.id}-b${id}`,
  };

  progress(`P1: ${o.cycles} sequential ADD+DEL cycles of aws-cni`);
  const p1 = await measureBaseline({ ...awsOpts, cycles: o.cycles, parallel: 0 });
  emit(
    row("P1", "aws-cni ADD p50", p1.sequential.add.p50, "ms", base.sequential.add.p50, "vs ptp+host-local"),
  );
  emit(
    row("P1", "aws-cni DEL p50", p1.sequential.del.p50, "ms", base.sequential.del.p50, "vs ptp+host-local"),
  );

  progress(`P4: ${o.churn} add/delete cycles inside the pool`);
  await warm(30);
  const c0 = (await fetchStatus(names1)).nodes[0].ec2Calls;
  const e0 = (await ipamdGet<Pool>(n1.ipamdSocket, "/v1/pool")).enis.length;
  await measureBaseline({ ...awsOpts, cycles: o.churn, parallel: 0 });
  await sleep(3000); // let the pool act on the last release, if it would
  const churn = ec2Delta(c0, (await fetchStatus(names1)).nodes[0].ec2Calls);
  const e1 = (await ipamdGet<Pool>(n1.ipamdSocket, "/v1/pool")).enis.length;
  emit(row(
    "P4",
    "mutating EC2 calls per pod add+del (in pool)",
    sum(churn, (k) => MUTATING.test(k)) / o.churn,
    "calls",
    null,
    `${o.churn} cycles; all calls: ${fmtCalls(churn)}; ENIs ${e0}→${e1}`,
  ));
  emit(row("P4", "all EC2 calls per pod add+del (in pool)", sum(churn) / o.churn, "calls", null));

  progress(`P2: ${o.parallel} parallel ADDs of aws-cni`);
  await warm(o.parallel);
  const pods: string[] = [];
  for (let i = 0; i < o.parallel; i++) pods.push(await addNetns(`${s1.id}-q${id}${i}`));
  const par = await libcni<{ add_ms: number[]; del_ms: number[] }>("parallel-add", {
    conflist: awsOpts.conflist,
    binDir: awsOpts.binDir,
    inNetns: n1.netns,
    cacheDir: `${tmp}/cache`,
    args: awsOpts.args,
    netns: pods.map(netnsPath),
    containerId: `bpar-${id}`,
    n: o.parallel,
  });
  for (const p of pods) await delNetns(p);
  const pa = summary(par.add_ms);
  const bpa = base.parallel!.add;
  emit(row("P2", `${o.parallel} parallel ADDs p50`, pa.p50, "ms", bpa.p50, "vs ptp+host-local"));
  emit(row("P2", `${o.parallel} parallel ADDs p99`, pa.p99, "ms", bpa.p99, "vs ptp+host-local"));

  // ---- P6: per invocation, vs a bare deno run
  progress("P6: aws-cni VERSION/ADD per invocation vs an empty deno script (10 runs each)");
  const runs = 10;
  await Deno.writeTextFile(`${tmp}/empty.ts`, "\n");
  const deno = Deno.execPath();
  const cniMain = `${REPO_DIR}/src/cni/main.ts`;
  const bare: { ms: number; rssKiB: number }[] = [];
  const ver: { ms: number; rssKiB: number }[] = [];
  const add: { ms: number; rssKiB: number }[] = [];
  const pluginConf = JSON.stringify({ ...conf.plugins[0], cniVersion: conf.cniVersion, name: conf.name });
  for (let i = 0; i < runs; i++) {
    bare.push(await timedRun([deno, "run", "-A", "--no-check", `${tmp}/empty.ts`], {}));
    const v = await timedRun(
      [deno, "run", "-A", "--no-check", cniMain],
      { CNI_COMMAND: "VERSION" },
      pluginConf,
    );
    if (v.code !== 0) throw new Error(`VERSION failed: ${v.stdout}`);
    ver.push(v);
    const pod = await addNetns(`${s1.id}-v${id}${i}`);
    try {
      const env = {
        CNI_CONTAINERID: `bv-${id}-${i}`,
        CNI_NETNS: netnsPath(pod),
        CNI_IFNAME: "eth0",
        CNI_PATH: names1.binDir,
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench",
      };
      const nsenter = ["nsenter", `--net=${netnsPath(n1.netns)}`, "--"];
      const a = await timedRun(
        [deno, "run", "-A", "--no-check", cniMain],
        { ...env, CNI_COMMAND: "ADD" },
        pluginConf,
        nsenter,
      );
      if (a.code !== 0) throw new Error(`ADD failed: ${a.stdout}`);
      add.push(a);
      const prev = JSON.stringify({ ...JSON.parse(pluginConf), prevResult: JSON.parse(a.stdout) });
      const d = await timedRun(
        [deno, "run", "-A", "--no-check", cniMain],
        { ...env, CNI_COMMAND: "DEL" },
        prev,
        nsenter,
      );
      if (d.code !== 0) throw new Error(`DEL failed: ${d.stdout}`);
    } finally {
      await delNetns(pod);
    }
  }
  const p50 = (xs: { ms: number }[]) => percentile(xs.map((x) => x.ms), 50);
  const peak = (xs: { rssKiB: number }[]) => Math.max(...xs.map((x) => x.rssKiB)) / 1024;
  emit(row("P6", "aws-cni VERSION wall p50", p50(ver), "ms", p50(bare), "vs deno run empty.ts"));
  emit(row("P6", "aws-cni VERSION peak RSS", peak(ver), "MiB", peak(bare), "vs deno run empty.ts"));
  emit(row("P6", "aws-cni ADD wall p50", p50(add), "ms", p50(bare), "vs deno run empty.ts"));
  emit(row("P6", "aws-cni ADD peak RSS", peak(add), "MiB", peak(bare), "vs deno run empty.ts"));
  await cleanups.pop()!(); // lab 1

  // ---- lab 2: the burst (P3), EC2 calls per ENI (P4), then 110 pods for ipamd's RSS (P5)
  const lab2Dir = `${tmp}/lab2`;
  progress("lab 2: 1 × m5.4xlarge (8 ENIs × 29 IPs), realistic latency, WARM_IP_TARGET=30");
  const s2 = await startLab(lab2Dir, "m5.4xlarge", { WARM_IP_TARGET: "30" });
  const n2 = s2.nodes[0];
  const names2 = new LabNames(lab2Dir);
  await until(
    "the warm pool (30 IPs)",
    async () => (await ipamdGet<Pool>(n2.ipamdSocket, "/v1/pool")).totals.free >= 30,
  );
  await sleep(2000);
  const before = await ipamdGet<Pool>(n2.ipamdSocket, "/v1/pool");
  const calls0 = (await fetchStatus(names2)).nodes[0].ec2Calls;
  const ipamdIdle = await sampledRssMiB((await fetchStatus(names2)).nodes[0].ipamdPid!);
  progress(
    `P3: ${o.burst} pods at once onto a pool of ${before.totals.free} free IPs (${before.enis.length} ENIs)`,
  );
  let retries = 0;
  const addPod = async (name: string): Promise<void> => {
    const t = Date.now();
    for (;;) {
      try {
        await podAdd(names2, name, { node: 0 });
        return;
      } catch (e) {
        // A kubelet retries a sandbox whose CNI ADD said "try again later" (11).
        if (e instanceof CniPluginError && e.code === 11 && Date.now() - t < 120_000) {
          retries++;
          await sleep(250);
          continue;
        }
        throw e;
      }
    }
  };
  const t0 = performance.now();
  // When the pool first holds enough addresses for the whole burst (EC2 + ipamd's part of the time).
  let poolReadyMs: number | undefined;
  let burstDone = false;
  const watch = (async () => {
    while (!burstDone && poolReadyMs === undefined) {
      const p = await ipamdGet<Pool>(n2.ipamdSocket, "/v1/pool").catch(() => undefined);
      if (p && p.totals.total >= o.burst) poolReadyMs = performance.now() - t0;
      await sleep(50);
    }
  })();
  await Promise.all(Array.from({ length: o.burst }, (_, i) => addPod(`burst-${i}`)));
  const burstMs = performance.now() - t0;
  burstDone = true;
  await watch;
  const it = REALISTIC_LATENCY_MS;
  const imdsLag = Number(s2.faults && (s2.faults as { imdsLagMs?: number }).imdsLagMs) || 0;
  const bound = it.CreateNetworkInterface[1] + it.AttachNetworkInterface[1] + imdsLag;
  await until("the pool to settle", async () => {
    const p = await ipamdGet<Pool & { pendingEnis?: number }>(n2.ipamdSocket, "/v1/pool");
    return !p.pendingEnis && p.totals.free >= 30;
  }, 60_000).catch(() => {});
  const after = await ipamdGet<Pool>(n2.ipamdSocket, "/v1/pool");
  const burstCalls = ec2Delta(calls0, (await fetchStatus(names2)).nodes[0].ec2Calls);
  const added = after.enis.length - before.enis.length;
  emit(row(
    "P3",
    `${o.burst}-pod burst: all pods have an IP`,
    burstMs,
    "ms",
    bound,
    `pool 30 IPs/${before.enis.length} ENIs → ${after.totals.total} IPs/${after.enis.length} ENIs; ` +
      `${o.burst} concurrent pod sandboxes (lab podAdd; ${retries} ADDs answered CNI 11 and were retried, ` +
      `as kubelet does); ` +
      `bound = CreateNetworkInterface ${it.CreateNetworkInterface[1]} + AttachNetworkInterface ` +
      `${it.AttachNetworkInterface[1]} (slowest draws) + IMDS lag ${imdsLag} ms`,
  ));
  if (poolReadyMs !== undefined) {
    emit(row(
      "P3",
      `${o.burst}-pod burst: pool holds ${o.burst} IPs`,
      poolReadyMs,
      "ms",
      bound,
      "the IPAM part alone: from the burst's start until ipamd's pool first held enough addresses",
    ));
  }
  if (added > 0) {
    const ipCalls = (k: string) => /PrivateIpAddresses$/.test(k);
    emit(row(
      "P4",
      "EC2 calls per ENI added (burst)",
      sum(burstCalls, (k) => !ipCalls(k)) / added,
      "calls",
      null,
      `${added} ENIs; every call in the burst but (Un)AssignPrivateIpAddresses, per ENI; ` +
        `all: ${fmtCalls(burstCalls)}`,
    ));
    emit(row(
      "P4",
      "AssignPrivateIpAddresses calls in the burst",
      sum(burstCalls, (k) => k === "AssignPrivateIpAddresses"),
      "calls",
      null,
      "IP-target mode tops up existing ENIs as pods arrive",
    ));
  }

  progress("P5: filling the node to 110 pods");
  const more = Array.from({ length: Math.max(0, 110 - o.burst) }, (_, i) => `fill-${i}`);
  for (let i = 0; i < more.length; i += 10) await Promise.all(more.slice(i, i + 10).map(addPod));
  await until(
    "110 assigned",
    async () => (await ipamdGet<Pool>(n2.ipamdSocket, "/v1/pool")).totals.assigned >= 110,
  );
  await sleep(3000);
  const st = await fetchStatus(names2);
  const pid = st.nodes[0].ipamdPid!;
  const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  const rss = await sampledRssMiB(pid);
  const ipamdRss = rss.median;
  progress(`P5: baselines (an idle deno that imported @aws-sdk/client-ec2; a bare idle deno)`);
  const sdkRss = await idleRss(
    `import { EC2Client } from "@aws-sdk/client-ec2"; new EC2Client({ region: "us-west-2" }); ` +
      `console.log("ready"); setInterval(() => {}, 1000);`,
  ) / 1024;
  const bareRss = await idleRss(`console.log("ready"); setInterval(() => {}, 1000);`) / 1024;
  emit(
    row(
      "P5",
      "ipamd VmRSS, 110 pods",
      ipamdRss,
      "MiB",
      sdkRss,
      `median of 5 samples 1 s apart (${r1(rss.min)}–${r1(rss.max)}); vs idle deno + @aws-sdk/client-ec2; ` +
        `ipamd (${comm}) at 0 pods: ${r1(ipamdIdle.median)} MiB (${r1(ipamdIdle.min)}–${r1(ipamdIdle.max)})`,
    ),
  );
  emit(row("P5", "ipamd VmRSS, 110 pods (vs bare deno)", ipamdRss, "MiB", bareRss, "vs idle bare deno"));
  await cleanups.pop()!(); // lab 2
}

/** The machine line for the README. */
export function machine(): string {
  const mem = Deno.readTextFileSync("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1];
  return `${navigator.hardwareConcurrency} CPUs (nproc), ${Math.round(Number(mem) / 1024 / 1024)} GiB RAM, ` +
    `kernel ${Deno.osRelease()}, deno ${Deno.version.deno}`;
}

/** Rows as a markdown table. */
export function table(rows: BenchRow[]): string {
  const lines = [
    "| id | metric | value | baseline | ratio | note |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.id} | ${r.metric} | ${r.value} ${r.unit} | ${
        r.baseline === null ? "—" : `${r.baseline} ${r.unit}`
      } | ` +
        `${r.ratio === null ? "—" : `${r.ratio}×`} | ${r.note ?? ""} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean", default: false },
      cycles: { type: "string", default: "30" },
      parallel: { type: "string", default: "30" },
      burst: { type: "string", default: "60" },
      churn: { type: "string", default: "200" },
    },
  });
  if (!isRoot()) {
    console.error("bench: needs root (network namespaces, the lab). Run: sudo npx -y deno@2.9.6 task bench");
    Deno.exit(1);
  }
  if (!ensureDebianPackages()) Deno.exit(1);
  let stopping = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      if (stopping) return;
      stopping = true;
      progress(`${sig}: cleaning up`);
      cleanupAll().finally(() => Deno.exit(130));
    });
  }
  const rows: BenchRow[] = [];
  const started = Date.now();
  let code = 0;
  try {
    await runBench({
      cycles: Number(v.cycles),
      parallel: Number(v.parallel),
      burst: Number(v.burst),
      churn: Number(v.churn),
      emit: (r) => {
        rows.push(r);
        if (v.json) console.log(JSON.stringify(r));
        else progress(`${r.id} ${r.metric}: ${r.value} ${r.unit}${r.ratio !== null ? ` (${r.ratio}×)` : ""}`);
      },
    });
  } catch (e) {
    console.error(`bench: ${(e as Error).stack ?? e}`);
    code = 1;
  } finally {
    await cleanupAll();
  }
  if (!v.json) {
    console.log(
      `\n${new Date().toISOString().slice(0, 10)} · ${machine()} · ${
        ((Date.now() - started) / 1000).toFixed(0)
      } s\n`,
    );
    console.log(table(rows));
  }
  Deno.exit(code);
}
