/**
 * iptables backend detection on a lab node, as upstream's image does it: ipamd's SNAT and connmark rules land in
 * the backend that holds kubelet's and kube-proxy's rules, beside them, and leave the other backend clean.
 */
import assert from "node:assert/strict";
import { setIpamdRunning, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { type IptablesBackend, runInNode, savedRules, seedKubeRules } from "./helpers/lab_node_setup.ts";

const OURS = /^:AWS-(SNAT|CONNMARK)-CHAIN-0 /m;

async function metrics(lab: TestLab): Promise<string> {
  return await runInNode(lab, ["curl", "-sf", "-m", "5", "http://127.0.0.1:61678/metrics"]);
}

/** Our chains and jumps are in `b` beside kube-proxy's, and none of ours are left in the other backend. */
async function assertRulesIn(lab: TestLab, b: IptablesBackend, withKube: boolean): Promise<void> {
  const here = await savedRules(lab, b);
  const other = await savedRules(lab, b === "nft" ? "legacy" : "nft");
  assert.match(here, /^:AWS-SNAT-CHAIN-0 /m, `our SNAT chain in ${b}`);
  assert.match(here, /^:AWS-CONNMARK-CHAIN-0 /m, `our connmark chain in ${b}`);
  assert.match(here, /^-A POSTROUTING .*-j AWS-SNAT-CHAIN-0/m);
  if (withKube) {
    assert.match(here, /^-A PREROUTING .*-j KUBE-SERVICES$/m, "kube-proxy's rules kept");
    assert.match(here, /^-A POSTROUTING .*-j KUBE-POSTROUTING$/m, "kube-proxy's rules kept");
  }
  assert.doesNotMatch(other, OURS, `none of ours left in the other backend:\n${other}`);
  assert.doesNotMatch(other, /AWS-(SNAT|CONNMARK)/, "no jump of ours in the other backend");
  const label = b === "nft" ? "nftables" : "iptables";
  assert.match(await metrics(lab), new RegExp(`^awscni_connmark_backend\\{backend="${label}"\\} 1$`, "m"));
}

Deno.test({
  name:
    "lab: ipamd's iptables rules follow kubelet's backend: legacy beside kube-proxy's, then nft, the other left clean",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1 }, async (lab) => {
    await setIpamdRunning(lab, 0, true);
    // A node without kubelet's hint and no rules anywhere: nft (upstream's default).
    await assertRulesIn(lab, "nft", false);

    // kubelet and kube-proxy on iptables-legacy: ipamd, restarted, moves its rules there.
    await setIpamdRunning(lab, 0, false);
    await seedKubeRules(lab, "legacy");
    await setIpamdRunning(lab, 0, true);
    await assertRulesIn(lab, "legacy", true);
    const log = await Deno.readTextFile(lab.names.ipamdLog(0));
    assert.match(log, /iptables backend.*legacy.*kubelet's hint chain is in legacy's tables/);

    // The node moves to nft (kubelet's hint there now; legacy keeps kube-proxy's stale rules, not the hint).
    await setIpamdRunning(lab, 0, false);
    await runInNode(lab, ["iptables-legacy", "-t", "mangle", "-X", "KUBE-IPTABLES-HINT"]);
    await seedKubeRules(lab, "nft");
    await setIpamdRunning(lab, 0, true);
    await assertRulesIn(lab, "nft", true);
    assert.match(
      await savedRules(lab, "legacy"),
      /-j KUBE-SERVICES$/m,
      "legacy's other rules are not ours to remove",
    );
  });
});
