import assert from "node:assert/strict";
import { IpamdMetrics, Registry } from "./metrics.ts";
import { UPSTREAM_METRIC_NAMES } from "../../tests/helpers/upstream_metrics.ts";

Deno.test("Registry: counters, gauges and summaries in the Prometheus text format", () => {
  const r = new Registry();
  const c = r.counter("x_total", "things");
  const g = r.gauge("x_level", "level");
  const s = r.summary("x_ms", "latency");
  c.inc();
  c.inc({ fn: "a" }, 2);
  g.set(5);
  g.dec({}, 2);
  s.observe(10, { api: "A" });
  s.observe(30, { api: "A" });
  const text = r.render();
  assert.match(text, /^# HELP x_total things\n# TYPE x_total counter\nx_total 1\nx_total\{fn="a"\} 2$/m);
  assert.match(text, /^x_level 3$/m);
  assert.match(text, /^x_ms_sum\{api="A"\} 40\nx_ms_count\{api="A"\} 2$/m);
  assert.equal(c.get({ fn: "a" }), 2);
  assert.equal(s.get({ api: "A" }), 2);
  assert.throws(() => r.counter("x_total", "again"), RangeError);
  g.clear();
  assert.match(r.render(), /^x_level 0$/m);
});

Deno.test("Registry: label values are escaped and label order does not matter", () => {
  const r = new Registry();
  const c = r.counter("y", "y");
  c.inc({ b: "2", a: 'q"\\\n' });
  c.inc({ a: 'q"\\\n', b: "2" });
  assert.match(r.render(), /^y\{a="q\\"\\\\\\n",b="2"\} 2$/m);
});

Deno.test("Registry: collectors run before every render, and a later one under the same name replaces it", () => {
  const r = new Registry();
  const g = r.gauge("pods", "pods");
  let pods = 1;
  r.collect("pool", () => g.set(pods));
  assert.match(r.render(), /^pods 1$/m);
  pods = 7;
  assert.match(r.render(), /^pods 7$/m, "set at scrape time, not when the collector was added");
  r.collect("pool", () => g.set(-pods));
  assert.match(r.render(), /^pods -7$/m);
});

Deno.test("IpamdMetrics: every upstream name is registered", () => {
  const text = new IpamdMetrics().registry.render();
  for (const n of UPSTREAM_METRIC_NAMES) assert.match(text, new RegExp(`^# TYPE awscni_${n} `, "m"), n);
});

Deno.test("IpamdMetrics: upstream's kinds; connmark reconcile series exist before any reconcile", () => {
  const text = new IpamdMetrics().registry.render();
  for (const n of ["ipamd_startup_duration_seconds", "ipamd_node_initialization_duration_seconds"]) {
    assert.match(text, new RegExp(`^# TYPE awscni_${n} histogram$`, "m"), n);
  }
  assert.match(text, /^# TYPE awscni_aws_api_latency_ms summary$/m);
  assert.match(text, /^awscni_connmark_reconcile_total\{result="success"\} 0$/m);
  assert.match(text, /^awscni_connmark_reconcile_total\{result="error"\} 0$/m);
});

Deno.test("Registry: a histogram renders cumulative buckets, +Inf, sum and count", () => {
  const r = new Registry();
  const h = r.histogram("h_seconds", "durations", [0.1, 1, 10]);
  h.observe(0.05, { ok: "true" });
  h.observe(0.5, { ok: "true" });
  h.observe(0.7, { ok: "true" });
  h.observe(20, { ok: "true" });
  const text = r.render();
  assert.match(text, /^# TYPE h_seconds histogram$/m);
  const lines = text.split("\n").filter((l) => l.startsWith("h_seconds"));
  assert.deepEqual(lines, [
    'h_seconds_bucket{ok="true",le="0.1"} 1',
    'h_seconds_bucket{ok="true",le="1"} 3',
    'h_seconds_bucket{ok="true",le="10"} 3',
    'h_seconds_bucket{ok="true",le="+Inf"} 4',
    'h_seconds_sum{ok="true"} 21.25',
    'h_seconds_count{ok="true"} 4',
  ]);
  assert.equal(h.get({ ok: "true" }), 4);
  assert.equal(h.sum({ ok: "true" }), 21.25);
});
