/**
 * `deno task demo`'s logic (tools/demo.ts `runDemo`), small and fast (`--latency none`, 11 pods, no shrink
 * wait): it passes on a healthy lab and fails when a pod's host route or `from` rule is deleted by hand, so
 * its checks are real. Every run tears its lab down.
 */
import assert from "node:assert/strict";
import { netnsList } from "../src/sim/fabric_netns.ts";
import { LabNames } from "../src/sim/naming.ts";
import { type DemoResult, runDemo } from "../tools/demo.ts";
import { placement } from "../tools/demo_draw.ts";
import { rootOnly } from "./helpers/root.ts";

Deno.test("demo placement: node 0 gets enough pods for a second ENI, node 1 the rest", () => {
  const p = placement(12, 9);
  assert.equal(p.length, 12);
  assert.equal(p.filter((n) => n === 0).length, 10);
  assert.equal(p.filter((n) => n === 1).length, 2);
  assert.deepEqual(placement(4, 9).filter((n) => n === 1).length, 1);
  assert.ok(placement(11, 9).filter((n) => n === 0).length >= 10);
});

async function demo(breakWhat?: "route" | "rule"): Promise<{ r: DemoResult; out: string[] }> {
  const stateDir = `${await Deno.makeTempDir({ prefix: "vpc-cni-demo-test-" })}/state`;
  const out: string[] = [];
  try {
    const r = await runDemo({
      pods: 11,
      latency: "none",
      stateDir,
      shrink: false,
      deps: false,
      breakWhat,
      log: (l) => out.push(l),
    });
    assert.deepEqual(netnsList(new LabNames(stateDir).nsPrefix), [], "the demo tears its lab down");
    return { r, out };
  } finally {
    await Deno.remove(stateDir.replace(/\/state$/, ""), { recursive: true }).catch(() => {});
  }
}

const check = (r: DemoResult, name: string) => r.checks.find((c) => c.name === name);

Deno.test({
  name: "demo: every check passes on a healthy lab; a deleted host route or rule makes it fail",
  ...rootOnly,
  fn: async () => {
    const good = await demo();
    assert.ok(good.r.ok, good.out.join("\n"));
    assert.deepEqual(
      good.r.checks.map((c) => c.name).sort(),
      ["metrics+introspection node-0", "metrics+introspection node-1", "ping matrix", "SNAT to internet"]
        .sort(),
    );
    assert.match(good.out.join("\n"), /eth1 eni-/, "a pod lands on a secondary ENI");
    assert.match(good.out.join("\n"), /└─ eth1 {2}dev 1 {2}eni-/, "the picture shows the secondary ENI");

    const route = await demo("route");
    assert.equal(route.r.ok, false, route.out.join("\n"));
    assert.equal(check(route.r, "ping matrix")?.ok, false, "pings to the pod without a host route fail");
    assert.equal(check(route.r, "SNAT to internet")?.ok, false, "its replies never come back");

    const rule = await demo("rule");
    assert.equal(rule.r.ok, false, rule.out.join("\n"));
    assert.equal(
      check(rule.r, "ping matrix")?.ok,
      false,
      "cross-node pings from the pod fail (source check)",
    );
  },
});
