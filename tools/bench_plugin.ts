/**
 * The plugin's rows, each against a baseline measured here, through the Go libcni driver (libcni v1.3.1) as a
 * runtime runs it, on a lab node (m5.4xlarge, default warm pool: no ADD waits for EC2):
 *
 * - P1: sequential ADD and DEL p50 vs the reference ptp + host-local v1.10.0, and ADD p50 over a "bare deno"
 *   plugin (a launcher like ours running a script that only prints a result: deno's start-up, same flags).
 *   Then the same cycles again with `VPC_CNI_TRACE=1`: the per-phase table (tools/phase_table.ts).
 * - P2: 30 ADDs at once (the driver's parallel-add): p50, p99, and CPU per call (every child's CPU during
 *   the batch / 30, driver included), vs ptp the same way.
 * - P6: one process per call under GNU time: VERSION and ADD wall p50, peak RSS and CPU, vs `deno run` of
 *   an empty script.
 * @module
 */
import { join } from "node:path";
import { CNI_PLUGINS_VERSION } from "../src/sim/cni_plugins.ts";
import { BUNDLE_RUN_FLAGS } from "../src/sim/plugin_bundle.ts";
import { libcni, netnsPath, randomSuffix } from "../harness/libcni.ts";
import { percentile, type Summary, summary } from "../harness/stats.ts";
import { type BaselineResult, measureBaseline, ptpConflist } from "./baseline.ts";
import { type BenchLab, onCleanup, podNamespaces, progress, startLab, warm } from "./bench_lab.ts";
import { type BenchRow, type Goal, r1, row } from "./bench_rows.ts";
import { phaseLines, phaseTable, summarisePhases } from "./phase_table.ts";
import { childrenCpuMs, type TimedRun, timedRun } from "./timed_run.ts";
import { addNetns, delNetns } from "../harness/libcni.ts";

/** What the plugin sections are given. */
export interface PluginBenchOptions {
  tmp: string;
  cycles: number;
  parallel: number;
  /** P6 runs per command. */
  runs: number;
  only: (id: string) => boolean;
  emit: (r: BenchRow) => void;
  /** Receives the phase tables (markdown). */
  phases: (md: string) => void;
}

const PTP = `ptp + host-local ${CNI_PLUGINS_VERSION}`;
const DRIVER = "the Go libcni driver (libcni v1.3.1)";

/** A conflist for ADD/DEL through the driver: its file, plugin dirs and CNI_ARGS. */
interface Net {
  conflist: string;
  binDir: string | string[];
  nodeNetns: string;
  args: Record<string, string>;
  podPrefix: string;
}

/** The reference plugins' figures: sequential cycles, and a parallel batch with its CPU per call. */
interface Ptp {
  seq: BaselineResult;
  par?: { add: Summary; cpuPerCall: number };
}

/** The reference plugins, sequential and parallel, in a throwaway node namespace. */
async function measurePtp(o: PluginBenchOptions): Promise<Ptp> {
  progress(`baseline: ${PTP}, ${o.cycles} cycles${o.only("P2") ? ` + ${o.parallel} parallel ADDs` : ""}`);
  const id = randomSuffix();
  const node = `vcb-n${id}`;
  await addNetns(node);
  const remove = onCleanup(() => delNetns(node));
  try {
    await Deno.writeTextFile(`${o.tmp}/ptp.conflist`, ptpConflist(`vcb${id}`, o.tmp));
    const net = { conflist: `${o.tmp}/ptp.conflist`, nodeNetns: node };
    const seq = await measureBaseline({ ...net, cycles: o.cycles, parallel: 0 });
    if (!o.only("P2")) return { seq };
    const par = await parallelAdds({ ...net, binDir: "", args: {}, podPrefix: `vcb-q${id}-` }, o);
    return { seq, par: { add: summary(par.add), cpuPerCall: par.cpuPerCall } };
  } finally {
    await remove();
  }
}

