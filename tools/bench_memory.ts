/**
 * P5 and P7: ipamd's memory.
 *
 * - P5: ipamd's VmRSS with 110 pods assigned (the burst's node, filled up), vs idle deno processes measured in
 *   the same run: one that imported both packages' indexes (`@aws-sdk/client-ec2`, `@kubernetes/client-node`)
 *   and made an EC2Client and a KubeConfig (the floor); one that imported what ipamd imports of them
 *   (client-ec2's index, client-node's watch, kubeconfig and auth modules, yaml for the lab's kubeconfig) with
 *   ipamd's V8 flags and one malloc_trim, as ipamd runs; and a bare one.
 * - P7 (only when asked for: `--only P7`): the soak. Add/delete churn through libcni for `--soak-minutes`
 *   (default 30); ipamd's RSS at the end minus its RSS after the first minute.
 * @module
 */
import { randomSuffix } from "../harness/libcni.ts";
import { percentile } from "../harness/stats.ts";
import { measureBaseline } from "./baseline.ts";
import {
  addPodsAtOnce,
  type BenchLab,
  idleRss,
  idleRssMiB,
  podNamespaces,
  progress,
  REPO_DIR,
  rssSplitMiB,
  sampledRssMiB,
  sleep,
  startLab,
  until,
  vmRssKiB,
  warm,
} from "./bench_lab.ts";
import { type BenchRow, r1, row } from "./bench_rows.ts";
import { IPAMD_V8_FLAGS } from "../src/ipamd/process_memory.ts";

/** What the memory sections are given. */
export interface MemoryBenchOptions {
  tmp: string;
  soakMinutes: number;
  only: (id: string) => boolean;
  emit: (r: BenchRow) => void;
}

/** ipamd's floor: what ipamd imports of the two packages, its V8 flags, one malloc_trim (process_memory.ts). */
export const IPAMD_IMPORTS_CODE = `import { EC2Client } from "@aws-sdk/client-ec2";
import "@kubernetes/client-node/dist/watch.js";
import "@kubernetes/client-node/dist/config_types.js";
import "@kubernetes/client-node/dist/exec_auth.js";
import "@kubernetes/client-node/dist/file_auth.js";
import "yaml";
import { releaseFreedMemory } from "${REPO_DIR}/src/ipamd/process_memory.ts";
new EC2Client({ region: "us-west-2" });
releaseFreedMemory();
console.log("ready");
setInterval(() => {}, 1000);`;

/** The floor: an idle deno that imported both packages (their indexes) and made their clients. */
export const FLOOR_CODE = `import { EC2Client } from "@aws-sdk/client-ec2";
import { KubeConfig } from "@kubernetes/client-node";
new EC2Client({ region: "us-west-2" });
new KubeConfig();
console.log("ready");
setInterval(() => {}, 1000);`;

async function ipamdPid(lab: BenchLab): Promise<number> {
  const { fetchStatus } = await import("../src/sim/daemon_client.ts");
  return (await fetchStatus(lab.names)).nodes[0].ipamdPid!;
}

