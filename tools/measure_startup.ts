/**
 * Measures aws-cni's cost per invocation, run as a runtime runs it: wall time (spawn to exit), CPU time and
 * peak RSS for VERSION, and for ADD/DEL (root: a throwaway node and pod namespaces and the fake ipamd, so
 * ipamd's own time is not in it). A benchmark, not a test.
 *
 *   deno run -A tools/measure_startup.ts [--runs 10] [--parallel 30] [--trace]
 *       [--variant NAME='DENO RUN ARGS' ...]
 *
 * Each `--variant` is how deno runs the plugin (flags, then the entry), e.g.
 * `--variant src='--config deno.json src/cni/main.ts' --variant bundle='--no-config --no-lock B/main.js'`
 * (default: the source as the lab's launcher ran it). Variants are interleaved call by call, so machine load
 * hits them alike; compare them within one run. `--parallel N` also runs N ADDs at once (as containerd does),
 * then N DELs, per variant. `--ipamd-ms N` makes the fake ipamd take N ms per answer. `--trace` sets `VPC_CNI_TRACE=1` and prints each variant's phase table
 * (tools/phase_table.ts); `KEEP_LOG=<dir>` keeps the plugin logs.
 *
 * CPU is exact per call (tools/timed_run.ts; it includes the ~1 ms of nsenter and GNU time, which also
 * reports the peak RSS); for overlapping calls (--parallel) each gets the batch's average.
 * @module
 */
import { parseArgs } from "node:util";
import { FakeIpamd } from "../harness/fake_ipamd.ts";
import { TestNetns } from "../harness/netns.ts";
import { percentile as pct } from "../harness/stats.ts";
import { phaseLines, type PhaseSummary, phaseTable, summarisePhases } from "./phase_table.ts";
import { childrenCpuMs, timedRun } from "./timed_run.ts";

/** One measured call. */
interface Sample {
  ms: number;
  cpuMs: number;
  rssKiB: number;
  stdout: string;
}

/** How one variant runs the plugin, its log, and its samples per command. */
interface Variant {
  name: string;
  args: string[];
  log: string;
  samples: Record<string, Sample[]>;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "10" },
    parallel: { type: "string", default: "0" },
    trace: { type: "boolean", default: false },
    variant: { type: "string", multiple: true },
    "ipamd-ms": { type: "string", default: "0" },
  },
});
const runs = Number(values.runs);
const parallel = Number(values.parallel);
const dir = Deno.makeTempDirSync({ prefix: "vpc-cni-startup-" });
const variants: Variant[] = (values.variant ?? [`source=--no-check --config deno.json src/cni/main.ts`]).map(
  (v) => {
    const i = v.indexOf("=");
    const name = v.slice(0, i);
    return { name, args: v.slice(i + 1).split(" ").filter(Boolean), log: `${dir}/${name}.log`, samples: {} };
  },
);

/** One call of `v` (prefix e.g. nsenter); a non-zero exit throws with the plugin's stdout. */
async function call(
  v: Variant,
  cmd: string,
  prefix: string[],
  env: Record<string, string>,
  stdin: string,
  label = cmd,
): Promise<Sample> {
  const trace: Record<string, string> = values.trace ? { VPC_CNI_TRACE: "1" } : {};
  const r = await timedRun(
    [Deno.execPath(), "run", "-A", ...v.args],
    { ...trace, ...env, CNI_COMMAND: cmd },
    stdin,
    prefix,
  );
  if (r.code !== 0) throw new Error(`${v.name} ${cmd} failed: ${r.stdout}`);
  const s = { ms: r.ms, cpuMs: r.cpuMs, rssKiB: r.rssKiB, stdout: r.stdout };
  (v.samples[label] ??= []).push(s);
  return s;
}

