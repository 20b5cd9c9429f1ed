/** The bench's rows, `--only`, and the README block made from a saved run (no lab: pure functions). */
import assert from "node:assert/strict";
import { row } from "../tools/bench_rows.ts";
import {
  BEGIN,
  benchBlock,
  checkExtras,
  END,
  goalLines,
  parseRun,
  replaceBlock,
} from "../tools/bench_readme.ts";
import { selection } from "../tools/bench.ts";

Deno.test("bench row: ratio against the same-run baseline, goal on the ratio or the value", () => {
  const a = row({
    id: "P1",
    metric: "ADD p50",
    value: 22.04,
    unit: "ms",
    baseline: 10,
    baselineName: "ptp",
    method: "m",
    goal: { on: "ratio", max: 2.2 },
  });
  assert.deepEqual(a, {
    id: "P1",
    metric: "ADD p50",
    value: 22,
    unit: "ms",
    baseline: 10,
    baselineName: "ptp",
    ratio: 2.2,
    method: "m",
    goal: "≤ 2.2× baseline",
    met: true,
  });
  const b = row({
    id: "P5",
    metric: "RSS",
    value: 97,
    unit: "MiB",
    method: "m",
    goal: { on: "value", max: 96 },
  });
  assert.equal(b.ratio, null);
  assert.equal(b.baselineName, null);
  assert.equal(b.met, false);
  assert.equal(row({ id: "P4", metric: "calls", value: 0.0049, unit: "calls", method: "m" }).value, 0.005);
  const excess = {
    id: "P1",
    metric: "ADD p50",
    value: 36,
    unit: "ms",
    baseline: 30,
    baselineName: "bare deno plugin",
    method: "m",
    goal: { on: "excess" as const, max: 5 },
  };
  const c = row(excess);
  assert.equal(c.goal, "≤ baseline + 5 ms");
  assert.equal(c.met, false);
  assert.equal(
    goalLines([c]),
    "- P1 ADD p50: 36 ms = bare deno plugin + 6 ms; goal ≤ baseline + 5 ms: **missed**.",
  );
  assert.equal(row({ ...excess, value: 35 }).met, true);
});

Deno.test("bench --only: sections by id, P7 only when named, unknown ids refused", () => {
  const all = selection(undefined);
  assert.equal(all("P1") && all("P6"), true);
  assert.equal(all("P7"), false);
  const some = selection("p1, P5");
  assert.deepEqual(["P1", "P2", "P5", "P7"].map(some), [true, false, true, false]);
  assert.equal(selection("P7")("P7"), true);
  assert.throws(() => selection("P1,P9"), /unknown section P9/);
});

Deno.test("bench README block: one full run's rows, goals met or missed, methods; between the markers", () => {
  const rows = [
    row({
      id: "P1",
      metric: "ADD p50",
      value: 30,
      unit: "ms",
      baseline: 10,
      baselineName: "ptp",
      method: "cycles",
      goal: { on: "ratio", max: 2.2 },
    }),
    row({
      id: "P5",
      metric: "RSS",
      value: 90,
      unit: "MiB",
      method: "samples",
      goal: { on: "value", max: 96 },
    }),
  ];
  const text = rows.map((r) => JSON.stringify(r)).join("\n") +
    `\n${JSON.stringify({ run: { date: "2026-12-06", machine: "2 CPUs", took: "400 s", only: "all" } })}\n`;
  const { rows: parsed, run } = parseRun(text);
  assert.deepEqual(parsed, rows);
  assert.equal(run?.only, "all");
  assert.equal(
    goalLines(parsed),
    "- P1 ADD p50: 30 ms = 3× ptp; goal ≤ 2.2× baseline: **missed**.\n- P5 RSS: 90 MiB; goal ≤ 96 MiB: met.",
  );
  const block = benchBlock(parsed, run!);
  assert.match(block, /\| P1 \| ADD p50 \| 30 ms \| 10 ms \(ptp\) \| 3× \| ≤ 2.2× baseline \| \*\*no\*\* \|/);
  assert.match(block, /- \*\*P5 RSS:\*\* samples/);
  const readme = `# x\n\n## Benchmarks\n\nintro\n\n${BEGIN}\nold\n${END}\n\n## Next\n`;
  const out = replaceBlock(readme, block);
  assert.ok(out.startsWith("# x\n\n## Benchmarks\n\nintro\n\n" + BEGIN));
  assert.ok(out.endsWith(`${END}\n\n## Next\n`));
  assert.ok(!out.includes("old"));
  assert.throws(() => replaceBlock("# no markers", block), /needs one/);
});

Deno.test("bench README block: the soak's separate run adds its rows and its own run line", () => {
  const full = [row({ id: "P1", metric: "ADD p50", value: 30, unit: "ms", method: "cycles" })];
  const run = { date: "2026-12-06", machine: "2 CPUs", took: "400 s", only: "all" };
  const soak = {
    rows: [row({
      id: "P7",
      metric: "growth",
      value: 0.5,
      unit: "MiB",
      baseline: 60,
      baselineName: "after 1 min",
      method: "churn",
      goal: { on: "value", max: 2 },
    })],
    run: { date: "2026-12-07", machine: "2 CPUs", took: "1900 s", only: "P7" },
  };
  checkExtras(full, [soak]);
  const block = benchBlock(full, run, [soak]);
  assert.match(
    block,
    /- P1: 2026-12-06, one full run .*400 s\.\n- P7: 2026-12-07, its own run \(`--only P7`\)/,
  );
  assert.match(block, /\| P7 \| growth \| 0.5 MiB \| 60 MiB \(after 1 min\) \| 0.01× \| ≤ 2 MiB \| yes \|/);
  assert.match(block, /- P7 growth: 0.5 MiB = 0.01× after 1 min; goal ≤ 2 MiB: met\./);
  assert.throws(() => checkExtras(full, [{ rows: full, run: soak.run }]), /P1 is in two runs/);
  assert.throws(() => checkExtras(full, [{ ...soak, run }]), /only the first file/);
});

Deno.test("bench README block: rows by section, one method item per shared method with the rows' notes", () => {
  const r = (id: string, metric: string, method: string, note?: string) =>
    row({ id, metric, value: 1, unit: "ms", method, note });
  const rows = [r("P6", "a", "m6"), r("P4", "b", "m4", "n1"), r("P6", "c", "m6", "n2"), r("P10", "d", "m10")];
  const block = benchBlock(rows, { date: "d", machine: "m", took: "1 s", only: "all" });
  assert.match(block, /- P4, P6, P10: d, one full run/);
  assert.ok(block.indexOf("| P4 | b |") < block.indexOf("| P6 | a |"));
  assert.ok(block.indexOf("| P6 | a |") < block.indexOf("| P6 | c |"));
  assert.ok(block.indexOf("| P6 | c |") < block.indexOf("| P10 | d |"));
  assert.match(block, /- \*\*P4 b:\*\* m4 \(n1\)\n- \*\*P6 a; c:\*\* m6 \(c: n2\)\n- \*\*P10 d:\*\* m10\n/);
});
