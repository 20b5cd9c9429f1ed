/**
 * Reads the `phases` lines aws-cni writes to its plugin log (src/common/phase_trace.ts; `VPC_CNI_TRACE=1` adds
 * CPU) and makes the per-phase table of docs/PERFORMANCE.md: each phase's p50 wall and CPU ms per command.
 *
 *   deno run -A tools/phase_table.ts PLUGIN_LOG [--cmd ADD]
 * @module
 */
import { parseArgs } from "node:util";
import { percentile } from "../harness/stats.ts";

/** One `phases` line. */
export interface PhaseLine {
  cmd: string;
  epochMs: number;
  totalMs: number;
  cpuMs?: number;
  /** The process's peak RSS and RSS split when the line was logged (traced runs). */
  memKiB?: { hwm: number; anon: number; file: number };
  phases: Record<string, [number, number?]>;
}

/** The `phases` lines of a plugin log's text (other lines are skipped). */
export function phaseLines(text: string): PhaseLine[] {
  const out: PhaseLine[] = [];
  for (const l of text.split("\n")) {
    if (!l.includes('"msg":"phases"')) continue;
    try {
      out.push(JSON.parse(l) as PhaseLine);
    } catch { /* a torn line */ }
  }
  return out;
}

/** Per phase (in first-seen order): p50 wall and p50 CPU over the lines (a phase absent from a line counts 0). */
export interface PhaseSummary {
  n: number;
  totalMs: number;
  cpuMs?: number;
  /** p50s of the lines' `memKiB`, in MiB. */
  memMiB?: { hwm: number; anon: number; file: number };
  phases: { name: string; ms: number; cpuMs?: number }[];
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** Summarises the lines of one command. */
export function summarisePhases(lines: PhaseLine[]): PhaseSummary {
  const names: string[] = [];
  for (const l of lines) for (const k of Object.keys(l.phases)) if (!names.includes(k)) names.push(k);
  const cpus = lines.map((l) => l.cpuMs).filter((x): x is number => x !== undefined);
  const mems = lines.map((l) => l.memKiB).filter((x) => x !== undefined);
  const mem = (k: "hwm" | "anon" | "file") => r2(percentile(mems.map((m) => m[k]), 50) / 1024);
  return {
    n: lines.length,
    totalMs: r2(percentile(lines.map((l) => l.totalMs), 50)),
    ...(cpus.length ? { cpuMs: r2(percentile(cpus, 50)) } : {}),
    ...(mems.length ? { memMiB: { hwm: mem("hwm"), anon: mem("anon"), file: mem("file") } } : {}),
    phases: names.map((name) => {
      const ms = r2(percentile(lines.map((l) => l.phases[name]?.[0] ?? 0), 50));
      const c = lines.map((l) => l.phases[name]?.[1]).filter((x): x is number => x !== undefined);
      return c.length ? { name, ms, cpuMs: r2(percentile(c, 50)) } : { name, ms };
    }),
  };
}

/** Markdown: one row per phase, one wall/CPU column pair per labelled summary. */
export function phaseTable(cols: Record<string, PhaseSummary>): string {
  const labels = Object.keys(cols);
  const names: string[] = [];
  for (const s of Object.values(cols)) {
    for (const p of s.phases) if (!names.includes(p.name)) names.push(p.name);
  }
  const cell = (s: PhaseSummary, name: string) => {
    const p = s.phases.find((x) => x.name === name);
    return p ? `${p.ms} | ${p.cpuMs ?? "—"}` : "— | —";
  };
  const lines = [
    `| phase | ${labels.map((l) => `${l} wall ms | ${l} CPU ms`).join(" | ")} |`,
    `| --- | ${labels.map(() => "--- | ---").join(" | ")} |`,
    ...names.map((n) => `| ${n} | ${labels.map((l) => cell(cols[l], n)).join(" | ")} |`),
    `| **after start (sum)** | ${labels.map((l) => `${cols[l].totalMs} | —`).join(" | ")} |`,
    `| **process CPU, exec to exit** | ${labels.map((l) => `— | ${cols[l].cpuMs ?? "—"}`).join(" | ")} |`,
    `| calls | ${labels.map((l) => `${cols[l].n} | `).join(" | ")} |`,
  ];
  const memRow = (what: string, k: "hwm" | "anon" | "file") =>
    `| ${what} | ${labels.map((l) => `${cols[l].memMiB?.[k] ?? "—"} | —`).join(" | ")} |`;
  if (labels.some((l) => cols[l].memMiB)) {
    lines.push(
      memRow("**peak RSS so far (VmHWM), MiB**, at the phases line", "hwm"),
      memRow("RssAnon (heap, stacks, malloc), MiB", "anon"),
      memRow("RssFile (deno's binary, libraries), MiB", "file"),
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { cmd: { type: "string", multiple: true } },
  });
  if (!positionals[0]) {
    console.error("usage: phase_table.ts PLUGIN_LOG [--cmd ADD] ...");
    Deno.exit(2);
  }
  const lines = phaseLines(await Deno.readTextFile(positionals[0]));
  const cmds = values.cmd ?? [...new Set(lines.map((l) => l.cmd))];
  const cols: Record<string, PhaseSummary> = {};
  for (const c of cmds) cols[c] = summarisePhases(lines.filter((l) => l.cmd === c));
  console.log(phaseTable(cols));
}
