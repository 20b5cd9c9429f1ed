/**
 * ENABLE_BANDWIDTH_PLUGIN on a lab node: `ipamd install` writes a conflist that chains the reference `bandwidth`
 * plugin with its `bandwidth` capability, so a pod's `kubernetes.io/ingress-bandwidth` / `egress-bandwidth`
 * (which the runtime turns into the capability's rates, as kubelet does) shape its traffic: tbf on the host
 * veth for ingress, on an ifb device for egress. Without the knob the same capability args have no effect.
 * (Whether the limits hold a transfer is tests/runtime_chains_lab_test.ts.)
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { libcni } from "../harness/libcni.ts";
import { type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { LabPods } from "./helpers/libcni_lab.ts";
import { installConflist } from "./helpers/lab_node_setup.ts";

// deno-lint-ignore no-explicit-any -- CNI results and conflists are JSON, checked field by field
type Json = any;

/** kubelet's reading of `kubernetes.io/ingress-bandwidth: 8M` and `egress-bandwidth: 4M` (bits per second). */
const ANNOTATED = {
  ingressRate: 8_000_000,
  ingressBurst: 1_048_576,
  egressRate: 4_000_000,
  egressBurst: 1_048_576,
};

async function tc(lab: TestLab, dev: string): Promise<string> {
  const r = await lab.inNode(0, ["tc", "qdisc", "show", "dev", dev]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test({
  name: "lab: ENABLE_BANDWIDTH_PLUGIN chains bandwidth; a pod's bandwidth annotations shape its veth",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1, latency: "none" }, async (lab) => {
    const dir = await Deno.makeTempDir({ prefix: "vpc-cni-bw-" });
    const pods = new LabPods(lab, `${dir}/cache`);
    try {
      await waitIpamdReady(lab, 0);
      for (const on of [true, false]) {
        const confDir = `${dir}/net.d-${on}`;
        const list = await installConflist(lab, confDir, { ENABLE_BANDWIDTH_PLUGIN: String(on) });
        const bw = list.plugins.find((p: Json) => p.type === "bandwidth");
        if (on) {
          assert.deepEqual(bw, { type: "bandwidth", capabilities: { bandwidth: true } });
          assert.equal(list.plugins.at(-1), bw, "bandwidth last, after aws-cni and portmap");
        } else assert.equal(bw, undefined);
        const pod = await pods.make(`bw-${on}`, {
          conflist: `${confDir}/10-aws.conflist`,
          capabilityArgs: { bandwidth: ANNOTATED },
        });
        const res = await libcni<Json>("add", pod.opts);
        const hostVeth = res.interfaces.find((i: Json) => !i.sandbox && !i.name.startsWith("bwp")).name;
        const ifb = res.interfaces.find((i: Json) => i.name.startsWith("bwp"));
        if (on) {
          assert.match(await tc(lab, hostVeth), /qdisc tbf .* rate 8Mbit/, "ingress limit on the host veth");
          assert.ok(ifb, "an ifb device for egress");
          assert.match(await tc(lab, ifb.name), /qdisc tbf .* rate 4Mbit/, "egress limit on the ifb device");
        } else {
          assert.doesNotMatch(await tc(lab, hostVeth), /tbf/, "no shaping without the plugin");
          assert.equal(ifb, undefined);
        }
        await libcni("del", pod.opts);
        if (on) {
          const links = await lab.inNode(0, ["ip", "-o", "link", "show"]);
          assert.ok(!links.stdout.includes(ifb.name), "DEL removes the ifb device");
        }
      }
    } finally {
      await pods.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  });
});
