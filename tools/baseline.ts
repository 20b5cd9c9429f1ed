/**
 * Measures the CNI baseline on this machine through real libcni (the Go driver in `tests/libcni/`):
 * sequential ADD and DEL latency over N cycles, then N ADDs started at once (each timed from the batch's start).
 *
 * Run as root: `deno run -A tools/baseline.ts [--cycles 30] [--parallel 30]` measures the reference `ptp` +
 * `host-local` (containernetworking/plugins, src/sim/cni_plugins.ts) in a throwaway node namespace and prints
 * JSON. Other benchmarks import
 * {@linkcode measureBaseline} with their own conflist, plugin dir and node namespace.
 * @module
 */
import { parseArgs } from "node:util";
import { addNetns, delNetns, libcni, netnsPath, randomSuffix } from "../harness/libcni.ts";
import { type Summary, summary } from "../harness/stats.ts";
import { CNI_PLUGINS_VERSION, ensureCniPlugins } from "../src/sim/cni_plugins.ts";

/** What to measure. */
export interface BaselineOptions {
  /** The conflist to run (its plugins must tolerate the pod namespaces this makes). */
  conflist: string;
  /** Plugin directories (default: the reference plugins, {@linkcode ensureCniPlugins}). */
  binDir?: string | string[];
  /** The node namespace (name or path) the driver runs in, as a runtime would. */
  nodeNetns: string;
  /** Sequential ADD+DEL cycles (default 30). */
  cycles?: number;
  /** ADDs started at once (default 30); 0 skips the parallel run. */
  parallel?: number;
  /** CNI_ARGS (default `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p`). */
  args?: string | Record<string, string>;
  /** Prefix of the pod namespaces made here (default `vcb-p<random>-`). */
  podPrefix?: string;
  /** libcni's cache dir (default: a temp dir, removed afterwards). */
  cacheDir?: string;
}

/** Latencies in milliseconds. */
export interface BaselineResult {
  sequential: { add: Summary; del: Summary };
  parallel?: { add: Summary; del: Summary };
  raw: {
    sequential: { add_ms: number[]; del_ms: number[] };
    parallel?: { add_ms: number[]; del_ms: number[] };
  };
}

type Timings = { add_ms: number[]; del_ms: number[] };

/**
 * Runs the sequential and parallel measurements. Pod namespaces are made and removed here; the node
 * namespace and the conflist belong to the caller.
 */
export async function measureBaseline(opts: BaselineOptions): Promise<BaselineResult> {
  const cycles = opts.cycles ?? 30;
  const parallel = opts.parallel ?? 30;
  const id = randomSuffix();
  const pods: string[] = [];
  const cacheDir = opts.cacheDir ?? await Deno.makeTempDir({ prefix: "vcb-cache-" });
  const base = {
    conflist: opts.conflist,
    binDir: opts.binDir ?? (await ensureCniPlugins()).dir,
    inNetns: opts.nodeNetns,
    cacheDir,
    args: opts.args ?? { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "bench", K8S_POD_NAME: "p" },
  };
  try {
    const prefix = opts.podPrefix ?? `vcb-p${id}-`;
    for (let i = 0; i < Math.max(1, parallel); i++) pods.push(await addNetns(`${prefix}${i}`));
    const seq = await libcni<Timings>("bench-add-del", {
      ...base,
      netns: netnsPath(pods[0]),
      containerId: `bseq-${id}`,
      n: cycles,
    });
    const out: BaselineResult = {
      sequential: { add: summary(seq.add_ms), del: summary(seq.del_ms) },
      raw: { sequential: seq },
    };
    if (parallel > 0) {
      const par = await libcni<Timings>("parallel-add", {
        ...base,
        netns: pods.map(netnsPath),
        containerId: `bpar-${id}`,
        n: parallel,
      });
      out.parallel = { add: summary(par.add_ms), del: summary(par.del_ms) };
      out.raw.parallel = par;
    }
    return out;
  } finally {
    for (const p of pods) await delNetns(p);
    if (!opts.cacheDir) await Deno.remove(cacheDir, { recursive: true });
  }
}

/** A conflist of the reference ptp + host-local with its IPAM state under `dir`. */
export function ptpConflist(name: string, dir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name,
    plugins: [{
      type: "ptp",
      ipMasq: false,
      mtu: 1500,
      ipam: {
        type: "host-local",
        dataDir: `${dir}/ipam`,
        ranges: [[{ subnet: "10.98.0.0/22" }]],
        routes: [{ dst: "0.0.0.0/0" }],
      },
    }],
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { cycles: { type: "string", default: "30" }, parallel: { type: "string", default: "30" } },
  });
  if (Deno.uid() !== 0) {
    console.error("baseline: needs root (network namespaces)");
    Deno.exit(2);
  }
  const id = randomSuffix();
  const node = `vcb-n${id}`;
  const dir = await Deno.makeTempDir({ prefix: "vcb-" });
  try {
    await Deno.writeTextFile(`${dir}/net.conflist`, ptpConflist(`vcb${id}`, dir));
    await addNetns(node);
    const r = await measureBaseline({
      conflist: `${dir}/net.conflist`,
      nodeNetns: node,
      cycles: Number(values.cycles),
      parallel: Number(values.parallel),
    });
    console.log(
      JSON.stringify(
        { plugins: `ptp+host-local ${CNI_PLUGINS_VERSION}`, sequential: r.sequential, parallel: r.parallel },
        null,
        2,
      ),
    );
  } finally {
    await delNetns(node);
    await Deno.remove(dir, { recursive: true });
  }
}
