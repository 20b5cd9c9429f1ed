/**
 * egress-cni uses the iptables backend ipamd detected (as upstream's image picks it), not the host's plain
 * `iptables`: on an IPv6 lab node whose kubelet and kube-proxy use iptables-legacy (while the host's `iptables`
 * is nft), ipamd says `legacy` in `/v1/status`, `ipamd install --conflist-only` writes it into egress-cni's
 * entry, and a pod's SNAT chain lands in legacy beside kube-proxy's rules, works (the IPv4 whoami sees the
 * node), passes CHECK and goes at DEL. A pod whose chain an older egress-cni put in nft is still cleaned up.
 */
import assert from "node:assert/strict";
import { inNetns, libcni } from "../harness/libcni.ts";
import { LAB_NET } from "../src/sim/naming.ts";
import { ipamdGet, setIpamdRunning, type TestLab, withLab } from "./helpers/lab.ts";
import { LabPods } from "./helpers/libcni_lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { installConflist, runInNode, savedRules, seedKubeRules } from "./helpers/lab_node_setup.ts";

// deno-lint-ignore no-explicit-any -- CNI results and conflists are JSON, checked field by field
type Json = any;

const WHOAMI4 = `http://${LAB_NET.inetHostIp}:${LAB_NET.whoamiPort}/`;

/** The POSTROUTING jump of egress-cni's chain for `ip` in `save`, if any. */
const jumpFor = (save: string, ip: string) =>
  save.split("\n").find((l) => l.startsWith(`-A POSTROUTING -s ${ip}/32 `) && / -j CNI-E4-/.test(l));

/** `ipamd install --conflist-only` for node 0 in IPv6 mode, as the aws-node container runs it. */
const installIpv6Conflist = (lab: TestLab, confDir: string) =>
  installConflist(lab, confDir, {
    ENABLE_IPv6: "true",
    ENABLE_IPv4: "false",
    ENABLE_PREFIX_DELEGATION: "true",
    AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${LAB_NET.imdsIp}`,
    AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE: lab.names.egressPluginLog(0),
  });

Deno.test({
  name:
    "IPv6 lab: egress-cni's SNAT goes to the iptables backend ipamd detected (legacy here), not the host's",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1, ipv6: true, latency: "none" }, async (lab) => {
    const dir = await Deno.makeTempDir({ prefix: "vpc-cni-egress-backend-" });
    const pods = new LabPods(lab, `${dir}/cache`);
    try {
      // kubelet and kube-proxy on iptables-legacy; the host's (and the lab node's) plain `iptables` is nft.
      assert.match(await runInNode(lab, ["iptables", "--version"]), /nf_tables/);
      await setIpamdRunning(lab, 0, false);
      await seedKubeRules(lab, "legacy");
      await setIpamdRunning(lab, 0, true);
      assert.equal((await ipamdGet(lab, 0, "/v1/status")).body.iptablesBackend, "legacy");

      const list = await installIpv6Conflist(lab, `${dir}/net.d`);
      const egress = list.plugins.find((p: Json) => p.type === "egress-cni");
      assert.equal(egress.iptablesBackend, "legacy", JSON.stringify(egress));
      // egress-cni's IPAM state in the lab node's dir (the product's /run/cni/v6pd path is the host's).
      egress.ipam.dataDir = lab.names.egressDataDir(0);
      await Deno.writeTextFile(`${dir}/net.d/10-aws.conflist`, JSON.stringify(list));
      const conflist = `${dir}/net.d/10-aws.conflist`;

      const pod = await pods.make("legacy", { conflist });
      const res: Json = await libcni("add", pod.opts);
      const v4 = (res.interfaces as Json[]).find((i) => i.name === "v4if0");
      assert.ok(v4, JSON.stringify(res.interfaces));
      const ip4 = (await inNetns(pod.ns, ["ip", "-4", "-o", "addr", "show", "v4if0"]))
        .match(/inet (\d+\.\d+\.\d+\.\d+)\//)?.[1];
      assert.ok(ip4, "the pod has an egress IPv4");
      assert.ok(
        jumpFor(await savedRules(lab, "legacy"), ip4),
        "the SNAT chain is in legacy, beside kube-proxy's",
      );
      assert.equal(jumpFor(await savedRules(lab, "nft"), ip4), undefined, "and not in nft");
      const seen = (await inNetns(pod.ns, ["curl", "-s", "-m", "5", WHOAMI4])).trim();
      assert.equal(seen, lab.status.nodes[0].primaryIp, "the IPv4 whoami sees the node (the SNAT works)");
      await libcni("check", pod.opts);
      await libcni("del", pod.opts);
      assert.doesNotMatch(await savedRules(lab, "legacy"), /CNI-E4-/, "DEL removed the chain from legacy");

      // A pod added by an egress-cni that ran the plain `iptables` (the lab's own conflist has no
      // iptablesBackend): its chain is in nft, and a DEL under the new conflist still removes it.
      const old = await pods.make("old");
      await libcni("add", old.opts);
      assert.match(await savedRules(lab, "nft"), /-j CNI-E4-/);
      await libcni("del", { ...old.opts, conflist });
      assert.doesNotMatch(await savedRules(lab, "nft"), /CNI-E4-/, "the other backend was cleaned too");
      assert.doesNotMatch(await savedRules(lab, "legacy"), /CNI-E4-/);
    } finally {
      await pods.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  });
});
