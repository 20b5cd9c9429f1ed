/** ipamd in-process on a test node: start-up pool, growth, precise errors, DEL + cooldown, socket API checks. */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { TestNode } from "./helpers/ipamd_node.ts";
import { testPod } from "./helpers/ipamd_client.ts";

Deno.test(
  { name: "ipamd: m5.large starts with 2 ENIs and 18 IPs, wired on the host", ...rootOnly },
  async () => {
    const node = await TestNode.create();
    try {
      const d = await node.start();
      const pool = await node.until("18 IPs", async () => {
        const p = (await node.call("/v1/pool")).body;
        return p.totals.total === 18 && p.enis.length === 2 ? p : undefined;
      });
      assert.equal(pool.totals.free, 18);
      assert.deepEqual(pool.enis.map((e: { deviceNumber: number }) => e.deviceNumber), [0, 1]);
      const eni1 = pool.enis[1];
      const ec2 = (await node.ec2.describeNetworkInterfaces({ networkInterfaceIds: [eni1.eniId] }))[0];
      const tags = Object.fromEntries(ec2.tags.map((t) => [t.key, t.value]));
      assert.equal(tags["node.k8s.amazonaws.com/instance_id"], node.instanceId);
      assert.equal(tags["cluster.k8s.amazonaws.com/name"], "test-cluster");
      assert.ok(tags["node.k8s.amazonaws.com/createdAt"]);
      assert.equal(ec2.description, `aws-K8S-${node.instanceId}`);
      assert.equal(ec2.attachment?.deleteOnTermination, true);
      const rules = await node.exec("ip", "rule", "show");
      assert.match(
        rules,
        new RegExp(`^32765:\\s+from ${eni1.primaryIp.replaceAll(".", "\\.")} lookup 2`, "m"),
      );
      assert.match(rules, /^1024:\s+from all fwmark 0x80\/0x80 lookup main/m);
      assert.match(await node.exec("ip", "route", "show", "table", "2"), /default via 10\.0\.0\.1 dev eth1/);
      assert.match(await node.exec("iptables-save", "-t", "nat"), /--to-source 10\.0\.0\.10 --random-fully/);
      assert.equal((await node.call("/v1/status")).status, 200);
      const started = { success: "true", with_api_server: "true", failure_reason: "" };
      assert.equal(d.metrics.startupSeconds.get(started), 1);
      assert.ok(d.metrics.startupSeconds.sum(started) > 0);
      assert.equal(d.metrics.nodeInitSeconds.get({ success: "true" }), 1);
      assert.equal(d.metrics.connmarkReconcile.get({ result: "success" }), 1);
    } finally {
      await node.close();
    }
  },
);

Deno.test(
  { name: "ipamd: assigns grow the pool to 3 ENIs, then max_enis_reached", ...rootOnly },
  async () => {
    const node = await TestNode.create();
    try {
      await node.start();
      await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
      const ips = new Set<string>();
      // 27 = 3 ENIs x 9 usable IPs, added 9 at a time in parallel.
      for (let batch = 0; batch < 3; batch++) {
        const replies = await Promise.all(
          Array.from({ length: 9 }, (_, i) => node.call("/v1/add-network", testPod(batch * 9 + i))),
        );
        for (const r of replies) {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          ips.add(r.body.ipv4);
          assert.equal(r.body.routeTable, r.body.deviceNumber === 0 ? 254 : r.body.deviceNumber + 1);
          assert.deepEqual(r.body.vpcCidrs, ["10.0.0.0/16"]);
          assert.equal(r.body.mtu, 9001);
        }
      }
      assert.equal(ips.size, 27, "no IP handed out twice");
      const again = await node.call("/v1/add-network", testPod(3));
      assert.equal(
        again.body.ipv4,
        (await node.call("/v1/check-network", testPod(3))).body.ipv4,
        "ADD is idempotent",
      );
      const full = await node.call("/v1/add-network", testPod(99));
      assert.equal(full.status, 409);
      assert.equal(full.body.error.reason, "max_enis_reached");
      assert.equal(full.body.error.retryable, false);
      assert.match(full.body.error.message, /3 ENIs/);
      const attached = await node.ec2.describeNetworkInterfaces({
        filters: [{ name: "attachment.instance-id", values: [node.instanceId] }],
      });
      assert.equal(attached.length, 3);
      const saved = JSON.parse(await Deno.readTextFile(`${node.dir}/ipam.json`));
      assert.equal(saved.allocations.length, 27);
    } finally {
      await node.close();
    }
  },
);

Deno.test(
  { name: "ipamd: DEL releases into cooldown; a full node explains the wait", ...rootOnly },
  async () => {
    const node = await TestNode.create();
    try {
      await node.start({ IP_COOLDOWN_PERIOD: "30", MAX_ENI: "1" });
      await node.until("primary filled", async () => (await node.call("/v1/pool")).body.totals.total === 9);
      for (let i = 0; i < 9; i++) assert.equal((await node.call("/v1/add-network", testPod(i))).status, 200);
      const del = await node.call("/v1/del-network", testPod(4));
      assert.equal(del.body.released, true);
      assert.equal(
        (await node.call("/v1/del-network", testPod(4))).body.released,
        false,
        "DEL twice is fine",
      );
      const pool = (await node.call("/v1/pool")).body;
      assert.equal(pool.totals.cooling, 1);
      const r = await node.call("/v1/add-network", testPod(50));
      assert.equal(r.status, 503);
      assert.equal(r.body.error.reason, "pool_growing");
      assert.equal(r.body.error.retryable, true);
      assert.ok(
        r.body.error.retryAfterMs > 25_000 && r.body.error.retryAfterMs <= 30_000,
        JSON.stringify(r.body),
      );
      assert.equal((await node.call("/v1/check-network", testPod(4))).body.held, false);
      const saved = JSON.parse(await Deno.readTextFile(`${node.dir}/ipam.json`));
      assert.equal(saved.allocations.length, 8);
    } finally {
      await node.close();
    }
  },
);

Deno.test(
  { name: "ipamd: socket API answers 400 naming the field and 413, and keeps serving", ...rootOnly },
  async () => {
    const node = await TestNode.create();
    try {
      await node.start();
      const bad = await node.call("/v1/add-network", "{not json");
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.reason, "bad_request");
      const missing = await node.call("/v1/add-network", { netName: "aws-cni", ifName: "eth0" });
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /"containerId"/);
      const badIf = await node.call("/v1/add-network", { ...testPod(1), ifName: "a/b" });
      assert.match(badIf.body.error.message, /"ifName"/);
      const big = await node.call(
        "/v1/add-network",
        JSON.stringify({ ...testPod(1), pad: "x".repeat(70_000) }),
      );
      assert.equal(big.status, 413);
      assert.equal((await node.call("/v1/nope")).status, 404);
      assert.equal((await node.call("/v1/status")).status, 200);
      assert.equal((await node.call("/v1/add-network", testPod(1))).status, 200);
      const mode = (await Deno.stat(`${node.dir}/ipamd.sock`)).mode! & 0o777;
      assert.equal(mode, 0o660);
    } finally {
      await node.close();
    }
  },
);
