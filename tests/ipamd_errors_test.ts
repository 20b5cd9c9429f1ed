/** ipamd's failure answers: subnet exhausted, EC2 throttled, failed attach (nothing leaked), start-up errors. */
import assert from "node:assert/strict";
import { Realism } from "../src/sim/realism.ts";
import { rootOnly } from "./helpers/root.ts";
import { TestNode } from "./helpers/ipamd_node.ts";

/** The client-side limiter still retries, but gives up fast enough for a test to see the final answer. */
const FAST_GIVE_UP = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 };

const pod = (i: number) => ({ netName: "aws-cni", containerId: `c${i}`, ifName: "eth0" });

async function ownedEnis(node: TestNode) {
  return (await node.ec2.describeNetworkInterfaces({})).filter((n) =>
    n.tags.some((t) => t.key === "node.k8s.amazonaws.com/instance_id" && t.value === node.instanceId)
  );
}

Deno.test({ name: "ipamd errors: an exhausted subnet answers subnet_exhausted", ...rootOnly }, async () => {
  // A /28 has 11 usable addresses: the instance's IP, then 10 for one more ENI; nothing after that.
  const node = await TestNode.create({ subnetCidr: "10.0.0.0/28" });
  try {
    await node.start({}, { addWaitMs: 1000 });
    await node.until("primary filled", async () => (await node.call("/v1/pool")).body.totals.total === 9);
    for (let i = 0; i < 9; i++) assert.equal((await node.call("/v1/add-network", pod(i))).status, 200);
    const r = await node.call("/v1/add-network", pod(9));
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.reason, "subnet_exhausted");
    assert.equal(r.body.error.retryable, true);
    assert.match(r.body.error.message, /InsufficientFreeAddressesInSubnet/);
    const owned = await ownedEnis(node);
    assert.ok(owned.every((n) => n.status === "in-use"), "no half-made (available) ENI left behind");
  } finally {
    await node.close();
  }
});

Deno.test({ name: "ipamd errors: EC2 throttling answers ec2_throttled", ...rootOnly }, async () => {
  const realism = new Realism({ latency: "none", buckets: false });
  const node = await TestNode.create({ realism });
  try {
    await node.start({ MAX_ENI: "2" }, { addWaitMs: 1000, rateLimit: FAST_GIVE_UP });
    await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
    realism.setFaults({ throttle: 1 });
    for (let i = 0; i < 18; i++) assert.equal((await node.call("/v1/add-network", pod(i))).status, 200);
    // Max ENIs is 2: nothing to grow, so the answer is max_enis_reached, not throttling.
    assert.equal((await node.call("/v1/add-network", pod(18))).body.error.reason, "max_enis_reached");
  } finally {
    await node.close();
  }
  const node2 = await TestNode.create({ realism: new Realism({ latency: "none", buckets: false }) });
  try {
    await node2.start({ WARM_ENI_TARGET: "0", WARM_IP_TARGET: "1" }, {
      addWaitMs: 1000,
      rateLimit: FAST_GIVE_UP,
    });
    await node2.until("one warm IP", async () => (await node2.call("/v1/pool")).body.totals.total >= 1);
    (node2.ec2.realism as Realism).setFaults({ throttle: 1 });
    let reason = "";
    for (let i = 0; i < 12 && reason === ""; i++) {
      const r = await node2.call("/v1/add-network", pod(i));
      if (r.status !== 200) reason = r.body.error.reason;
    }
    assert.equal(reason, "ec2_throttled");
  } finally {
    await node2.close();
  }
});

Deno.test(
  { name: "ipamd errors: a failing attach deletes the new ENI; nothing leaks", ...rootOnly },
  async () => {
    const realism = new Realism({ latency: "none", buckets: false, faults: { attachFail: 1 } });
    const node = await TestNode.create({ realism });
    try {
      await node.start({}, { addWaitMs: 500, rateLimit: FAST_GIVE_UP });
      await node.until("primary filled", async () => (await node.call("/v1/pool")).body.totals.total === 9);
      for (let i = 0; i < 9; i++) assert.equal((await node.call("/v1/add-network", pod(i))).status, 200);
      const r = await node.call("/v1/add-network", pod(9));
      assert.equal(r.status, 503);
      assert.equal(r.body.error.retryable, true);
      assert.equal(
        (await ownedEnis(node)).length,
        0,
        "every created ENI was deleted\n" + await Deno.readTextFile(`${node.dir}/ipamd.log`),
      );
      assert.ok(node.model.calls["CreateNetworkInterface"] >= 1);
      assert.equal(node.model.calls["DeleteNetworkInterface"], node.model.calls["CreateNetworkInterface"]);
      realism.setFaults({});
      const ok = await node.until("growth after the fault clears", async () => {
        const x = await node.call("/v1/add-network", pod(9));
        return x.status === 200 ? x : undefined;
      });
      assert.equal(ok?.body.deviceNumber, 1);
    } finally {
      await node.close();
    }
  },
);

Deno.test(
  { name: "ipamd errors: an unreachable API server fails start-up naming it", ...rootOnly },
  async () => {
    const { Daemon, StartupError } = await import("../src/ipamd/daemon.ts");
    const { ClientNodeKube } = await import("../src/k8s/client.ts");
    const { writeKubeconfig } = await import("../src/sim/kubeconfig.ts");
    const { ImdsClient } = await import("../src/aws/imds.ts");
    const node = await TestNode.create();
    try {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close(); // nothing listens there now
      const server = `http://127.0.0.1:${port}`;
      await writeKubeconfig(`${node.dir}/dead.kubeconfig`, { server });
      const t0 = Date.now();
      await assert.rejects(
        Daemon.start({
          config: node.config(),
          ports: {
            ec2: node.ec2,
            imds: new ImdsClient({ endpoint: node.imdsUrl }),
            kube: await ClientNodeKube.fromKubeconfig(`${node.dir}/dead.kubeconfig`),
            kubeServer: server,
            iptables: { netnsPath: node.nsPath },
          },
          kubeWaitMs: 1500,
        }),
        (e: Error) => e instanceof StartupError && e.message.includes(server),
      );
      // Bounded by kubeWaitMs (1.5 s), far below the 60 s default it would take if the option were ignored.
      assert.ok(Date.now() - t0 < 30_000, "the wait is bounded");
    } finally {
      await node.close();
    }
  },
);

Deno.test("ipamd run: a bad setting exits 1 with the variable's name", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../src/ipamd/main.ts", import.meta.url).pathname, "run"],
    env: { AWS_VPC_ENI_MTU: "70000", MY_NODE_NAME: "n1", AWS_VPC_K8S_CNI_LOG_FILE: "stdout" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 1);
  assert.match(new TextDecoder().decode(out.stderr), /AWS_VPC_ENI_MTU/);
});