function summary(v: Variant, cmd: string): string {
  const s = v.samples[cmd] ?? [];
  if (!s.length) return "";
  const ms = s.map((x) => x.ms);
  const cpu = s.map((x) => x.cpuMs);
  return `${v.name.padEnd(10)} ${cmd.padEnd(9)} n=${String(s.length).padEnd(3)} wall p50 ${
    pct(ms, 50).toFixed(1)
  } ` +
    `p99 ${pct(ms, 99).toFixed(1)} ms  CPU p25 ${pct(cpu, 25).toFixed(1)} p50 ${
      pct(cpu, 50).toFixed(1)
    } ms  ` +
    `peak RSS max ${(Math.max(...s.map((x) => x.rssKiB)) / 1024).toFixed(1)} MiB`;
}

const confFor = (v: Variant, socket: string) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "aws-cni",
    type: "aws-cni",
    ipamdSocket: socket,
    pluginLogFile: v.log,
  });
const envFor = (pod: TestNetns, id: string) => ({
  CNI_CONTAINERID: id,
  CNI_NETNS: pod.path,
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}`,
});

for (let i = 0; i < runs; i++) {
  for (const v of variants) await call(v, "VERSION", [], {}, '{"cniVersion":"1.1.0"}');
}
if (Deno.uid() !== 0) {
  for (const v of variants) console.log(summary(v, "VERSION"));
  console.log("ADD/DEL: skipped (needs root for namespaces)");
  Deno.exit(0);
}

const node = await TestNetns.create("mn");
const fake = FakeIpamd.start({
  ips: Array.from({ length: Math.max(1, parallel) * variants.length }, (_, i) => ({
    ipv4: `10.0.${16 + (i >> 8)}.${i & 255}`,
    routeTable: 3,
  })),
});
const ipamdMs = Number(values["ipamd-ms"]);
if (ipamdMs > 0) fake.beforeReply = () => new Promise((r) => setTimeout(r, ipamdMs));
const nsenter = ["nsenter", `--net=${node.path}`, "--"];
try {
  for (let i = 0; i < runs; i++) {
    for (const [k, v] of variants.entries()) {
      const pod = await TestNetns.create("mp");
      try {
        const env = envFor(pod, `m${k}-${i}`);
        const a = await call(v, "ADD", nsenter, env, confFor(v, fake.socketPath));
        // As a runtime does: the DEL carries the ADD's result as prevResult.
        const prev = { ...JSON.parse(confFor(v, fake.socketPath)), prevResult: JSON.parse(a.stdout) };
        await call(v, "DEL", nsenter, env, JSON.stringify(prev));
      } finally {
        await pod.delete();
      }
    }
  }
  for (const v of parallel > 0 ? variants : []) {
    const pods = await Promise.all(Array.from({ length: parallel }, () => TestNetns.create("mq")));
    try {
      for (const cmd of ["ADD", "DEL"]) {
        const c0 = childrenCpuMs();
        const s = await Promise.all(
          pods.map((p, i) =>
            call(v, cmd, nsenter, envFor(p, `q${i}`), confFor(v, fake.socketPath), `${parallel}x${cmd}`)
          ),
        );
        // Per-call CPU is not separable when calls overlap: each sample gets the batch's average.
        const avg = (childrenCpuMs() - c0) / s.length;
        for (const x of s) x.cpuMs = avg;
      }
    } finally {
      for (const p of pods) await p.delete();
    }
  }
  for (const cmd of ["VERSION", "ADD", "DEL", `${parallel}xADD`, `${parallel}xDEL`]) {
    for (const v of variants) if (v.samples[cmd]) console.log(summary(v, cmd));
  }
  if (values.trace) {
    for (const cmd of ["ADD", "DEL"]) {
      const cols: Record<string, PhaseSummary> = {};
      for (const v of variants) {
        const lines = phaseLines(await Deno.readTextFile(v.log)).filter((l) => l.cmd === cmd);
        cols[v.name] = summarisePhases(lines);
      }
      console.log(`\n${cmd}, phases (p50; CPU = the process's, VPC_CNI_TRACE=1)\n${phaseTable(cols)}`);
    }
  }
} finally {
  await fake.stop();
  await node.delete();
  const keep = Deno.env.get("KEEP_LOG");
  if (keep) { for (const v of variants) await Deno.copyFile(v.log, `${keep}/${v.name}.log`).catch(() => {}); }
  Deno.removeSync(dir, { recursive: true });
}
