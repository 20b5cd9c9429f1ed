/**
 * P3 and P4: the product under a burst, and its EC2 calls.
 *
 * - P3: 60 ADDs at once through libcni (the Go driver's parallel-add, retrying a code-11 answer as kubelet
 *   does) on an m5.4xlarge lab node with realistic EC2 latency whose pool holds 30 free IPs
 *   (WARM_IP_TARGET=30): the time until every pod is networked, vs the critical path of the lab's latencies
 *   (CreateNetworkInterface + AttachNetworkInterface at their slowest draws, plus IMDS lag; ENIs are created
 *   in parallel). The control row runs the same burst on a node whose pool already holds 60 free IPs
 *   (WARM_IP_TARGET=60): the runtime's and the plugins' share.
 * - P4: mutating EC2 calls in the burst against the budget (2 per new ENI + 1 per existing ENI that gains
 *   IPs), calls per ENI added, and calls per pod over add/delete cycles inside the warm pool.
 * @module
 */
import { REALISTIC_LATENCY_MS } from "../src/sim/realism.ts";
import { randomSuffix } from "../harness/libcni.ts";
import { measureBaseline } from "./baseline.ts";
import {
  addPodsAtOnce,
  type BenchLab,
  ec2Delta,
  fmtCalls,
  MUTATING,
  podNamespaces,
  type Pool,
  progress,
  sleep,
  startLab,
  sumCalls,
  until,
} from "./bench_lab.ts";
import type { PluginLab } from "./bench_plugin.ts";
import { type BenchRow, r1, row } from "./bench_rows.ts";
import { childrenCpuMs } from "./timed_run.ts";
import { fetchStatus } from "../src/sim/daemon_client.ts";

/** What the burst sections are given. */
export interface BurstBenchOptions {
  tmp: string;
  burst: number;
  churn: number;
  only: (id: string) => boolean;
  emit: (r: BenchRow) => void;
}

/** One burst's outcome. */
export interface Burst {
  /** Until the last pod's ADD (chain included) answered. */
  ms: number;
  retries: number;
  /** Every EC2 call the node made from the burst's start until the pool settled. */
  calls: Record<string, number>;
  before: Pool;
  after: Pool;
  /** CPU ms during the ADDs: the driver and every plugin process, ipamd, the lab daemon (EC2, IMDS, k8s). */
  cpu: { plugins: number; ipamd: number; lab: number };
}

