/**
 * The bench's rows: what one figure is, how it was measured, and what it is compared with. Every row carries
 * its same-run baseline (or null when there is nothing to measure against), the baseline's name, the ratio,
 * the measuring method, and the issue's goal when there is one (`met` says whether this run met it).
 * @module
 */

/** One result line (`deno task bench --json` prints one per line). */
export interface BenchRow {
  id: string;
  metric: string;
  value: number;
  unit: string;
  /** Measured in the same run, or null. */
  baseline: number | null;
  /** What the baseline is ("ptp + host-local v1.10.0", "critical-path bound", …); null without one. */
  baselineName: string | null;
  /** value / baseline, or null. */
  ratio: number | null;
  /** How the value (and the baseline) were measured. */
  method: string;
  /** The goal, as text (e.g. "≤ 2.2× baseline", "≤ 96 MiB"), when the issue sets one. */
  goal?: string;
  /** Whether this run met the goal. */
  met?: boolean;
  note?: string;
}

/** One decimal; three below 1 (so 1 call in 200 cycles shows as 0.005, not 0). */
export const r1 = (x: number): number =>
  Math.abs(x) < 1 ? Math.round(x * 1000) / 1000 : Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** A goal: the value, the ratio, or the value's excess over the baseline (value − baseline), at most `max`. */
export interface Goal {
  on: "value" | "ratio" | "excess";
  max: number;
}

/** Builds a row (rounding value and baseline, computing the ratio and whether the goal is met). */
export function row(r: {
  id: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number | null;
  baselineName?: string | null;
  method: string;
  goal?: Goal;
  note?: string;
}): BenchRow {
  const baseline = r.baseline ?? null;
  const ratio = baseline ? r2(r.value / baseline) : null;
  const out: BenchRow = {
    id: r.id,
    metric: r.metric,
    value: r1(r.value),
    unit: r.unit,
    baseline: baseline === null ? null : r1(baseline),
    baselineName: baseline === null ? null : r.baselineName ?? null,
    ratio,
    method: r.method,
  };
  if (r.goal) {
    const x = r.goal.on === "ratio"
      ? ratio
      : r.goal.on === "excess"
      ? (baseline === null ? null : r.value - baseline)
      : r.value;
    out.goal = r.goal.on === "ratio"
      ? `≤ ${r.goal.max}× baseline`
      : r.goal.on === "excess"
      ? `≤ baseline + ${r.goal.max} ${r.unit}`
      : `≤ ${r.goal.max} ${r.unit}`;
    out.met = x !== null && x <= r.goal.max;
  }
  if (r.note) out.note = r.note;
  return out;
}

const fmtValue = (v: number, unit: string) => `${v} ${unit}`;

/** The markdown table of rows (the README's; `tools/bench_readme.ts`). */
export function table(rows: BenchRow[]): string {
  const lines = [
    "| id | metric | value | baseline (same run) | ratio | goal | met |",
    "| -- | ------ | ----- | ------------------- | ----- | ---- | --- |",
  ];
  for (const r of rows) {
    const base = r.baseline === null ? "—" : `${fmtValue(r.baseline, r.unit)} (${r.baselineName})`;
    const met = r.met === undefined ? "" : r.met ? "yes" : "**no**";
    lines.push(
      `| ${r.id} | ${r.metric} | ${fmtValue(r.value, r.unit)} | ${base} | ${
        r.ratio === null ? "—" : `${r.ratio}×`
      } | ` +
        `${r.goal ?? ""} | ${met} |`,
    );
  }
  return lines.join("\n");
}

/**
 * The measuring methods, as a list under the table: one item per method, naming the rows that share it, then
 * each of those rows' notes.
 */
export function methods(rows: BenchRow[]): string {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const key = `${r.id}\n${r.method}`;
    groups.set(key, [...groups.get(key) ?? [], r]);
  }
  return [...groups.values()].map((g) => {
    const notes = g.filter((r) => r.note).map((r) => g.length > 1 ? `${r.metric}: ${r.note}` : r.note);
    return `- **${g[0].id} ${g.map((r) => r.metric).join("; ")}:** ${g[0].method}` +
      (notes.length ? ` (${notes.join("; ")})` : "");
  }).join("\n");
}

/** The rows ordered by section (P1 … P7), run order kept within a section. */
export const bySection = (rows: BenchRow[]): BenchRow[] =>
  rows.map((r, i) => [r, i] as const)
    .sort(([a, i], [b, j]) => a.id.localeCompare(b.id, "en", { numeric: true }) || i - j)
    .map(([r]) => r);
