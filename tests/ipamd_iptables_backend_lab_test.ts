/**
 * iptables backend detection on a lab node, as upstream's image does it: ipamd's SNAT and connmark rules land in
 * the backend that holds kubelet's and kube-proxy's rules, beside them, and leave the other backend clean.
 */
import assert from "node:assert/strict";
import { setIpamdRunning, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";

type Backend = "legacy" | "nft";

async function run(lab: TestLab, argv: string[]): Promise<string> {
  const r = await lab.inNode(0, argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** What kubelet and kube-proxy (iptables mode) leave in `backend`: the hint chain and the service portals. */
async function seedKube(lab: TestLab, b: Backend): Promise<void> {
  const ipt = `iptables-${b}`;
  await run(lab, [ipt, "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"]);
  await run(lab, [ipt, "-t", "nat", "-N", "KUBE-SERVICES"]);
  for (const chain of ["PREROUTING", "OUTPUT"]) {
    await run(lab, [
      ipt,
      "-t",
      "nat",
      "-A",
      chain,
      "-m",
      "comment",
      "--comment",
      "kubernetes service portals",
      "-j",
      "KUBE-SERVICES",
    ]);
  }
  await run(lab, [ipt, "-t", "nat", "-N", "KUBE-POSTROUTING"]);
  await run(lab, [
    ipt,
    "-t",
    "nat",
    "-A",
    "POSTROUTING",
    "-m",
    "comment",
    "--comment",
    "kubernetes postrouting rules",
    "-j",
    "KUBE-POSTROUTING",
  ]);
}

/** Every table of `backend` (iptables-*-save reads without creating anything). */
const saved = (lab: TestLab, b: Backend) => run(lab, [`iptables-${b}-save`]);

const OURS = /^:AWS-(SNAT|CONNMARK)-CHAIN-0 /m;

async function metrics(lab: TestLab): Promise<string> {
  return await run(lab, ["curl", "-sf", "-m", "5", "http://127.0.0.1:61678/metrics"]);
}

/** Our chains and jumps are in `b` beside kube-proxy's, and none of ours are left in the other backend. */
async function assertRulesIn(lab: TestLab, b: Backend, withKube: boolean): Promise<void> {
  const here = await saved(lab, b);
  const other = await saved(lab, b === "nft" ? "legacy" : "nft");
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
    await seedKube(lab, "legacy");
    await setIpamdRunning(lab, 0, true);
    await assertRulesIn(lab, "legacy", true);
    const log = await Deno.readTextFile(lab.names.ipamdLog(0));
    assert.match(log, /iptables backend.*legacy.*kubelet's hint chain is in legacy's tables/);

    // The node moves to nft (kubelet's hint there now; legacy keeps kube-proxy's stale rules, not the hint).
    await setIpamdRunning(lab, 0, false);
    await run(lab, ["iptables-legacy", "-t", "mangle", "-X", "KUBE-IPTABLES-HINT"]);
    await seedKube(lab, "nft");
    await setIpamdRunning(lab, 0, true);
    await assertRulesIn(lab, "nft", true);
    assert.match(
      await saved(lab, "legacy"),
      /-j KUBE-SERVICES$/m,
      "legacy's other rules are not ours to remove",
    );
  });
});
