/**
 * `deno task demo --ipv6` (tools/demo.ts `runDemo({ipv6: true})`, steps in tools/demo_ipv6.ts), small and fast
 * (`--latency none`, 4 pods): every check passes on a healthy dual-stack lab, and deleting one pod's host /128
 * route by hand makes the ping6 and IPv6 checks fail, so they are real. Every run tears its lab down.
 */
import assert from "node:assert/strict";
import { netnsList } from "../src/sim/fabric_netns.ts";
import { LabNames } from "../src/sim/naming.ts";
import { type DemoResult, runDemo } from "../tools/demo.ts";
import { rootOnly } from "./helpers/root.ts";

async function demo6(breakWhat?: "route"): Promise<{ r: DemoResult; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-demo6-test-" });
  const out: string[] = [];
  try {
    const stateDir = `${dir}/state`;
    const r = await runDemo({
      ipv6: true,
      pods: 4,
      latency: "none",
      stateDir,
      deps: false,
      breakWhat,
      log: (l) => out.push(l),
    });
    assert.deepEqual(netnsList(new LabNames(stateDir).nsPrefix), [], "the demo tears its lab down");
    return { r, out: out.join("\n") };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const check = (r: DemoResult, name: string) => r.checks.find((c) => c.name === name);

Deno.test({
  name:
    "demo --ipv6: every check passes on a healthy dual-stack lab; a deleted /128 host route makes it fail",
  ...rootOnly,
  fn: async () => {
    const good = await demo6();
    assert.ok(good.r.ok, good.out);
    assert.deepEqual(good.r.checks.map((c) => c.name), [
      "ping6 matrix",
      "IPv6 to internet, own /128",
      "IPv4 egress (egress-cni)",
      "no EC2 call for pods",
      "IPv6 source/destination check",
    ]);
    assert.match(
      good.out,
      /pod prefix 2001:db8:1000:[0-9a-f:]+\/80 \(2\^48 addresses\); EC2 calls at start-up: AssignIpv6Addresses=1/,
    );
    assert.match(good.out, /12\/12 answered \(8 across nodes\)/);

    const broken = await demo6("route");
    assert.equal(broken.r.ok, false, broken.out);
    assert.equal(check(broken.r, "ping6 matrix")?.ok, false, "pings to the pod without its /128 route fail");
    assert.equal(check(broken.r, "IPv6 to internet, own /128")?.ok, false, "its replies never come back");
    assert.equal(check(broken.r, "IPv4 egress (egress-cni)")?.ok, true, "IPv4 egress is another path");
  },
});
