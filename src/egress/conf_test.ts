import assert from "node:assert/strict";
import { CniError } from "../cni/spec.ts";
import { parseEgressConf } from "./conf.ts";

const base = {
  cniVersion: "1.0.0",
  name: "aws-cni",
  type: "egress-cni",
  enabled: "true",
  nodeIP: "10.0.0.5",
  ipam: {
    type: "host-local",
    ranges: [[{ subnet: "169.254.172.0/22" }]],
    dataDir: "/run/cni/v6pd/egress-v4-ipam",
  },
};

function code7(raw: Record<string, unknown>, re: RegExp) {
  assert.throws(
    () => parseEgressConf(raw, "ADD"),
    (e) => e instanceof CniError && e.code === 7 && re.test(e.message),
  );
}

Deno.test("egress conf: upstream's keys and defaults", () => {
  const c = parseEgressConf(base, "ADD");
  assert.equal(c.enabled, true);
  assert.equal(c.nodeIp, "10.0.0.5");
  assert.equal(c.randomizeSnat, "prng");
  assert.equal(c.mtu, 9001);
  assert.deepEqual(c.routes, ["0.0.0.0/0"]);
  assert.equal(c.dataDir, "/run/cni/v6pd/egress-v4-ipam");
  assert.equal(c.pluginLogFile, "/var/log/aws-routed-eni/egress-v4-plugin.log");
  assert.equal(c.range.gateway, "169.254.172.1");
  assert.equal(parseEgressConf({ ...base, enabled: "false" }, "ADD").enabled, false);
  assert.equal(parseEgressConf({ ...base, mtu: "1500", randomizeSNAT: "none" }, "ADD").mtu, 1500);
  // Ours: the iptables backend ipamd detected; without it, the host's plain `iptables`.
  assert.equal(c.iptablesBackend, undefined);
  assert.equal(parseEgressConf({ ...base, iptablesBackend: "legacy" }, "ADD").iptablesBackend, "legacy");
  assert.equal(parseEgressConf({ ...base, iptablesBackend: "nft" }, "DEL").iptablesBackend, "nft");
});

Deno.test("egress conf: bad values are code 7 naming the key", () => {
  code7({ ...base, enabled: "yes" }, /enabled/);
  code7({ ...base, nodeIP: "10.0.0" }, /nodeIP/);
  code7({ ...base, nodeIP: "2600::1" }, /IPv6 egress/);
  code7({ ...base, randomizeSNAT: "sometimes" }, /randomizeSNAT/);
  code7({ ...base, iptablesBackend: "xtables" }, /iptablesBackend "xtables" is not legacy or nft/);
  code7({ ...base, ipam: undefined }, /ipam is missing/);
  code7({ ...base, ipam: { ...base.ipam, type: "dhcp" } }, /host-local/);
  code7({ ...base, ipam: { ...base.ipam, ranges: [[{ subnet: "fd00::ac:00/118" }]] } }, /not an IPv4 CIDR/);
  code7(
    { ...base, ipam: { ...base.ipam, ranges: [[{ subnet: "169.254.172.0/22", gateway: "10.0.0.1" }]] } },
    /outside/,
  );
  code7({ ...base, ipam: { ...base.ipam, dataDir: "relative" } }, /dataDir/);
});
