import assert from "node:assert/strict";
import { IpamdMetrics, Registry } from "./metrics.ts";

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

Deno.test("IpamdMetrics: every upstream name is registered", () => {
  const text = new IpamdMetrics().registry.render();
  for (
    const n of [
      "eni_allocated",
      "eni_max",
      "ip_max",
      "total_ip_addresses",
      "assigned_ip_addresses",
      "add_ip_req_count",
      "del_ip_req_count",
      "ec2api_req_count",
      "ec2api_error_count",
      "aws_api_latency_ms",
      "aws_api_error_count",
      "ipamd_error_count",
      "ipamd_action_inprogress",
      "no_available_ip_addresses",
      "reconcile_count",
      "force_removed_enis",
      "force_removed_ips",
      "total_ipv4_prefixes",
      "assigned_ip_per_cidr",
      "ipamd_startup_duration_seconds",
      "build_info",
    ]
  ) assert.match(text, new RegExp(`^# TYPE awscni_${n} `, "m"), n);
});
