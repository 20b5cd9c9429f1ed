/**
 * Upstream knobs that need no contrast run (each is proved against the lab as it comes up with them set): one
 * lab node with ADDITIONAL_ENI_TAGS, AWS_VPC_ENI_MTU, AWS_EXTERNAL_SERVICE_CIDRS and ANNOTATE_POD_IP set.
 */
import assert from "node:assert/strict";
import { ec2FromNode, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { IpamdSocket } from "./helpers/ipamd_client.ts";
import { until } from "../harness/poll.ts";
import { renderKubeconfig } from "../src/sim/kubeconfig.ts";

const EXTRA_TAGS = { team: "net", "cost-center": "cc-42" };

// deno-lint-ignore no-explicit-any -- SDK answers, checked field by field
type Json = any;

async function ready(lab: TestLab): Promise<IpamdSocket> {
  const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
  await until("ipamd ready", async () => (await sock.call("/v1/status")).status === 200 || undefined, 90_000);
  return sock;
}

Deno.test({
  name:
    "lab: ADDITIONAL_ENI_TAGS in CreateNetworkInterface, AWS_VPC_ENI_MTU on every ENI, external service rules",
  ...rootOnly,
}, async () => {
  await withLab({
    nodes: 1,
    instanceType: "m5.large",
    ipamdEnv: {
      ADDITIONAL_ENI_TAGS: JSON.stringify(EXTRA_TAGS),
      AWS_VPC_ENI_MTU: "1500",
      AWS_EXTERNAL_SERVICE_CIDRS: "203.0.113.0/24,192.0.2.10/32",
    },
  }, async (lab) => {
    const sock = await ready(lab);
    // The default warm pool attaches a second ENI at start: ipamd created it.
    await until(
      "the warm ENI",
      async () => (await sock.call("/v1/pool")).body.enis?.length === 2 || undefined,
    );
    const instanceId = lab.status.nodes[0].instanceId;
    const [r] = await ec2FromNode(lab, 0, [["describeNetworkInterfaces", {
      filters: [{ name: "attachment.instance-id", values: [instanceId] }],
    }]]);
    assert.ok("ok" in r, JSON.stringify(r));
    const enis = r.ok as Json[];
    const made = enis.filter((n) => n.attachment.deviceIndex > 0);
    assert.equal(made.length, 1);
    const tags = Object.fromEntries(made[0].tags.map((t: Json) => [t.key, t.value]));
    for (const [k, v] of Object.entries(EXTRA_TAGS)) {
      assert.equal(tags[k], v, `tag ${k} on ${made[0].networkInterfaceId}`);
    }
    assert.equal(tags["node.k8s.amazonaws.com/instance_id"], instanceId);
    // Tagged in the same call that made it: a tag-enforcing policy never sees it untagged.
    const { ec2Calls } = await (await lab.fetch("/lab/status")).json();
    assert.equal(ec2Calls.CreateNetworkInterface, 1);
    assert.equal(ec2Calls.CreateTags ?? 0, 0);

    // AWS_VPC_ENI_MTU on the primary interface too (the lab boots it at 9001), as upstream's SetupHostNetwork.
    for (const dev of ["eth0", "eth1"]) {
      const link = await lab.inNode(0, ["ip", "-o", "link", "show", dev]);
      assert.match(link.stdout, /mtu 1500 /, `${dev}: ${link.stdout}`);
    }
    // AWS_EXTERNAL_SERVICE_CIDRS: priority 1535 `to CIDR lookup main`, ahead of pods' 1536 `from` rules.
    const rules = (await lab.inNode(0, ["ip", "rule", "show"])).stdout.split("\n")
      .filter((l) => l.startsWith("1535:")).map((l) => l.replace(/\s+/g, " ").trim()).sort();
    assert.deepEqual(rules, [
      "1535: from all to 192.0.2.10 lookup main",
      "1535: from all to 203.0.113.0/24 lookup main",
    ]);
  });
});

Deno.test({
  name: "lab: ANNOTATE_POD_IP writes vpc.amazonaws.com/pod-ips at ADD and empties it at DEL if still ours",
  ...rootOnly,
}, async () => {
  await withLab(
    { nodes: 1, instanceType: "m5.large", ipamdEnv: { ANNOTATE_POD_IP: "true" } },
    async (lab) => {
      const sock = await ready(lab);
      const podUrl = (name: string) => `/k8s/api/v1/namespaces/default/pods/${name}`;
      const annotation = async (name: string) =>
        (await (await lab.fetch(podUrl(name))).json()).metadata.annotations?.["vpc.amazonaws.com/pod-ips"];
      const key = (name: string) => ({
        netName: "aws-cni",
        containerId: `c-${name}`,
        ifName: "eth0",
        k8sPodNamespace: "default",
        k8sPodName: name,
      });
      for (const name of ["annot", "taken"]) {
        const r = await lab.fetch("/lab/pods", { method: "POST", body: JSON.stringify({ name, node: "0" }) });
        assert.equal(r.status, 201, await r.text());
      }
      const added = await sock.call("/v1/add-network", key("annot"));
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.equal(await annotation("annot"), added.body.ipv4, "annotated before the ADD is answered");
      assert.equal((await sock.call("/v1/del-network", key("annot"))).status, 200);
      assert.equal(await annotation("annot"), "", "emptied at DEL");

      // Someone else rewrote the annotation: DEL leaves it alone (upstream: released IP must match).
      const other = await sock.call("/v1/add-network", key("taken"));
      assert.equal(other.status, 200);
      const patch = await lab.fetch(podUrl("taken"), {
        method: "PATCH",
        headers: { "content-type": "application/merge-patch+json" },
        body: JSON.stringify({ metadata: { annotations: { "vpc.amazonaws.com/pod-ips": "192.0.2.1" } } }),
      });
      assert.equal(patch.status, 200, await patch.text());
      assert.equal((await sock.call("/v1/del-network", key("taken"))).status, 200);
      assert.equal(await annotation("taken"), "192.0.2.1");
    },
  );
});

Deno.test({
  name: "lab: CLUSTER_ENDPOINT reaches the API server when the configured address does not answer",
  ...rootOnly,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-endpoint-" });
  try {
    // The kubeconfig's server stands for the `kubernetes` Service's ClusterIP before kube-proxy programs it:
    // nothing answers there. Without CLUSTER_ENDPOINT ipamd could not start.
    await Deno.writeTextFile(`${dir}/kubeconfig`, renderKubeconfig({ server: "http://10.0.255.253:1" }));
    await withLab({
      nodes: 1,
      instanceType: "m5.large",
      ipamdEnv: { KUBECONFIG: `${dir}/kubeconfig`, CLUSTER_ENDPOINT: "http://10.0.255.253:6443" },
    }, async (lab) => {
      await ready(lab);
      const log = await Deno.readTextFile(lab.names.ipamdLog(0));
      assert.match(log, /"Kubernetes API reachable","server":"http:\/\/10\.0\.255\.253:6443"/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
