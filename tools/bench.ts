/**
 * `deno task bench`: performance figures of aws-cni and ipamd on the lab, each against a baseline measured
 * on the same machine in the same run. Root only; a few minutes for every row (P7, the soak, takes
 * `--soak-minutes`).
 *
 *   deno task bench [--json] [--only P1,P5] [--cycles 30] [--parallel 30] [--burst 60] [--churn 200]
 *                   [--runs 10] [--phases-out FILE] [--soak-minutes 30]
 *
 * `--json` prints one row per line (tools/bench_rows.ts: `{id, metric, value, unit, baseline, baselineName,
 * ratio, method, goal?, met?, note?}`; ratio = value / baseline), then one `{run: {date, machine, took, only}}`
 * line. Progress and the phase tables go to stderr
 * (`--phases-out FILE` also writes them as markdown). `--only` picks sections: P1 (ADD/DEL vs ptp, and the
 * phase table), P2 (30 parallel ADDs, CPU per call), P3 (60-pod burst and its control), P4 (EC2 calls), P5
 * (ipamd RSS at 110 pods), P6 (per-invocation wall, CPU, peak RSS), P7 (the 30-minute soak: only when named).
 * The README's table comes from a saved `--json` run: `deno run -A tools/bench_readme.ts FILE`.
 * @module
 */
import { parseArgs } from "node:util";
import { cleanupAll, onCleanup, progress } from "./bench_lab.ts";
import { benchBurst, p4Churn } from "./bench_burst.ts";
import { p5, p7 } from "./bench_memory.ts";
import { benchPlugin } from "./bench_plugin.ts";
import { type BenchRow, table } from "./bench_rows.ts";
import { ensureDebianPackages, isRoot } from "./deps.ts";

/** Every section, in run order; P7 runs only when `--only` names it. */
export const SECTIONS = ["P1", "P2", "P3", "P4", "P5", "P6", "P7"] as const;

/** What a run measures. */
export interface BenchOptions {
  cycles: number;
  parallel: number;
  burst: number;
  churn: number;
  runs: number;
  soakMinutes: number;
  only: (id: string) => boolean;
  emit: (r: BenchRow) => void;
  phases: (md: string) => void;
}

/** Runs the selected sections; rows go to `emit` as soon as they are known. */
export async function runBench(o: BenchOptions): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "vpc-cni-bench-" });
  onCleanup(() => Deno.remove(tmp, { recursive: true }).catch(() => {}));
  const common = { ...o, tmp };
  await benchPlugin(common, o.only("P4") ? (l) => p4Churn(common, l) : undefined);
  await benchBurst(common, o.only("P5") ? (lab) => p5(common, lab) : undefined);
  await p7(common);
}

/** The `--only` filter: every section but P7 by default. */
export function selection(only: string | undefined): (id: string) => boolean {
  if (!only) return (id) => id !== "P7";
  const ids = only.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = ids.filter((id) => !(SECTIONS as readonly string[]).includes(id));
  if (bad.length) {
    throw new Error(`--only: unknown section ${bad.join(", ")} (known: ${SECTIONS.join(", ")})`);
  }
  return (id) => ids.includes(id);
}

/** The machine line for the README. */
export function machine(): string {
  const mem = Deno.readTextFileSync("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1];
  return `${navigator.hardwareConcurrency} CPUs (nproc), ${Math.round(Number(mem) / 1024 / 1024)} GiB RAM, ` +
    `kernel ${Deno.osRelease()}, deno ${Deno.version.deno}`;
}

function cli() {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean", default: false },
      only: { type: "string" },
      cycles: { type: "string", default: "30" },
      parallel: { type: "string", default: "30" },
      burst: { type: "string", default: "60" },
      churn: { type: "string", default: "200" },
      runs: { type: "string", default: "10" },
      "soak-minutes": { type: "string", default: "30" },
      "phases-out": { type: "string" },
    },
  });
  return v;
}

if (import.meta.main) {
  const v = cli();
  const only = selection(v.only);
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
  const phaseTables: string[] = [];
  const started = Date.now();
  let code = 0;
  try {
    await runBench({
      cycles: Number(v.cycles),
      parallel: Number(v.parallel),
      burst: Number(v.burst),
      churn: Number(v.churn),
      runs: Number(v.runs),
      soakMinutes: Number(v["soak-minutes"]),
      only,
      emit: (r) => {
        rows.push(r);
        if (v.json) console.log(JSON.stringify(r));
        else progress(`${r.id} ${r.metric}: ${r.value} ${r.unit}${r.ratio !== null ? ` (${r.ratio}×)` : ""}`);
      },
      phases: (md) => {
        phaseTables.push(md);
        console.error(`\naws-cni phases (p50 over the traced cycles; ms)\n${md}\n`);
      },
    });
  } catch (e) {
    console.error(`bench: ${(e as Error).stack ?? e}`);
    code = 1;
  } finally {
    await cleanupAll();
  }
  if (v["phases-out"] && phaseTables.length) {
    await Deno.writeTextFile(v["phases-out"], phaseTables.join("\n\n") + "\n");
  }
  const took = `${((Date.now() - started) / 1000).toFixed(0)} s`;
  const run = {
    date: new Date().toISOString().slice(0, 10),
    machine: machine(),
    took,
    only: v.only ?? "all",
  };
  if (v.json) console.log(JSON.stringify({ run }));
  else console.log(`\n${new Date().toISOString().slice(0, 10)} · ${machine()} · ${took}\n\n${table(rows)}`);
  Deno.exit(code);
}
