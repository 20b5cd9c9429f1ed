import assert from "node:assert/strict";
import { percentile, summary } from "./stats.ts";

Deno.test("percentile: nearest rank", () => {
  const xs = [5, 1, 4, 2, 3];
  assert.equal(percentile(xs, 50), 3);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile(xs, 100), 5);
  assert.equal(percentile(xs, 99), 5);
  assert.equal(percentile(xs, 20), 1);
  assert.equal(percentile(xs, 21), 2);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile(hundred, 50), 50);
  assert.deepEqual(xs, [5, 1, 4, 2, 3], "input left unsorted");
});

Deno.test("percentile: rejects empty input and bad p", () => {
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
  assert.throws(() => percentile([1], NaN), RangeError);
});

Deno.test("summary", () => {
  assert.deepEqual(summary([1, 2, 3, 4.04]), { n: 4, min: 1, max: 4, mean: 2.5, p50: 2, p90: 4, p99: 4 });
});
