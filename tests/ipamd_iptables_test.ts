/** iptables application inside a throwaway network namespace: idempotent, owns only its rules. */
import assert from "node:assert/strict";
import { applyRules, iptablesSave, renderRules, type SnatRuleConfig } from "../src/net/iptables.ts";
import { rootOnly } from "./helpers/root.ts";

const cfg: SnatRuleConfig = {
  primaryIp: "10.0.0.10",
  primaryIf: "eth0",
  vpcCidrs: ["10.0.0.0/16"],
  excludeCidrs: ["192.168.0.0/16"],
  externalSnat: false,
  randomizeSnat: "prng",
  vethPrefix: "eni",
};

async function sh(cmd: string, ...args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

async function withNs(fn: (path: string) => Promise<void>): Promise<void> {
  const ns = `ipamd-ipt-${crypto.randomUUID().slice(0, 8)}`;
  await sh("ip", "netns", "add", ns);
  try {
    await fn(`/var/run/netns/${ns}`);
  } finally {
    await sh("ip", "netns", "del", ns);
  }
}

const strip = (s: string) => s.replace(/^#.*\n/gm, "").replace(/\[\d+:\d+\]/g, "");
async function saveAll(netnsPath: string): Promise<string> {
  return strip((await iptablesSave("nat", { netnsPath })) + (await iptablesSave("mangle", { netnsPath })));
}
const count = (text: string, needle: string) => text.split("\n").filter((l) => l.includes(needle)).length;

Deno.test(
  { name: "iptables: a restart re-applies without duplicates and keeps foreign rules", ...rootOnly },
  async () => {
    await withNs(async (netnsPath) => {
      await sh(
        "nsenter",
        `--net=${netnsPath}`,
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-o",
        "docker0",
        "-j",
        "MASQUERADE",
      );
      await applyRules(renderRules(cfg), { netnsPath });
      const first = await saveAll(netnsPath);
      await applyRules(renderRules(cfg), { netnsPath });
      await applyRules(renderRules(cfg), { netnsPath });
      const third = await saveAll(netnsPath);
      assert.equal(third, first);
      assert.equal(count(third, "-j AWS-SNAT-CHAIN-0"), 1);
      assert.equal(count(third, "-j AWS-CONNMARK-CHAIN-0"), 1);
      assert.equal(count(third, '"AWS, primary ENI"'), 2);
      assert.equal(count(third, "MASQUERADE"), 1);
      assert.match(
        third,
        /-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0\n-A POSTROUTING -o docker0/,
      );
      assert.match(third, /--to-source 10\.0\.0\.10 --random-fully/);
    });
  },
);

Deno.test({
  name: "iptables: a changed config replaces stale rules; external SNAT removes SNAT",
  ...rootOnly,
}, async () => {
  await withNs(async (netnsPath) => {
    await applyRules(renderRules(cfg), { netnsPath });
    await applyRules(renderRules({ ...cfg, primaryIf: "ens5", excludeCidrs: [], randomizeSnat: "none" }), {
      netnsPath,
    });
    let now = await saveAll(netnsPath);
    assert.equal(count(now, "-i eth0"), 0);
    assert.equal(count(now, "-i ens5"), 1);
    assert.equal(count(now, "192.168.0.0/16"), 0);
    assert.equal(count(now, "--random"), 0);
    await applyRules(renderRules({ ...cfg, externalSnat: true }), { netnsPath });
    now = await saveAll(netnsPath);
    assert.equal(count(now, "AWS-SNAT-CHAIN"), 0);
    assert.equal(count(now, "AWS-CONNMARK-CHAIN"), 0);
    assert.equal(count(now, "SNAT"), 0);
    assert.equal(count(now, '"AWS, primary ENI"'), 2);
  });
});
