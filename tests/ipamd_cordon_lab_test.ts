/**
 * AWS_MANAGE_ENIS_NON_SCHEDULABLE on the lab. Upstream's default (false): while the node is cordoned the pool
 * adds no ENI or IP (ADDs still get the free ones, then answer why), and it grows again once uncordoned; ipamd
 * learns both through its node watch. With true, a cordoned node's pool grows as usual.
 */
import assert from "node:assert/strict";
import { type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { IpamdSocket } from "./helpers/ipamd_client.ts";
import { until } from "../harness/poll.ts";

const pod = (i: number) => ({
  netName: "aws-cni",
  containerId: `cordon${i}`,
  ifName: "eth0",
  k8sPodNamespace: "default",
  k8sPodName: `cordon-${i}`,
});

/** Cordons (or uncordons) node-0 as `kubectl cordon` and the node controller do: the flag and the taint. */
async function cordon(lab: TestLab, on: boolean): Promise<void> {
  const taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };
  const r = await lab.fetch("/k8s/api/v1/nodes/node-0", {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ spec: { unschedulable: on, taints: on ? [taint] : [] } }),
  });
  assert.equal(r.status, 200, await r.text());
}

async function ec2Calls(lab: TestLab): Promise<Record<string, number>> {
  const s = await (await lab.fetch("/lab/status")).json();
  return s.nodes[0].ec2Calls;
}

/** Takes every free IP (the warm pool: 2 ENIs × 9 on an m5.large). */
async function takeAllFree(sock: IpamdSocket): Promise<void> {
  await until(
    "warm pool of 18 IPs",
    async () => (await sock.call("/v1/pool")).body.totals?.free === 18,
    90_000,
  );
  for (let i = 0; i < 18; i++) {
    const r = await sock.call("/v1/add-network", pod(i));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

Deno.test({
  name:
    "lab: a cordoned node's pool does not grow (AWS_MANAGE_ENIS_NON_SCHEDULABLE=false), then grows uncordoned",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1, instanceType: "m5.large" }, async (lab) => {
    const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
    try {
      await until("warm pool", async () => (await sock.call("/v1/pool")).body.totals?.free === 18, 90_000);
      await cordon(lab, true);
      const log = lab.names.ipamdLog(0);
      await until(
        "ipamd sees the cordon",
        async () => (await Deno.readTextFile(log)).includes('"node cordoned'),
      );
      const before = await ec2Calls(lab);
      await takeAllFree(sock);
      const r = await sock.call("/v1/add-network", pod(18));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error.reason, "growth_held");
      assert.equal(r.body.error.retryable, true);
      assert.match(r.body.error.message, /cordoned and AWS_MANAGE_ENIS_NON_SCHEDULABLE=false/);
      const pool = (await sock.call("/v1/pool")).body;
      assert.equal(pool.enis.length, 2, "no ENI added while cordoned");
      assert.match(pool.held, /cordoned/);
      const during = await ec2Calls(lab);
      for (const action of ["CreateNetworkInterface", "AssignPrivateIpAddresses", "AttachNetworkInterface"]) {
        assert.equal(during[action] ?? 0, before[action] ?? 0, `no ${action} while cordoned`);
      }

      await cordon(lab, false);
      const got = await until("the ADD succeeds once uncordoned", async () => {
        const x = await sock.call("/v1/add-network", pod(18));
        return x.status === 200 ? x : undefined;
      });
      assert.ok(got.body.ipv4);
      assert.equal((await ec2Calls(lab)).CreateNetworkInterface, (before.CreateNetworkInterface ?? 0) + 1);
      assert.equal((await sock.call("/v1/pool")).body.held, undefined);
    } finally {
      sock.close();
    }
  });
});

Deno.test({
  name: "lab: AWS_MANAGE_ENIS_NON_SCHEDULABLE=true grows a cordoned node's pool",
  ...rootOnly,
}, async () => {
  await withLab({
    nodes: 1,
    instanceType: "m5.large",
    ipamdEnv: { AWS_MANAGE_ENIS_NON_SCHEDULABLE: "true" },
  }, async (lab) => {
    const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
    try {
      await cordon(lab, true);
      await takeAllFree(sock);
      const r = await until("the 19th ADD gets an IP from a new ENI", async () => {
        const x = await sock.call("/v1/add-network", pod(18));
        return x.status === 200 ? x : undefined;
      });
      assert.ok(r.body.ipv4);
      assert.equal((await sock.call("/v1/pool")).body.enis.length, 3);
    } finally {
      sock.close();
    }
  });
});