/** `n` ADDs at once through the driver (then DELs); every child's CPU during the batch / n. */
async function parallelAdds(net: Net, o: PluginBenchOptions): Promise<{ add: number[]; cpuPerCall: number }> {
  const pods = await podNamespaces(net.podPrefix, o.parallel);
  try {
    const c0 = childrenCpuMs();
    const r = await libcni<{ add_ms: number[] }>("parallel-add", {
      conflist: net.conflist,
      ...(net.binDir ? { binDir: net.binDir } : {}),
      inNetns: net.nodeNetns,
      cacheDir: `${o.tmp}/cache-${randomSuffix()}`,
      args: net.args,
      netns: pods.names.map(netnsPath),
      containerId: `bpar-${randomSuffix()}`,
      n: o.parallel,
    });
    return { add: r.add_ms, cpuPerCall: (childrenCpuMs() - c0) / o.parallel };
  } finally {
    await pods.remove();
  }
}

/** A plugin that is only deno starting: reads stdin, prints a minimal result for ADD, nothing else. */
async function writeBarePlugin(dir: string, deno: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "bare.js"),
    `await new Response(Deno.stdin.readable).arrayBuffer();\n` +
      `const v = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];\n` +
      `const c = Deno.env.get("CNI_COMMAND");\n` +
      `if (c === "ADD") console.log(JSON.stringify({ cniVersion: "1.0.0", ips: [{ address: "10.99.0.1/32" }] }));\n` +
      `if (c === "VERSION") console.log(JSON.stringify({ cniVersion: "1.0.0", supportedVersions: v }));\n`,
  );
  await Deno.writeTextFile(
    join(dir, "bare-deno"),
    `#!/bin/sh\nexec '${deno}' run -A ${BUNDLE_RUN_FLAGS.join(" ")} '${join(dir, "bare.js")}' "$@"\n`,
  );
  await Deno.chmod(join(dir, "bare-deno"), 0o755);
}

/** Lab 1 and the two conflists measured on it: aws-cni alone (no portmap), and the bare deno plugin. */
async function pluginLab(o: PluginBenchOptions): Promise<{ lab: BenchLab; aws: Net; bare: Net }> {
  progress("lab 1: 1 × m5.4xlarge, realistic latency, default warm pool, IP_COOLDOWN_PERIOD=1");
  const lab = await startLab(`${o.tmp}/lab1`, "m5.4xlarge", { IP_COOLDOWN_PERIOD: "1" });
  await warm(lab, Math.max(o.parallel, 30));
  const conf = JSON.parse(await Deno.readTextFile(lab.names.conflistPath(0)));
  conf.plugins = conf.plugins.filter((p: { type: string }) => p.type === "aws-cni");
  await Deno.writeTextFile(`${o.tmp}/aws.conflist`, JSON.stringify(conf));
  await writeBarePlugin(`${o.tmp}/bare`, Deno.execPath());
  await Deno.writeTextFile(
    `${o.tmp}/bare.conflist`,
    JSON.stringify({ cniVersion: "1.0.0", name: "bare", plugins: [{ type: "bare-deno" }] }),
  );
  // No K8S_POD_NAME: each host veth is named from its container ID (parallel pods need distinct names).
  const args = { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "bench" };
  const id = randomSuffix();
  const net = { nodeNetns: lab.node.netns, args };
  return {
    lab,
    aws: {
      ...net,
      conflist: `${o.tmp}/aws.conflist`,
      binDir: lab.names.binDir,
      podPrefix: `${lab.status.id}-b${id}`,
    },
    bare: {
      ...net,
      conflist: `${o.tmp}/bare.conflist`,
      binDir: `${o.tmp}/bare`,
      podPrefix: `${lab.status.id}-z${id}`,
    },
  };
}

