/**
 * Measures aws-cni's cost per invocation, run as a runtime runs it: wall time (spawn to exit), CPU time
 * and peak RSS (GNU time's %U/%S/%M, from wait4's rusage) for VERSION, and for ADD/DEL (root: a throwaway
 * node and pod namespaces and the fake ipamd). A benchmark, not a test.
 *
 *   deno run -A tools/measure_startup.ts [--runs 10] [--parallel 30]
 *
 * `--parallel N` also runs N ADDs at once (as containerd does), then N DELs, and prints p50/p99.
 * `--main PATH` measures another tree's `src/cni/main.ts` (A/B against a checkout of an older commit).
 *
 * CPU: GNU time prints it in 10 ms steps, so "CPU p50" is coarse; "CPU avg" is exact (getrusage
 * RUSAGE_CHILDREN before and after, through FFI; it includes the ~1 ms of nsenter and time themselves).
 * `KEEP_LOG=<file>` keeps the plugin log (it has a `start` line with the ms since process start).
 * @module
 */
import { parseArgs } from "node:util";
import { FakeIpamd } from "../harness/fake_ipamd.ts";
import { TestNetns } from "../harness/netns.ts";
import { percentile as pct } from "../harness/stats.ts";
import { type TimedRun, timedRun } from "./timed_run.ts";

const libc = Deno.dlopen(
  "libc.so.6",
  { getrusage: { parameters: ["i32", "buffer"], result: "i32" } } as const,
);
/** CPU ms (user + system) of every child reaped so far. */
function childrenCpuMs(): number {
  const ru = new BigInt64Array(18); // struct rusage: two timevals, then 14 longs
  if (libc.symbols.getrusage(-1, /* RUSAGE_CHILDREN */ ru) !== 0) throw new Error("getrusage failed");
  return Number(ru[0] + ru[2]) * 1000 + Number(ru[1] + ru[3]) / 1000;
}

type Sample = TimedRun;

function measure(prefix: string[], env: Record<string, string>, stdin: string): Promise<Sample> {
  return timedRun([Deno.execPath(), "run", "-A", MAIN], env, stdin, prefix);
}

function summary(name: string, s: Sample[], cpuTotalMs: number): string {
  const ms = s.map((x) => x.ms);
  return `${name.padEnd(14)} n=${String(s.length).padEnd(3)} wall p50 ${pct(ms, 50).toFixed(0)} ms  ` +
    `p99 ${pct(ms, 99).toFixed(0)} ms  CPU p50 ${pct(s.map((x) => x.cpuMs), 50).toFixed(0)} ms  ` +
    `avg ${(cpuTotalMs / s.length).toFixed(1)} ms  ` +
    `peak RSS max ${(Math.max(...s.map((x) => x.rssKiB)) / 1024).toFixed(1)} MiB`;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "10" },
    parallel: { type: "string", default: "0" },
    main: { type: "string", default: new URL("../src/cni/main.ts", import.meta.url).pathname },
  },
});
const MAIN = values.main;
const runs = Number(values.runs);
const parallel = Number(values.parallel);

const version: Sample[] = [];
let c0 = childrenCpuMs();
for (let i = 0; i < runs; i++) {
  version.push(await measure([], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.1.0"}'));
}
if (version.some((s) => s.code !== 0)) throw new Error(`VERSION failed: ${version[0].stdout}`);
console.log(summary("VERSION", version, childrenCpuMs() - c0));

if (Deno.uid() !== 0) {
  console.log("ADD/DEL: skipped (needs root for namespaces)");
  Deno.exit(0);
}

const node = await TestNetns.create("mn");
const fake = FakeIpamd.start({
  ips: Array.from(
    { length: Math.max(1, parallel) },
    (_, i) => ({ ipv4: `10.0.16.${i + 10}`, routeTable: 3 }),
  ),
});
const dir = Deno.makeTempDirSync();
const nsenter = ["nsenter", `--net=${node.path}`, "--"];
const conf = JSON.stringify({
  cniVersion: "1.0.0",
  name: "aws-cni",
  type: "aws-cni",
  ipamdSocket: fake.socketPath,
  pluginLogFile: `${dir}/plugin.log`,
});
const envFor = (pod: TestNetns, id: string) => ({
  CNI_CONTAINERID: id,
  CNI_NETNS: pod.path,
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}`,
});
try {
  const add: Sample[] = [];
  const del: Sample[] = [];
  let addCpu = 0, delCpu = 0;
  for (let i = 0; i < runs; i++) {
    const pod = await TestNetns.create("mp");
    try {
      const env = envFor(pod, `m${i}`);
      c0 = childrenCpuMs();
      const a = await measure(nsenter, { ...env, CNI_COMMAND: "ADD" }, conf);
      addCpu += childrenCpuMs() - c0;
      if (a.code !== 0) throw new Error(`ADD failed: ${a.stdout}`);
      add.push(a);
      c0 = childrenCpuMs();
      const d = await measure(nsenter, { ...env, CNI_COMMAND: "DEL" }, conf);
      delCpu += childrenCpuMs() - c0;
      if (d.code !== 0) throw new Error(`DEL failed: ${d.stdout}`);
      del.push(d);
    } finally {
      await pod.delete();
    }
  }
  console.log(summary("ADD", add, addCpu));
  console.log(summary("DEL", del, delCpu));
  if (parallel > 0) {
    const pods = await Promise.all(Array.from({ length: parallel }, () => TestNetns.create("mq")));
    try {
      for (const cmd of ["ADD", "DEL"]) {
        c0 = childrenCpuMs();
        const s = await Promise.all(
          pods.map((p, i) => measure(nsenter, { ...envFor(p, `q${i}`), CNI_COMMAND: cmd }, conf)),
        );
        const cpu = childrenCpuMs() - c0;
        const bad = s.find((x) => x.code !== 0);
        if (bad) throw new Error(`parallel ${cmd} failed: ${bad.stdout}`);
        console.log(summary(`${parallel}x ${cmd}`, s, cpu));
      }
    } finally {
      for (const p of pods) await p.delete();
    }
  }
} finally {
  await fake.stop();
  await node.delete();
  const keep = Deno.env.get("KEEP_LOG");
  if (keep) Deno.copyFileSync(`${dir}/plugin.log`, keep);
  Deno.removeSync(dir, { recursive: true });
}