/** P5 on the burst's node (60 pods on it): 50 more pods, then ipamd's RSS, the floor and a bare deno. */
export async function p5(o: MemoryBenchOptions, lab: BenchLab): Promise<void> {
  if (!o.only("P5")) return;
  progress("P5: filling the node to 110 pods");
  const have = (await lab.pool()).totals.assigned;
  const more = Math.max(0, 110 - have);
  const pods = await podNamespaces(`${lab.status.id}-f${randomSuffix().slice(0, 4)}`, more);
  await addPodsAtOnce(lab, pods.names, { namespace: "bench", idPrefix: "f" });
  await until("110 assigned", async () => (await lab.pool()).totals.assigned >= 110, 120_000, 200);
  await sleep(3000);
  const pid = await ipamdPid(lab);
  const rss = await sampledRssMiB(pid);
  const split = rssSplitMiB(pid);
  progress("P5: baselines (an idle deno that imported both packages; a bare idle deno)");
  const floor = await idleRssMiB(FLOOR_CODE);
  const ipamdFloor = await idleRss(IPAMD_IMPORTS_CODE, [`--v8-flags=${IPAMD_V8_FLAGS.join(",")}`]);
  const bare = await idleRss(`console.log("ready"); setInterval(() => {}, 1000);`);
  const parts = (x: { anon: number; file: number }) => `RssAnon ${r1(x.anon)} + RssFile ${r1(x.file)} MiB`;
  const method = `VmRSS of the lab node's ipamd with 110 pods assigned (after a 60-pod burst and 50 more), ` +
    `median of 5 samples 1 s apart (${r1(rss.min)}–${r1(rss.max)} MiB; at the last, ${parts(split)}); ` +
    `baselines: idle deno processes measured in this run, 1 s after start-up (ipamd's imports: ` +
    `${parts(ipamdFloor)}; bare: ${parts(bare)}). RssFile is the pages of deno's binary and libraries ` +
    `mapped in, shared with every deno process on the node`;
  o.emit(row({
    id: "P5",
    metric: "ipamd VmRSS, 110 pods",
    value: rss.median,
    unit: "MiB",
    baseline: floor,
    baselineName: "idle deno that imported @aws-sdk/client-ec2 and @kubernetes/client-node",
    method,
    goal: { on: "value", max: 96 },
  }));
  o.emit(row({
    id: "P5",
    metric: "ipamd VmRSS, 110 pods (vs ipamd's imports)",
    value: rss.median,
    unit: "MiB",
    baseline: ipamdFloor.rss,
    baselineName: "idle deno with ipamd's imports of both packages, V8 flags and malloc_trim",
    method,
  }));
  o.emit(row({
    id: "P5",
    metric: "ipamd VmRSS, 110 pods (vs bare deno)",
    value: rss.median,
    unit: "MiB",
    baseline: bare.rss,
    baselineName: "bare idle deno",
    method,
  }));
}

/** ipamd's VmRSS (MiB): the median of the samples taken in the last `windowMs`. */
function recentMedian(samples: [number, number][], windowMs: number): number {
  const end = samples.at(-1)![0];
  return percentile(samples.filter(([t]) => t >= end - windowMs).map(([, v]) => v), 50);
}

/** P7: churn for `soakMinutes`, RSS at the end minus RSS after the first minute (medians of 30 s of samples). */
export async function p7(o: MemoryBenchOptions): Promise<void> {
  if (!o.only("P7")) return;
  progress(`P7: ${o.soakMinutes} min of add/delete churn (m5.large, default warm pool)`);
  const lab = await startLab(`${o.tmp}/lab-soak`, "m5.large", { IP_COOLDOWN_PERIOD: "1" });
  try {
    await warm(lab, 5);
    const pid = await ipamdPid(lab);
    const samples: [number, number][] = [];
    const t0 = Date.now();
    const end = t0 + o.soakMinutes * 60_000;
    let first: number | undefined;
    let cycles = 0;
    const net = {
      conflist: lab.names.conflistPath(0),
      binDir: lab.names.binDir,
      nodeNetns: lab.node.netns,
      args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "soak" },
      podPrefix: `${lab.status.id}-t`,
    };
    while (Date.now() < end) {
      await measureBaseline({ ...net, cycles: 20, parallel: 0 });
      cycles += 20;
      samples.push([Date.now() - t0, vmRssKiB(pid) / 1024]);
      if (first === undefined && Date.now() - t0 >= 60_000) first = recentMedian(samples, 30_000);
    }
    const last = recentMedian(samples, 30_000);
    o.emit(row({
      id: "P7",
      metric: `ipamd RSS growth over ${o.soakMinutes} min of churn`,
      value: last - (first ?? last),
      unit: "MiB",
      baseline: first ?? last,
      baselineName: "ipamd VmRSS after the first minute",
      method: `${cycles} ADD+DEL cycles through the driver (lab conflist: aws-cni + portmap) for ` +
        `${o.soakMinutes} min; ipamd's VmRSS sampled after every 20 cycles; the median of the last 30 s ` +
        `minus the median of the 30 s before the first minute ended (${r1(first ?? last)} → ${r1(last)} MiB)`,
      goal: { on: "value", max: 2 },
    }));
  } finally {
    await lab.down();
  }
}
