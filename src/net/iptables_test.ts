import assert from "node:assert/strict";
import {
  CONNMARK_CHAIN,
  isOwnedRule,
  renderRestore,
  renderRules,
  SNAT_CHAIN,
  type SnatRuleConfig,
} from "./iptables.ts";

const base: SnatRuleConfig = {
  primaryIp: "10.0.0.10",
  primaryIf: "eth0",
  vpcCidrs: ["10.0.0.0/16", "100.64.0.0/16"],
  excludeCidrs: ["192.168.0.0/16"],
  externalSnat: false,
  randomizeSnat: "prng",
  vethPrefix: "eni",
};

Deno.test("renderRules: SNAT chain in upstream's order, SNAT rule last", () => {
  const r = renderRules(base);
  const snat = r.nat.chains.find((c) => c.name === SNAT_CHAIN)!;
  assert.deepEqual(snat.rules, [
    '-d 10.0.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j RETURN',
    '-d 100.64.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j RETURN',
    '-d 192.168.0.0/16 -m comment --comment "AWS SNAT CHAIN EXCLUSION" -j RETURN',
    '! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 10.0.0.10 --random-fully',
  ]);
  const jump = r.nat.builtins.find((b) => b.chain === "POSTROUTING")!;
  assert.equal(jump.rule, '-m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0');
  assert.equal(jump.insertAt1, true);
});

Deno.test("renderRules: the random flag follows AWS_VPC_K8S_CNI_RANDOMIZESNAT", () => {
  const last = (c: SnatRuleConfig) => renderRules(c).nat.chains[0].rules.at(-1)!;
  assert.match(last({ ...base, randomizeSnat: "hashrandom" }), / --random$/);
  assert.match(last({ ...base, randomizeSnat: "none" }), /--to-source 10\.0\.0\.10$/);
});

Deno.test("renderRules: connmark rules use the primary interface and the veth prefix", () => {
  const r = renderRules({ ...base, primaryIf: "ens5", vethPrefix: "cali" });
  assert.deepEqual(r.mangle.builtins.map((b) => b.rule), [
    '-i ens5 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-mark 0x80/0x80',
    '-i cali+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --mask 0x80',
  ]);
  const conn = r.nat.chains.find((c) => c.name === CONNMARK_CHAIN)!;
  assert.equal(conn.rules.at(-1), '-m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80');
  assert.ok(
    r.nat.builtins.some((b) => b.rule.startsWith("-i cali+ ") && b.rule.endsWith(`-j ${CONNMARK_CHAIN}`)),
  );
});

Deno.test("renderRules: external SNAT installs no nat rule at all", () => {
  const r = renderRules({ ...base, externalSnat: true });
  assert.deepEqual(r.nat, { chains: [], builtins: [] });
  assert.equal(r.mangle.builtins.length, 2);
});

Deno.test("renderRules: AWS_VPC_K8S_CNI_CONNMARK and AWS_VPC_CNI_NODE_PORT_SUPPORT, as upstream", () => {
  const marked = renderRules({ ...base, connmark: 0x4000 });
  const all = [...marked.nat.builtins.map((b) => b.rule), ...marked.nat.chains.flatMap((c) => c.rules)]
    .concat(marked.mangle.builtins.map((b) => b.rule)).join("\n");
  assert.doesNotMatch(all, /0x80\b/);
  assert.match(all, /--set-mark 0x4000\/0x4000/);
  assert.match(all, /--set-xmark 0x4000\/0x4000/);
  assert.equal(all.match(/--restore-mark --mask 0x4000/g)?.length, 2);
  // Off: no primary-interface mark; the pod-side restore stays while ipamd SNATs (its connmark chain needs it).
  const off = renderRules({ ...base, nodePortSupport: false });
  assert.deepEqual(off.mangle.builtins.map((b) => b.rule), [
    '-i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --mask 0x80',
  ]);
  assert.deepEqual(renderRules({ ...base, nodePortSupport: false, externalSnat: true }).mangle.builtins, []);
});

Deno.test("renderRestore: deletes every owned built-in rule, keeps foreign ones, drops stale chains", () => {
  const saved = [
    "*filter",
    '-A INPUT -m comment --comment "AWS SNAT CHAIN" -j ACCEPT',
    "COMMIT",
    "*nat",
    ":POSTROUTING ACCEPT [0:0]",
    ":AWS-SNAT-CHAIN-0 - [0:0]",
    ":AWS-SNAT-CHAIN-1 - [0:0]",
    '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
    '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
    "-A POSTROUTING -o docker0 -j MASQUERADE",
    "-A AWS-SNAT-CHAIN-0 -j AWS-SNAT-CHAIN-1",
    "COMMIT",
  ].join("\n");
  const out = renderRestore("nat", saved, renderRules(base).nat).split("\n");
  assert.equal(out.filter((l) => l.startsWith("-D POSTROUTING")).length, 2);
  assert.ok(!out.some((l) => l.includes("MASQUERADE")));
  assert.ok(!out.some((l) => l.includes("INPUT")));
  assert.ok(out.includes("-F AWS-SNAT-CHAIN-1") && out.includes("-X AWS-SNAT-CHAIN-1"));
  assert.ok(!out.includes("-X AWS-SNAT-CHAIN-0"));
  assert.equal(out.filter((l) => l.startsWith("-I POSTROUTING 1 ")).length, 1);
  assert.equal(out.at(-2), "COMMIT");
});

Deno.test("isOwnedRule: recognises our comments and jumps only", () => {
  assert.ok(isOwnedRule('-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK'));
  assert.ok(isOwnedRule("-A PREROUTING -j AWS-CONNMARK-CHAIN-0"));
  assert.ok(!isOwnedRule('-A PREROUTING -m comment --comment "KUBE-SERVICES" -j KUBE-SERVICES'));
});