/** CPU ms (user + system) a live process has used, from /proc (10 ms steps). */
function procCpuMs(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** The lab's critical path for one new ENI (ms) and how it is made up. */
export function criticalPath(imdsLagMs: number): { ms: number; text: string } {
  const c = REALISTIC_LATENCY_MS.CreateNetworkInterface[1],
    a = REALISTIC_LATENCY_MS.AttachNetworkInterface[1];
  return {
    ms: c + a + imdsLagMs,
    text:
      `CreateNetworkInterface ${c} + AttachNetworkInterface ${a} (slowest draws) + IMDS lag ${imdsLagMs} ms`,
  };
}

/** A node for bursts: m5.4xlarge (8 ENIs × 30 IPs), realistic latency, `warm` free IPs, its pool grown. */
async function burstLab(o: BurstBenchOptions, name: string, warmIps: number): Promise<BenchLab> {
  progress(`${name}: 1 × m5.4xlarge, realistic latency, WARM_IP_TARGET=${warmIps}`);
  const lab = await startLab(`${o.tmp}/${name}`, "m5.4xlarge", { WARM_IP_TARGET: String(warmIps) });
  await settled(lab, warmIps);
  return lab;
}

/** Waits until no ENI is pending and the pool holds `free` free IPs. */
async function settled(lab: BenchLab, free: number): Promise<Pool> {
  return await until(
    `the pool to settle at ≥ ${free} free IPs`,
    async () => {
      const p = await lab.pool();
      return !p.pendingEnis && p.totals.free >= free ? p : undefined;
    },
    180_000,
    200,
  );
}

/** `n` pods at once through libcni with the node's conflist; the pods stay (they are the node's load). */
export async function runBurst(lab: BenchLab, n: number, tag: string, settleFree: number): Promise<Burst> {
  const pods = await podNamespaces(`${lab.status.id}-${tag}${randomSuffix().slice(0, 4)}`, n);
  const before = await lab.pool();
  const calls0 = await lab.ec2Calls();
  const st = await fetchStatus(lab.names);
  const pids = { ipamd: st.nodes[0].ipamdPid!, lab: st.daemonPid };
  const cpu0 = { plugins: childrenCpuMs(), ipamd: procCpuMs(pids.ipamd), lab: procCpuMs(pids.lab) };
  const r = await addPodsAtOnce<{ add_ms: number[]; retries: number[] }>(lab, pods.names, {
    namespace: "bench",
    idPrefix: tag,
  });
  const cpu = {
    plugins: childrenCpuMs() - cpu0.plugins,
    ipamd: procCpuMs(pids.ipamd) - cpu0.ipamd,
    lab: procCpuMs(pids.lab) - cpu0.lab,
  };
  const after = await settled(lab, settleFree);
  return {
    cpu,
    ms: Math.max(...r.add_ms),
    retries: r.retries[0] ?? 0,
    calls: ec2Delta(calls0, await lab.ec2Calls()),
    before,
    after,
  };
}

function poolText(p: Pool): string {
  return `${p.totals.total} IPs on ${p.enis.length} ENIs (${p.totals.free} free)`;
}

/** P3's rows for one burst. */
function emitBurst(o: BurstBenchOptions, b: Burst, label: string, warmText: string): void {
  const cp = criticalPath(0);
  o.emit(row({
    id: "P3",
    metric: `${o.burst}-pod burst, ${label}: every pod networked`,
    value: b.ms,
    unit: "ms",
    baseline: cp.ms,
    baselineName: "critical-path bound",
    method:
      `${o.burst} ADDs at once through the Go libcni driver (parallel-add; an ADD answered with CNI code ` +
      `11 is DELed and retried after 250 ms doubling to 4 s, as kubelet does) with the node's conflist ` +
      `(aws-cni + portmap) on an m5.4xlarge lab node, realistic EC2 latency, ${warmText}; time until the ` +
      `last ADD answered; bound = ${cp.text}`,
    ...(label === "30 free IPs" ? { goal: { on: "ratio" as const, max: 1.2 } } : {}),
    note: `pool ${poolText(b.before)} → ${poolText(b.after)}; ${b.retries} ADDs retried; CPU during the ` +
      `ADDs: plugins and driver ${r1(b.cpu.plugins / 1000)} s (${r1(b.cpu.plugins / o.burst)} ms per pod), ` +
      `ipamd ${r1(b.cpu.ipamd / 1000)} s, lab daemon ${
        r1(b.cpu.lab / 1000)
      } s, on ${navigator.hardwareConcurrency} ` +
      `cores in ${r1(b.ms / 1000)} s`,
  }));
}

/** P4's rows for the burst: mutating calls against the budget, calls per ENI added. */
function emitBurstCalls(o: BurstBenchOptions, b: Burst): void {
  const newEnis = b.after.enis.length - b.before.enis.length;
  const before = new Map(b.before.enis.map((e) => [e.eniId, e.total]));
  const gained = b.after.enis.filter((e) => before.has(e.eniId) && e.total > before.get(e.eniId)!).length;
  const budget = 2 * newEnis + gained;
  const method = `EC2 calls the node made (lab status, by caller) from the burst's start until its pool ` +
    `settled at 30 free IPs`;
  o.emit(row({
    id: "P4",
    metric: "mutating EC2 calls in the burst",
    value: sumCalls(b.calls, (k) => MUTATING.test(k)),
    unit: "calls",
    baseline: budget,
    baselineName: `budget: 2 × ${newEnis} new ENIs + ${gained} ENIs that gained IPs`,
    method,
    goal: { on: "ratio", max: 1 },
    note: `all: ${fmtCalls(b.calls)}`,
  }));
  if (newEnis > 0) {
    o.emit(row({
      id: "P4",
      metric: "EC2 calls per ENI added (burst)",
      value: sumCalls(b.calls, (k) => !/PrivateIpAddresses$/.test(k)) / newEnis,
      unit: "calls",
      method:
        `${method}; every call but (Un)AssignPrivateIpAddresses, per new ENI (${newEnis}). Upstream's ` +
        `documented sequence is Create + DescribeInstances + Attach + Modify (4)`,
    }));
  }
}

/** P4: add/delete cycles inside the warm pool (no EC2 call is expected), on the plugin sections' lab. */
export async function p4Churn(o: BurstBenchOptions, l: PluginLab): Promise<void> {
  if (!o.only("P4")) return;
  progress(`P4: ${o.churn} add/delete cycles inside the pool`);
  const c0 = await l.lab.ec2Calls();
  const e0 = (await l.lab.pool()).enis.length;
  await measureBaseline({ ...l.aws, cycles: o.churn, parallel: 0 });
  await sleep(3000); // let the pool act on the last release, if it would
  const churn = ec2Delta(c0, await l.lab.ec2Calls());
  const e1 = (await l.lab.pool()).enis.length;
  const method =
    `${o.churn} sequential ADD+DEL cycles through the driver inside the default warm pool; the ` +
    `node's EC2 calls (lab status) over the cycles and 3 s after`;
  o.emit(row({
    id: "P4",
    metric: "mutating EC2 calls per pod add+del (in pool)",
    value: sumCalls(churn, (k) => MUTATING.test(k)) / o.churn,
    unit: "calls",
    method,
    note: `all calls: ${fmtCalls(churn)}; ENIs ${e0}→${e1}`,
  }));
}

/**
 * P3 and P4's burst rows; `then` runs on the burst's node with its 60 pods still there (P5 fills it to 110).
 */
export async function benchBurst(
  o: BurstBenchOptions,
  then?: (lab: BenchLab) => Promise<void>,
): Promise<void> {
  if (o.only("P3") || o.only("P4") || then) {
    const lab = await burstLab(o, "lab2", 30);
    try {
      progress(`P3: ${o.burst} pods at once onto a pool of 30 free IPs`);
      const b = await runBurst(lab, o.burst, "b", 30);
      if (o.only("P3")) emitBurst(o, b, "30 free IPs", "WARM_IP_TARGET=30 (the pool holds 30 free IPs)");
      if (o.only("P4")) emitBurstCalls(o, b);
      await then?.(lab);
    } finally {
      await lab.down();
    }
  }
  if (!o.only("P3")) return;
  const lab = await burstLab(o, "lab3", o.burst);
  try {
    progress(`P3 control: ${o.burst} pods at once onto a pool of ${o.burst} free IPs`);
    const b = await runBurst(lab, o.burst, "c", 0);
    emitBurst(o, b, "pool pre-grown", `WARM_IP_TARGET=${o.burst} (the pool already holds every pod's IP)`);
  } finally {
    await lab.down();
  }
}
