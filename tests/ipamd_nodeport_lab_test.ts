/**
 * AWS_VPC_CNI_NODE_PORT_SUPPORT and AWS_VPC_K8S_CNI_CONNMARK on the lab: a NodePort-style DNAT (portmap, as
 * kube-proxy would) on the node's primary IP to a pod whose IP is on a secondary ENI. With the knob on, the
 * connection is marked on eth0 and the reply is routed by the main table out of eth0. With it off, the mark rule
 * is absent and the reply is routed out of the pod's ENI with the node's address as its source; the VPC's
 * source/destination check (the lab router's strict rp_filter on that ENI's link) refuses it, and the client
 * never gets an answer.
 */
import assert from "node:assert/strict";
import { type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { IpamdSocket } from "./helpers/ipamd_client.ts";
import { until } from "../harness/poll.ts";
import { podServer, tcpFetch } from "./helpers/pod_tcp.ts";
import { podAdd, podDel } from "../src/sim/runtime_pod.ts";

const NODE_PORT = 30080;
/** The lab's internet host: NodePort clients come from outside the VPC. */
const CLIENT = "198.51.100.2";

/** Fills ENI 0's addresses with placeholder allocations, so the next pod lands on a secondary ENI. */
async function fillPrimaryEni(sock: IpamdSocket): Promise<void> {
  const pool = await until("warm pool of 2 ENIs", async () => {
    const p = (await sock.call("/v1/pool")).body;
    return p.enis?.length === 2 && p.totals.free === 18 ? p : undefined;
  }, 90_000);
  const eni0 = pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 0);
  for (let i = 0; i < eni0.free; i++) {
    const r = await sock.call("/v1/add-network", {
      netName: "aws-cni",
      containerId: `placeholder${i}`,
      ifName: "eth0",
      k8sPodNamespace: "default",
      k8sPodName: `placeholder-${i}`,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

/** The node's routing decision for the pod's reply to the client, as it arrives from the pod's host veth. */
async function replyRoute(lab: TestLab, o: { podIp: string; veth: string }, mark?: string): Promise<string> {
  const argv = [
    "ip",
    "-4",
    "route",
    "get",
    CLIENT,
    "from",
    o.podIp,
    "iif",
    o.veth,
    ...(mark ? ["mark", mark] : []),
  ];
  const r = await lab.inNode(0, argv);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function withNodePortPod(
  env: Record<string, string>,
  fn: (lab: TestLab, o: { podIp: string; veth: string; nodeIp: string; mangle: string }) => Promise<void>,
): Promise<void> {
  await withLab({ nodes: 1, instanceType: "m5.large", ipamdEnv: env }, async (lab) => {
    const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
    try {
      await fillPrimaryEni(sock);
      const rec = await podAdd(lab.names, "np", {
        portMappings: [{ hostPort: NODE_PORT, containerPort: 8080, protocol: "tcp" }],
      });
      const pods = Object.values((await sock.call("/v1/pods")).body) as { ipv4: string; eniId: string }[];
      const eniId = pods.find((p) => p.ipv4 === rec.podIp)!.eniId;
      const enis = (await sock.call("/v1/pool")).body.enis as { eniId: string; deviceNumber: number }[];
      assert.equal(enis.find((e) => e.eniId === eniId)?.deviceNumber, 1, "the pod is on the secondary ENI");
      const server = await podServer(rec.netns, 8080, "np-ok");
      try {
        const mangle = (await lab.inNode(0, ["iptables-save", "-t", "mangle"])).stdout;
        const veth = (rec.result.interfaces as { name: string }[])[0].name;
        await fn(lab, { podIp: rec.podIp!, veth, nodeIp: lab.status.nodes[0].primaryIp, mangle });
      } finally {
        await server.stop();
        await podDel(lab.names, "np");
      }
    } finally {
      sock.close();
    }
  });
}

Deno.test({
  name: "lab: NodePort to a pod on a secondary ENI answers with support on (connmark 0x4000)",
  ...rootOnly,
}, async () => {
  await withNodePortPod(
    { AWS_VPC_CNI_NODE_PORT_SUPPORT: "true", AWS_VPC_K8S_CNI_CONNMARK: "0x4000" },
    async (lab, { podIp, veth, nodeIp, mangle }) => {
      assert.match(mangle, /-A PREROUTING -i eth0 .*--set-xmark 0x4000\/0x4000/);
      assert.match(mangle, /-A PREROUTING -i eni\+ .*--restore-mark --nfmask 0x4000 --ctmask 0x4000/);
      const rules = (await lab.inNode(0, ["ip", "rule", "show"])).stdout;
      assert.match(rules, /^1024:\s+from all fwmark 0x4000\/0x4000 lookup main/m);
      // The marked reply is routed by the main table, out of eth0.
      assert.match(await replyRoute(lab, { podIp, veth }, "0x4000"), /dev eth0/);
      assert.equal((await tcpFetch(lab.names.inetNs, nodeIp, NODE_PORT, 10)).trim(), "np-ok");
    },
  );
});

Deno.test({
  name: "lab: NodePort support off: no mark rule, the reply leaves the pod's ENI and the VPC drops it",
  ...rootOnly,
}, async () => {
  await withNodePortPod(
    { AWS_VPC_CNI_NODE_PORT_SUPPORT: "false" },
    async (lab, { podIp, veth, nodeIp, mangle }) => {
      assert.doesNotMatch(mangle, /-i eth0 .*CONNMARK/, "no primary-interface mark");
      // Unmarked, the reply follows the pod's rule 1536 to its ENI's table: out of eth1, the node's IP as source.
      assert.match(await replyRoute(lab, { podIp, veth }), /via 10\.0\.0\.1 dev eth1 table 2/);
      const got = await tcpFetch(lab.names.inetNs, nodeIp, NODE_PORT, 4).then((s) => s.trim(), (e) => `${e}`);
      assert.notEqual(got, "np-ok", "the VPC drops the asymmetric reply: the connection never completes");
      assert.match(got, /exit 124/, "the client timed out waiting for the SYN-ACK");
    },
  );
});
