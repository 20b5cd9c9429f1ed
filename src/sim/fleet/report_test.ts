import assert from "node:assert/strict";
import { histogram, quantile } from "./report.ts";
import { markdownTable, replaceBetweenMarkers } from "./table.ts";

Deno.test("quantile: nearest rank; empty is NaN", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(xs, 0.5), 50);
  assert.equal(quantile(xs, 0.99), 99);
  assert.equal(quantile(xs, 1), 100);
  assert.equal(quantile([7], 0.95), 7);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("histogram: a row per bucket up to the last non-empty one, bars scaled to the largest", () => {
  const rows = histogram([0.1, 0.2, 3, 3.5, 4, 25], 8);
  assert.equal(rows.length, 6);
  assert.match(rows[0], /0–1 s │█{5} 2$/);
  assert.match(rows[2], /2–5 s │█{8} 3$/);
  assert.match(rows[5], /20–30 s │█{3} 1$/);
});

Deno.test("the README table goes between its markers, nothing else changes", () => {
  const md = markdownTable([]);
  const text = "a\n<!-- fleet-table:start -->\nold\n<!-- fleet-table:end -->\nb\n";
  assert.equal(
    replaceBetweenMarkers(text, md),
    `a\n<!-- fleet-table:start -->\n${md}\n<!-- fleet-table:end -->\nb\n`,
  );
  assert.throws(() => replaceBetweenMarkers("no markers", md), /fleet-table:start/);
});
