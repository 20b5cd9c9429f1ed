/**
 * ipamd end to end in the lab: the real `ipamd run` (SDK EC2, IMDSv2, Kubernetes client) inside a node
 * namespace, supervised by the lab, driven over its unix socket.
 */
import assert from "node:assert/strict";
import { labStatus, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { IpamdSocket } from "./helpers/ipamd_client.ts";
import { until } from "../harness/poll.ts";
import { hostVethName } from "../src/common/veth_name.ts";

const pod = (i: number) => ({
  netName: "aws-cni",
  containerId: `lab${String(i).padStart(5, "0")}`,
  ifName: "eth0",
  k8sPodNamespace: "default",
  k8sPodName: `p${i}`,
});

/** The pod's host veth, as aws-cni leaves it: a restarted ipamd keeps only allocations whose veth exists. */
async function veth(lab: TestLab, i: number, add: boolean): Promise<void> {
  const name = hostVethName("eni", { namespace: "default", name: `p${i}`, containerId: "" });
  const argv = add
    ? ["ip", "link", "add", name, "type", "veth", "peer", "name", `pp${i}`]
    : ["ip", "link", "del", name];
  const r = await lab.inNode(0, argv);
  assert.equal(r.code, 0, r.stderr);
}

async function ready(lab: TestLab): Promise<IpamdSocket> {
  const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
  await until("ipamd ready", async () => (await sock.call("/v1/status")).status === 200 || undefined, 90_000);
  return sock;
}

Deno.test({
  name: "ipamd lab: m5.large grows to 3 ENIs for 25 pods; SIGKILL mid-churn holds no IP twice",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1, instanceType: "m5.large", latency: "realistic" }, async (lab) => {
    const sock = await ready(lab);
    const warm = await until("warm pool", async () => {
      const p = (await sock.call("/v1/pool")).body;
      return p.totals?.total === 18 ? p : undefined;
    });
    assert.equal(warm.enis.length, 2);
    const ips = new Map<number, string>();
    await Promise.all(Array.from({ length: 25 }, async (_, i) => {
      const r = await until(`pod ${i}`, async () => {
        const x = await sock.call("/v1/add-network", pod(i));
        return x.status === 200 ? x : undefined;
      });
      ips.set(i, r.body.ipv4);
      await veth(lab, i, true);
    }));
    assert.equal(new Set(ips.values()).size, 25);
    const grown = (await sock.call("/v1/pool")).body;
    assert.equal(grown.enis.length, 3);
    assert.equal(grown.totals.assigned, 25);

    // Churn: delete 10 and add 10 more while ipamd is SIGKILLed in the middle.
    const before = (await labStatus(lab.stateDir)).nodes[0];
    const churn = Promise.all(Array.from({ length: 10 }, async (_, k) => {
      await until(
        `del ${k}`,
        async () => (await sock.call("/v1/del-network", pod(k))).status === 200 || undefined,
      );
      ips.delete(k);
    }));
    // Mid-churn by condition: once the first delete is done (not after a fixed 30 ms).
    await until("the first delete", () => ips.size < 25, 60_000, 5);
    Deno.kill(before.ipamdPid!, "SIGKILL");
    await churn;
    const after = await until("ipamd restarted", async () => {
      const s = (await labStatus(lab.stateDir)).nodes[0];
      return s.ipamdRestarts > before.ipamdRestarts && s.ipamdPid !== before.ipamdPid ? s : undefined;
    });
    assert.ok(after.ipamdPid);
    await until(
      "ipamd ready again",
      async () => (await sock.call("/v1/status")).status === 200 || undefined,
      90_000,
    );
    for (let i = 25; i < 35; i++) {
      const r = await until(`pod ${i}`, async () => {
        const x = await sock.call("/v1/add-network", pod(i));
        return x.status === 200 ? x : undefined;
      });
      ips.set(i, r.body.ipv4);
      await veth(lab, i, true);
    }
    const pool = (await sock.call("/v1/pool")).body;
    const held = pool.pods.map((p: { ip: string }) => p.ip);
    assert.equal(new Set(held).size, held.length, "no IP held twice");
    for (const [i, ip] of ips) {
      const c = (await sock.call("/v1/check-network", pod(i))).body;
      assert.equal(c.ipv4, ip, `pod ${i}`);
    }
    sock.close();
  });
});

Deno.test(
  { name: "ipamd lab: WARM_IP_TARGET/MINIMUM_IP_TARGET keep the pool small", ...rootOnly },
  async () => {
    await withLab({
      nodes: 1,
      instanceType: "m5.large",
      ipamdEnv: { WARM_IP_TARGET: "2", MINIMUM_IP_TARGET: "4" },
    }, async (lab) => {
      const sock = await ready(lab);
      const p = await until("pool of 4", async () => {
        const x = (await sock.call("/v1/pool")).body;
        return x.totals?.total === 4 ? x : undefined;
      });
      assert.equal(p.enis.length, 1);
      for (let i = 0; i < 4; i++) assert.equal((await sock.call("/v1/add-network", pod(i))).status, 200);
      const grown = await until("2 warm IPs over 4 used", async () => {
        const x = (await sock.call("/v1/pool")).body;
        return x.totals.total === 6 ? x : undefined;
      });
      assert.equal(grown.totals.assigned, 4);

      // SIGTERM: ipamd exits 0; the supervisor restarts it and the pods are still there (veths exist).
      for (let i = 0; i < 4; i++) await veth(lab, i, true);
      const before = (await labStatus(lab.stateDir)).nodes[0];
      Deno.kill(before.ipamdPid!, "SIGTERM");
      const exit = await until("a clean exit", async () => {
        const s = (await labStatus(lab.stateDir)).nodes[0] as {
          ipamdExits?: { code: number; signal: string | null }[];
        };
        return s.ipamdExits?.at(-1);
      });
      assert.equal(exit.code, 0, JSON.stringify(exit));
      sock.close();
      await until(
        "ipamd back",
        async () => (await sock.call("/v1/status")).status === 200 || undefined,
        90_000,
      );
      for (let i = 0; i < 4; i++) {
        assert.equal((await sock.call("/v1/check-network", pod(i))).body.held, true);
      }
      sock.close();
    });
  },
);
