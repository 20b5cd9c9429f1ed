/**
 * MANAGE_UNTAGGED_ENI=false and the `node.k8s.amazonaws.com/no_manage` tag on the lab: ENIs attached to the
 * node that ipamd did not create (no instance_id tag) or that are tagged no_manage=true are left out of the
 * pool, left unwired, still count against the ENI limit, and `/v1/enis` says why.
 */
import assert from "node:assert/strict";
import { ec2FromNode, setIpamdRunning, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { IpamdSocket } from "./helpers/ipamd_client.ts";
import { until } from "../harness/poll.ts";

// deno-lint-ignore no-explicit-any -- JSON answers, checked field by field
type Json = any;

/** Creates an ENI with `ips` secondary IPs in the node's subnet and attaches it at `deviceIndex`. */
async function foreignEni(
  lab: TestLab,
  o: { deviceIndex: number; ips: number; tags: { key: string; value: string }[] },
): Promise<{ id: string; addresses: string[] }> {
  const [made] = await ec2FromNode(lab, 0, [["createNetworkInterface", {
    subnetId: (lab.status.subnetIds as string[])[0],
    securityGroupIds: [lab.status.securityGroupId],
    secondaryPrivateIpAddressCount: o.ips,
    description: "an operator's ENI",
    tags: o.tags,
  }]]);
  assert.ok("ok" in made, JSON.stringify(made));
  const eni = made.ok as Json;
  const [att] = await ec2FromNode(lab, 0, [["attachNetworkInterface", {
    networkInterfaceId: eni.networkInterfaceId,
    instanceId: lab.status.nodes[0].instanceId,
    deviceIndex: o.deviceIndex,
  }]]);
  assert.ok("ok" in att, JSON.stringify(att));
  return { id: eni.networkInterfaceId, addresses: eni.privateIps.map((p: Json) => p.address) };
}

Deno.test({
  name: "lab: MANAGE_UNTAGGED_ENI=false and no_manage=true ENIs stay out of the pool; /v1/enis says why",
  ...rootOnly,
}, async () => {
  await withLab({
    nodes: 1,
    instanceType: "m5.xlarge",
    ipamdEnv: { MANAGE_UNTAGGED_ENI: "false" },
  }, async (lab) => {
    const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
    try {
      await until(
        "warm pool of 2 ENIs",
        async () => (await sock.call("/v1/pool")).body.enis?.length === 2,
        90_000,
      );
      await setIpamdRunning(lab, 0, false);
      const untagged = await foreignEni(lab, { deviceIndex: 2, ips: 2, tags: [] });
      const noManage = await foreignEni(lab, {
        deviceIndex: 3,
        ips: 1,
        tags: [{ key: "node.k8s.amazonaws.com/no_manage", value: "true" }],
      });
      await setIpamdRunning(lab, 0, true);

      const v = (await sock.call("/v1/enis")).body;
      assert.match(v.UnmanagedENIs[untagged.id], /MANAGE_UNTAGGED_ENI=false/);
      assert.match(v.UnmanagedENIs[noManage.id], /no_manage=true/);
      assert.equal(Object.keys(v.UnmanagedENIs).length, 2);
      assert.equal(v.ENIs[untagged.id], undefined);
      assert.equal(v.ENIs[noManage.id], undefined);
      const pool = (await sock.call("/v1/pool")).body;
      assert.equal(pool.enis.length, 2, "the pool keeps its own two ENIs");
      assert.equal(pool.maxEnis, 2, "m5.xlarge's 4 ENI slots, 2 of them taken by ENIs left alone");
      const held = new Set(pool.enis.flatMap((e: Json) => e.eniId));
      assert.ok(!held.has(untagged.id) && !held.has(noManage.id));
      // Left unwired: no source rule for their addresses, no table of theirs.
      const rules = (await lab.inNode(0, ["ip", "rule", "show"])).stdout;
      for (const ip of [...untagged.addresses, ...noManage.addresses]) {
        assert.doesNotMatch(rules, new RegExp(`from ${ip.replaceAll(".", "\\.")} `), `no rule for ${ip}`);
      }
      // And no pod ever gets one of their addresses.
      const theirs = new Set([...untagged.addresses, ...noManage.addresses]);
      for (let i = 0; i < 5; i++) {
        const r = await sock.call("/v1/add-network", {
          netName: "aws-cni",
          containerId: `um${i}`,
          ifName: "eth0",
          k8sPodNamespace: "default",
          k8sPodName: `um-${i}`,
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(!theirs.has(r.body.ipv4), r.body.ipv4);
      }
      const metrics = await lab.inNode(0, [
        "curl",
        "-sS",
        "--max-time",
        "5",
        "http://127.0.0.1:61678/metrics",
      ]);
      assert.match(metrics.stdout, /^awscni_eni_max 2$/m, "upstream's eni_max counts unmanaged ENIs out");
    } finally {
      sock.close();
    }
  });
});