/** P1: sequential ADD/DEL vs ptp, ADD over the bare deno plugin. */
async function p1(o: PluginBenchOptions, aws: Net, bare: Net, base: BaselineResult): Promise<void> {
  progress(`P1: ${o.cycles} sequential ADD+DEL cycles of aws-cni, and of a bare deno plugin`);
  const ours = await measureBaseline({ ...aws, cycles: o.cycles, parallel: 0 });
  const b = await measureBaseline({ ...bare, cycles: o.cycles, parallel: 0 });
  const method =
    `${o.cycles} sequential ADD+DEL cycles (p50) through ${DRIVER} in the lab node's namespace; ` +
    `aws-cni alone from the lab's launcher (a deno bundle), its ipamd answering from a warm pool`;
  const add = ours.sequential.add.p50;
  o.emit(row({
    id: "P1",
    metric: "aws-cni ADD p50",
    value: add,
    unit: "ms",
    baseline: base.sequential.add.p50,
    baselineName: PTP,
    method,
  }));
  o.emit(row({
    id: "P1",
    metric: "aws-cni ADD p50 vs a bare deno plugin",
    value: add,
    unit: "ms",
    baseline: b.sequential.add.p50,
    baselineName: "bare deno plugin",
    method: `${method}; the bare deno plugin runs with the launcher's deno flags and only reads stdin ` +
      `and prints a result: what aws-cni takes over it (${r1(add - b.sequential.add.p50)} ms) ` +
      `is our own work`,
    goal: { on: "excess", max: 5 },
  }));
  o.emit(row({
    id: "P1",
    metric: "aws-cni DEL p50",
    value: ours.sequential.del.p50,
    unit: "ms",
    baseline: base.sequential.del.p50,
    baselineName: PTP,
    method,
    goal: { on: "ratio", max: 2 },
  }));
}

/** P1's phase table: the same cycles with VPC_CNI_TRACE=1, read back from the node's plugin log. */
async function phases(o: PluginBenchOptions, lab: BenchLab, aws: Net): Promise<void> {
  progress(`P1 phases: ${o.cycles} traced cycles (VPC_CNI_TRACE=1)`);
  const log = lab.names.pluginLog(0);
  const from = (await Deno.stat(log).catch(() => ({ size: 0 }))).size;
  Deno.env.set("VPC_CNI_TRACE", "1");
  try {
    await measureBaseline({ ...aws, cycles: o.cycles, parallel: 0 });
  } finally {
    Deno.env.delete("VPC_CNI_TRACE");
  }
  const text = new TextDecoder().decode((await Deno.readFile(log)).subarray(from));
  const lines = phaseLines(text);
  const cols = Object.fromEntries(
    ["ADD", "DEL"].map((c) => [c, summarisePhases(lines.filter((l) => l.cmd === c))]),
  );
  o.phases(phaseTable(cols));
}

/** P2: 30 ADDs at once, vs ptp the same way; CPU per call. */
async function p2(o: PluginBenchOptions, lab: BenchLab, aws: Net, ptp: Ptp): Promise<void> {
  progress(`P2: ${o.parallel} parallel ADDs of aws-cni`);
  await warm(lab, o.parallel);
  const r = await parallelAdds(aws, o);
  const s = summary(r.add);
  const method = `${o.parallel} ADDs started at once by the driver's parallel-add (each timed from the ` +
    `batch's start) on 2 cores; the baseline the same way`;
  const bp = ptp.par!.add;
  for (const [q, v, b] of [["p50", s.p50, bp.p50], ["p99", s.p99, bp.p99]] as const) {
    o.emit(row({
      id: "P2",
      metric: `${o.parallel} parallel ADDs ${q}`,
      value: v,
      unit: "ms",
      baseline: b,
      baselineName: PTP,
      method,
      ...(q === "p50" ? { goal: { on: "ratio" as const, max: 2.5 } } : {}),
    }));
  }
  o.emit(row({
    id: "P2",
    metric: "CPU per call in the parallel batch",
    value: r.cpuPerCall,
    unit: "ms",
    baseline: ptp.par!.cpuPerCall,
    baselineName: PTP,
    method: `CPU (user + system) of every process the batch ran (driver, nsenter, launcher, plugin) / ` +
      `${o.parallel}, from getrusage(RUSAGE_CHILDREN)`,
  }));
}

const p50 = (xs: TimedRun[], f: (x: TimedRun) => number) => percentile(xs.map(f), 50);

