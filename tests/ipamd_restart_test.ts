/** ipamd restarts: checkpoint restore (no IP held twice), dropped allocations, no duplicate host state. */
import assert from "node:assert/strict";
import { hostVethName } from "../src/common/veth_name.ts";
import { rootOnly } from "./helpers/root.ts";
import { TestNode } from "./helpers/ipamd_node.ts";
import { testPod } from "./helpers/ipamd_client.ts";

Deno.test({
  name: "ipamd restart: live pods keep their IPs, gone pods are dropped, no IP twice",
  ...rootOnly,
}, async () => {
  const node = await TestNode.create();
  try {
    await node.start();
    await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
    const held = new Map<number, string>();
    for (let i = 0; i < 12; i++) {
      const r = await node.call("/v1/add-network", testPod(i));
      assert.equal(r.status, 200);
      held.set(i, r.body.ipv4);
    }
    // The pool grows for those pods (a plan at most every POOL_BATCH_WINDOW_MS): wait until it has, so the host
    // state compared below is the settled one.
    await node.until("the pool settled", async () => {
      const p = (await node.call("/v1/pool")).body;
      return p.pendingEnis === 0 && p.pendingIps === 0 && p.plan.actions.length === 0;
    });
    // Pods 0..7 are alive (their host veth exists); 8..11 vanished while ipamd was down.
    for (let i = 0; i < 8; i++) {
      const name = hostVethName("eni", { namespace: "default", name: `pod-${i}`, containerId: "" });
      node.nl.vethAdd({ name, peerName: `pp${i}-${node.ns.slice(-6)}` });
    }
    // aws-cni's host route for a vanished pod, which the restart must remove.
    const gone = held.get(9)!;
    await node.exec("ip", "rule", "add", "priority", "512", "to", gone, "lookup", "main");
    const iptBefore = await node.exec("iptables-save");
    const rulesBefore = await node.exec("ip", "rule", "show");
    await node.stop();

    await node.start();
    for (let i = 0; i < 8; i++) {
      const c = await node.call("/v1/check-network", testPod(i));
      assert.equal(c.body.held, true, `pod ${i} restored`);
      assert.equal(c.body.ipv4, held.get(i));
    }
    for (let i = 8; i < 12; i++) {
      assert.equal((await node.call("/v1/check-network", testPod(i))).body.held, false);
    }
    assert.doesNotMatch(
      await node.exec("ip", "rule", "show"),
      new RegExp(`to ${gone.replaceAll(".", "\\.")} `),
    );
    const saved = JSON.parse(await Deno.readTextFile(`${node.dir}/ipam.json`));
    assert.equal(saved.allocations.length, 8);
    // New pods never get a restored IP.
    const restored = new Set([...held.entries()].filter(([i]) => i < 8).map(([, ip]) => ip));
    for (let i = 100; i < 110; i++) {
      const r = await node.call("/v1/add-network", testPod(i));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(!restored.has(r.body.ipv4), `${r.body.ipv4} handed out twice`);
    }
    // Restart changed no host state: same iptables, same rules (minus the vanished pod's rule).
    const strip = (s: string) => s.replace(/^#.*\n/gm, "").replace(/\[\d+:\d+\]/g, "");
    assert.equal(strip(await node.exec("iptables-save")), strip(iptBefore));
    const rulesAfter = await node.exec("ip", "rule", "show");
    assert.equal(rulesAfter, rulesBefore.split("\n").filter((l) => !l.includes(`to ${gone} `)).join("\n"));
    const pool = (await node.call("/v1/pool")).body;
    assert.equal(
      pool.enis.length,
      new Set(pool.enis.map((e: { deviceNumber: number }) => e.deviceNumber)).size,
    );
  } finally {
    await node.close();
  }
});

Deno.test({ name: "ipamd restart: ENIs tagged no_manage=true are ignored", ...rootOnly }, async () => {
  const node = await TestNode.create();
  try {
    await node.start();
    await node.until("warm pool", async () => (await node.call("/v1/pool")).body.enis.length === 2);
    const pool = (await node.call("/v1/pool")).body;
    const eni1 = pool.enis[1].eniId;
    await node.stop();
    await node.ec2.createTags([eni1], [{ key: "node.k8s.amazonaws.com/no_manage", value: "true" }]);
    await node.start();
    const after = await node.until("pool without the unmanaged ENI", async () => {
      const p = (await node.call("/v1/pool")).body;
      return p.enis.length === 2 && p.enis.every((e: { eniId: string }) => e.eniId !== eni1) ? p : undefined;
    });
    assert.ok(after.enis.every((e: { eniId: string }) => e.eniId !== eni1));
  } finally {
    await node.close();
  }
});
