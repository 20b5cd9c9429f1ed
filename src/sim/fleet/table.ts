/**
 * The scaling table: one scenario at several fleet sizes, both policies, as a Markdown table (the README's
 * figures come from one run of `deno task fleet --table --write-readme`).
 */
import { summarize, type Summary } from "./report.ts";
import { runScenario, type Scenario } from "./scenario.ts";
import type { Policy } from "./node.ts";

/** The fleet sizes of the table. */
export const TABLE_NODES = [10, 100, 300, 1000];
const POLICIES: Policy[] = ["ours", "upstream-like"];
const START = "<!-- fleet-table:start -->";
const END = "<!-- fleet-table:end -->";

const s1 = (x: number) => Number.isFinite(x) ? x.toFixed(1) : "—";

/** Runs the table's scenarios (each summary carries its own simulator wall time). */
export async function runTable(
  base: Scenario,
  nodes = TABLE_NODES,
  onRow?: (s: Summary) => void,
): Promise<Summary[]> {
  const rows: Summary[] = [];
  for (const n of nodes) {
    for (const policy of POLICIES) {
      const s = summarize(await runScenario({ ...base, nodes: n, policy }));
      onRow?.(s);
      rows.push(s);
    }
  }
  return rows;
}

/** The Markdown table. */
export function markdownTable(rows: Summary[]): string {
  const head = [
    "| nodes | policy | pod-ready p50 (s) | p99 (s) | max (s) | failed pods | EC2 calls per node | throttled | " +
    "steady after (s) | bound by | simulator wall time (s) |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
  ];
  return [
    ...head,
    ...rows.map((r) =>
      `| ${r.nodes} | ${r.policy} | ${s1(r.p50)} | ${s1(r.p99)} | ${s1(r.max)} | ${r.failedPods} | ` +
      `${s1(r.callsPerNode)} | ${r.throttled} | ${s1(r.steadySeconds)} | ${r.boundBy ?? "—"} | ` +
      `${s1(r.wallSeconds)} |`
    ),
  ].join("\n");
}

/** The text between the README's markers replaced by `body`; throws when the markers are missing. */
export function replaceBetweenMarkers(text: string, body: string): string {
  const a = text.indexOf(START), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`the README has no ${START} … ${END} section`);
  return `${text.slice(0, a + START.length)}\n${body}\n${text.slice(b)}`;
}