/** P6: one process per call, vs an empty deno script. */
async function p6(o: PluginBenchOptions, lab: BenchLab, aws: Net): Promise<void> {
  progress(`P6: aws-cni VERSION/ADD per invocation vs an empty deno script (${o.runs} runs each)`);
  await Deno.writeTextFile(`${o.tmp}/empty.js`, "\n");
  const deno = Deno.execPath();
  const plugin = join(lab.names.binDir, "aws-cni");
  const conf = JSON.parse(await Deno.readTextFile(aws.conflist));
  const pluginConf = JSON.stringify({ ...conf.plugins[0], cniVersion: conf.cniVersion, name: conf.name });
  const nsenter = ["nsenter", `--net=${netnsPath(lab.node.netns)}`, "--"];
  const bare: TimedRun[] = [], ver: TimedRun[] = [], add: TimedRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    bare.push(await timedRun([deno, "run", "-A", ...BUNDLE_RUN_FLAGS, `${o.tmp}/empty.js`], {}));
    ver.push(await checked(timedRun([plugin], { CNI_COMMAND: "VERSION" }, pluginConf), "VERSION"));
    const pod = await addNetns(`${lab.status.id}-v${randomSuffix()}`);
    try {
      const env = {
        CNI_CONTAINERID: `bv-${randomSuffix()}`,
        CNI_NETNS: netnsPath(pod),
        CNI_IFNAME: "eth0",
        CNI_PATH: lab.names.binDir,
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench",
      };
      const a = await checked(timedRun([plugin], { ...env, CNI_COMMAND: "ADD" }, pluginConf, nsenter), "ADD");
      add.push(a);
      const prev = JSON.stringify({ ...JSON.parse(pluginConf), prevResult: JSON.parse(a.stdout) });
      await checked(timedRun([plugin], { ...env, CNI_COMMAND: "DEL" }, prev, nsenter), "DEL");
    } finally {
      await delNetns(pod);
    }
  }
  emitP6(o, bare, ver, add);
}

async function checked(p: Promise<TimedRun>, what: string): Promise<TimedRun> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stdout}`);
  return r;
}

function emitP6(o: PluginBenchOptions, bare: TimedRun[], ver: TimedRun[], add: TimedRun[]): void {
  const peak = (xs: TimedRun[]) => Math.max(...xs.map((x) => x.rssKiB)) / 1024;
  const method = `${o.runs} runs of the lab's launcher under GNU time (wall: spawn to exit; peak RSS: ` +
    `wait4's maxrss; CPU: getrusage(RUSAGE_CHILDREN), GNU time's ~1 ms included), ADD against the lab ` +
    `node's ipamd; baseline: deno run of an empty script with the launcher's flags, the same way`;
  const base = { baselineName: "empty deno script", method };
  const wall = (xs: TimedRun[]) => p50(xs, (x) => x.ms), cpu = (xs: TimedRun[]) => p50(xs, (x) => x.cpuMs);
  const emit = (
    metric: string,
    of: (xs: TimedRun[]) => number,
    runs: TimedRun[],
    unit: string,
    goal?: Goal,
  ) => o.emit(row({ id: "P6", metric, value: of(runs), unit, baseline: of(bare), ...base, goal }));
  emit("aws-cni VERSION wall p50", wall, ver, "ms");
  emit("aws-cni ADD wall p50", wall, add, "ms");
  emit("aws-cni ADD CPU p50", cpu, add, "ms");
  emit("aws-cni VERSION peak RSS", peak, ver, "MiB");
  emit("aws-cni ADD peak RSS", peak, add, "MiB", { on: "value", max: 40 });
}

/** The lab node and conflist the plugin sections measured, for sections that reuse them (P4's churn). */
export type PluginLab = { lab: BenchLab; aws: Net };

/**
 * Runs P1 (and its phases), P2 and P6 as `o.only` selects them, then `more` on the same lab (when `more` is
 * given, the lab comes up even when no plugin row is selected).
 */
export async function benchPlugin(
  o: PluginBenchOptions,
  more?: (l: PluginLab) => Promise<void>,
): Promise<void> {
  if (!["P1", "P2", "P6"].some(o.only) && !more) return;
  const ptp = o.only("P1") || o.only("P2") ? await measurePtp(o) : undefined;
  const { lab, aws, bare } = await pluginLab(o);
  try {
    if (o.only("P1")) {
      await p1(o, aws, bare, ptp!.seq);
      await phases(o, lab, aws);
    }
    if (o.only("P2")) await p2(o, lab, aws, ptp!);
    if (o.only("P6")) await p6(o, lab, aws);
    await more?.({ lab, aws });
  } finally {
    await lab.down();
  }
}
