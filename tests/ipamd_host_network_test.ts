/** ipamd's host wiring through netlink, inside a throwaway namespace playing the node. */
import assert from "node:assert/strict";
import { Netlink } from "../ffi/mod.ts";
import { HostNetwork } from "../src/ipamd/host_network.ts";
import { rootOnly } from "./helpers/root.ts";

async function ip(...args: string[]): Promise<string> {
  const r = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return new TextDecoder().decode(r.stdout);
}

Deno.test(
  { name: "host network: ENI wiring is complete, idempotent, and torn down", ...rootOnly },
  async () => {
    const ns = `ipamd-hn-${crypto.randomUUID().slice(0, 8)}`;
    await ip("netns", "add", ns);
    const nl = Netlink.open(`/var/run/netns/${ns}`);
    try {
      const mac = "02:aa:bb:cc:dd:01";
      nl.vethAdd({ name: "eth1", peerName: "eth1peer", mac });
      const link = nl.linkByName("eth1");
      nl.addrAdd(link.index, "10.0.9.9/24"); // a stale address that must be flushed
      const host = new HostNetwork(nl);
      assert.ok(host.linkPresent(mac.toUpperCase()));
      assert.ok(!host.linkPresent("02:00:00:00:00:99"));
      const eni = { mac, primaryIp: "10.0.0.20", subnetCidr: "10.0.0.0/20", deviceNumber: 1 };
      host.setupNode({ fwmark: 0x80 });
      host.setupEni(eni, 9001);
      host.setupNode({ fwmark: 0x80 });
      host.setupEni(eni, 9001); // twice: no error, no duplicates
      const n = ["netns", "exec", ns, "ip"];
      const addrs = await ip(...n, "-4", "addr", "show", "eth1");
      assert.match(addrs, /inet 10\.0\.0\.20\/20/);
      assert.doesNotMatch(addrs, /10\.0\.9\.9/);
      assert.match(addrs, /mtu 9001/);
      assert.match(addrs, /state (UP|LOWERLAYERDOWN)|<[^>]*\bUP\b/);
      const table = await ip(...n, "route", "show", "table", "2");
      assert.match(table, /^default via 10\.0\.0\.1 dev eth1/m);
      assert.match(table, /^10\.0\.0\.1 dev eth1 scope link/m);
      const main = await ip(...n, "route", "show", "table", "main");
      assert.doesNotMatch(main, /10\.0\.0\.0\/20/);
      const rules = await ip(...n, "rule", "show");
      assert.equal(rules.split("\n").filter((l) => /^32765:\s+from 10\.0\.0\.20 lookup 2/.test(l)).length, 1);
      assert.equal(
        rules.split("\n").filter((l) => /^1024:\s+from all fwmark 0x80\/0x80 lookup main/.test(l)).length,
        1,
      );

      // A dropped pod's wiring (set up as aws-cni would) goes away.
      await ip(...n, "route", "add", "10.0.0.33/32", "dev", "eth1", "scope", "link");
      await ip(...n, "rule", "add", "priority", "512", "to", "10.0.0.33", "lookup", "main");
      await ip(...n, "rule", "add", "priority", "1536", "from", "10.0.0.33", "lookup", "2");
      host.removePodWiring("10.0.0.33", 2);
      host.removePodWiring("10.0.0.33", 2);
      assert.doesNotMatch(await ip(...n, "rule", "show"), /10\.0\.0\.33/);
      assert.doesNotMatch(await ip(...n, "route", "show"), /10\.0\.0\.33/);

      host.teardownEni(eni);
      host.teardownEni(eni);
      assert.doesNotMatch(await ip(...n, "rule", "show"), /lookup 2/);
      assert.equal((await ip(...n, "route", "show", "table", "2")).trim(), "");
    } finally {
      nl.close();
      await ip("netns", "del", ns);
    }
  },
);

Deno.test(
  {
    name: "host network: primary MTU, the fwmark rule's mark, external service rules; stale ones go",
    ...rootOnly,
  },
  async () => {
    const ns = `ipamd-hn-${crypto.randomUUID().slice(0, 8)}`;
    await ip("netns", "add", ns);
    const nl = Netlink.open(`/var/run/netns/${ns}`);
    try {
      const mac = "02:aa:bb:cc:dd:00";
      nl.vethAdd({ name: "eth0", peerName: "eth0peer", mac, mtu: 9001 });
      const host = new HostNetwork(nl);
      const n = ["netns", "exec", ns, "ip"];
      const rules = async (prio: number) =>
        (await ip(...n, "rule", "show")).split("\n").filter((l) => l.startsWith(`${prio}:`)).map((l) =>
          l.replace(/\s+/g, " ").trim()
        );
      host.setupNode({ primaryMac: mac, mtu: 1500, fwmark: 0x80, externalServiceCidrs: ["203.0.113.9/24"] });
      assert.match(await ip(...n, "link", "show", "eth0"), /mtu 1500/);
      assert.deepEqual(await rules(1024), ["1024: from all fwmark 0x80/0x80 lookup main"]);
      assert.deepEqual(await rules(1535), ["1535: from all to 203.0.113.0/24 lookup main"]);
      // A restart with other settings: the new mark replaces the old one; a CIDR no longer listed goes.
      host.setupNode({ fwmark: 0x4000, externalServiceCidrs: ["198.51.100.7/32"] });
      host.setupNode({ fwmark: 0x4000, externalServiceCidrs: ["198.51.100.7/32"] });
      assert.deepEqual(await rules(1024), ["1024: from all fwmark 0x4000/0x4000 lookup main"]);
      assert.deepEqual(await rules(1535), ["1535: from all to 198.51.100.7 lookup main"]);
      // No fwmark (external SNAT without NodePort support) and no CIDRs: nothing of ours is left.
      host.setupNode({});
      assert.deepEqual(await rules(1024), []);
      assert.deepEqual(await rules(1535), []);
    } finally {
      nl.close();
      await ip("netns", "del", ns);
    }
  },
);
