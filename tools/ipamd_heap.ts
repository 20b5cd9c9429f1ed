/**
 * A V8 heap snapshot of ipamd at 110 pods, summarised (docs/PERFORMANCE.md): a one-node lab (m5.4xlarge,
 * realistic latency), 110 pods added through libcni, then SIGUSR2 (src/ipamd/process_memory.ts) and
 * tools/heap_summary.ts on the snapshot. Root only.
 *
 *   deno run -A tools/ipamd_heap.ts [--pods 110] [--keep FILE.heapsnapshot]
 * @module
 */
import { parseArgs } from "node:util";
import { randomSuffix } from "../harness/libcni.ts";
import { fetchStatus } from "../src/sim/daemon_client.ts";
import {
  addPodsAtOnce,
  cleanupAll,
  podNamespaces,
  progress,
  sampledRssMiB,
  startLab,
  until,
  warm,
} from "./bench_lab.ts";
import { heapMarkdown, summariseHeap } from "./heap_summary.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { pods: { type: "string", default: "110" }, keep: { type: "string" } },
});
const pods = Number(values.pods);
const tmp = await Deno.makeTempDir({ prefix: "vpc-cni-heap-" });
try {
  const lab = await startLab(`${tmp}/lab`, "m5.4xlarge", {});
  await warm(lab, 30);
  progress(`adding ${pods} pods through libcni`);
  const ns = await podNamespaces(`${lab.status.id}-h${randomSuffix().slice(0, 4)}`, pods);
  await addPodsAtOnce(lab, ns.names, { namespace: "heap", idPrefix: "h" });
  const pid = (await fetchStatus(lab.names)).nodes[0].ipamdPid!;
  const rss = await sampledRssMiB(pid);
  const logDir = `${lab.dir}/nodes/0/log`;
  Deno.kill(pid, "SIGUSR2");
  const file = await until(
    "the heap snapshot",
    () => {
      for (const e of Deno.readDirSync(logDir)) {
        if (e.name.endsWith(".heapsnapshot")) return `${logDir}/${e.name}`;
      }
    },
    120_000,
    500,
  );
  await until(
    "the snapshot written",
    async () => {
      const a = (await Deno.stat(file)).size;
      await new Promise((r) => setTimeout(r, 1000));
      return a > 0 && (await Deno.stat(file)).size === a;
    },
    120_000,
    100,
  );
  if (values.keep) await Deno.copyFile(file, values.keep);
  console.log(`ipamd at ${pods} pods: VmRSS ${rss.median.toFixed(1)} MiB (median of 5)\n`);
  console.log(heapMarkdown(summariseHeap(JSON.parse(await Deno.readTextFile(file)))));
} finally {
  await cleanupAll();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
