/**
 * ipamd in IPv6 mode on a test node: one /80 on the primary ENI (assigned at start when it has none), pods'
 * /128s from it with no further EC2 call, host rules as upstream's, checkpoint and restart, refusals.
 */
import assert from "node:assert/strict";
import { hostVethName } from "../src/common/veth_name.ts";
import { cidr6Contains } from "../src/net/ipv6.ts";
import { rootOnly } from "./helpers/root.ts";
import { SUBNET_IPV6, TestNode, VPC_IPV6 } from "./helpers/ipamd_node.ts";
import { testPod } from "./helpers/ipamd_client.ts";

const V6 = { ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" };

/** EC2 calls that change something (every action but Describe*). */
function mutations(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => !k.startsWith("Describe")));
}

Deno.test(
  {
    name: "ipamd IPv6: one /80 on the primary ENI; 100 pods get /128s from it with no EC2 call",
    ...rootOnly,
  },
  async () => {
    const node = await TestNode.create({ ipv6: true });
    try {
      const d = await node.start(V6);
      const [primary] = await node.ec2.describeNetworkInterfaces({
        filters: [{ name: "attachment.instance-id", values: [node.instanceId] }],
      });
      assert.equal(primary.ipv6Prefixes?.length, 1, "AssignIpv6Addresses Ipv6PrefixCount=1 at start");
      const prefix = primary.ipv6Prefixes![0];
      assert.ok(prefix.endsWith("/80") && cidr6Contains(SUBNET_IPV6, prefix.split("/")[0]), prefix);
      assert.deepEqual(mutations(node.model.calls), { AssignIpv6Addresses: 1 });
      const before = { ...node.model.calls };

      const ips = new Set<string>();
      for (let batch = 0; batch < 4; batch++) {
        const replies = await Promise.all(
          Array.from({ length: 25 }, (_, i) => node.call("/v1/add-network", testPod(batch * 25 + i))),
        );
        for (const r of replies) {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(r.body.ipv4, "");
          assert.ok(cidr6Contains(prefix, r.body.ipv6), `${r.body.ipv6} in ${prefix}`);
          assert.deepEqual([r.body.deviceNumber, r.body.routeTable], [0, 254]);
          assert.deepEqual(r.body.vpcCidrs, [VPC_IPV6]);
          ips.add(r.body.ipv6);
        }
      }
      assert.equal(ips.size, 100, "no /128 handed out twice");
      assert.ok(ips.has(prefix.replace(/\/80$/, "")), "the prefix's first address comes first, as upstream");
      assert.deepEqual(node.model.calls, before, "no EC2 call (not even a Describe) for 100 pods");
      assert.equal(d.driver.lastPlan?.actions.length, 0);

      // Status, introspection and metrics see the /80 and its pods.
      const pool = (await node.call("/v1/pool")).body;
      assert.deepEqual(pool.enis.map((e: { ipv6Prefixes: string[] }) => e.ipv6Prefixes), [[prefix]]);
      assert.deepEqual(pool.totals, { total: 2 ** 48, assigned: 100, cooling: 0, free: 2 ** 48 - 100 });
      const enis = await (await fetch(`http://${hostPort(d.introspectionAddr!)}/v1/enis`)).json();
      // Upstream's shape: the /80 under IPv6Cidrs, with the addresses in use.
      const v6 = enis.ENIs[primary.networkInterfaceId].IPv6Cidrs[prefix];
      assert.equal(v6.AddressFamily, "6");
      assert.equal(Object.keys(v6.IPAddresses).length, 100);
      const pods = await (await fetch(`http://${hostPort(d.introspectionAddr!)}/v1/pods`)).json();
      assert.ok(Object.values(pods).every((p) => ips.has((p as { ipv6: string }).ipv6)));
      const metrics = await (await fetch(`http://${hostPort(d.metricsAddr!)}/metrics`)).text();
      assert.match(metrics, /^awscni_assigned_ip_addresses 100$/m);
      assert.match(metrics, new RegExp(`^awscni_assigned_ip_per_cidr\\{cidr="${prefix}"\\} 100$`, "m"));

      // Checkpoint: upstream's entry with ipv6 (no ipv4).
      const saved = JSON.parse(await Deno.readTextFile(`${node.dir}/ipam.json`));
      assert.equal(saved.allocations.length, 100);
      assert.ok(saved.allocations.every((a: Record<string, string>) => ips.has(a.ipv6) && !("ipv4" in a)));

      // DEL and GC release /128s, which cool down before they are handed out again.
      const del = await node.call("/v1/del-network", testPod(0));
      assert.equal(del.body.released, true);
      assert.equal(del.body.ipv4, "");
      assert.ok(ips.has(del.body.ipv6));
      const again = await node.call("/v1/add-network", testPod(200));
      assert.notEqual(again.body.ipv6, del.body.ipv6, "a released /128 cools down");
      const gc = await node.call("/v1/gc", {
        netName: "aws-cni",
        valid: Array.from(
          { length: 99 },
          (_, i) => ({ containerId: testPod(i + 1).containerId, ifName: "eth0" }),
        ),
      });
      assert.deepEqual(gc.body.released.map((x: { ipv6: string }) => x.ipv6), [again.body.ipv6]);

      // Host: IPv6 fwmark rule, the node-local IPv4 block, no SNAT.
      assert.match(
        await node.exec("ip", "-6", "rule", "show"),
        /^1024:\s+from all fwmark 0x80\/0x80 lookup main/m,
      );
      assert.doesNotMatch(await node.exec("ip", "-4", "rule", "show"), /fwmark/);
      const filter = await node.exec("iptables-save", "-t", "filter");
      assert.match(
        filter,
        /^-A FORWARD -d 169\.254\.172\.0\/22 -m conntrack --ctstate NEW -m comment --comment "Block Node Local Pod access via IPv4" -j REJECT/m,
      );
      assert.doesNotMatch(await node.exec("iptables-save", "-t", "nat"), /AWS-SNAT/);
      assert.doesNotMatch(await node.exec("ip6tables-save"), /SNAT|MASQUERADE/);
    } finally {
      await node.close();
    }
  },
);

function hostPort(a: Deno.NetAddr): string {
  return `${a.hostname}:${a.port}`;
}

Deno.test(
  {
    name: "ipamd IPv6: a restart keeps live pods' /128s and the prefix; no EC2 change, rules not doubled",
    ...rootOnly,
  },
  async () => {
    const node = await TestNode.create({ ipv6: true });
    try {
      await node.start(V6);
      const held = new Map<number, string>();
      for (let i = 0; i < 6; i++) held.set(i, (await node.call("/v1/add-network", testPod(i))).body.ipv6);
      // Pods 0..3 live on (their host veth exists); 4 and 5 vanished while ipamd was down.
      for (let i = 0; i < 4; i++) {
        const name = hostVethName("eni", { namespace: "default", name: `pod-${i}`, containerId: "" });
        node.nl.vethAdd({ name, peerName: `pp${i}-${node.ns.slice(-6)}` });
      }
      const gone = held.get(5)!;
      await node.exec("ip", "-6", "rule", "add", "priority", "512", "to", gone, "lookup", "main");
      const filterBefore = await node.exec("iptables-save", "-t", "filter");
      const rulesBefore = await node.exec("ip", "-6", "rule", "show");
      const callsBefore = mutations(node.model.calls);
      await node.stop();

      await node.start(V6);
      for (let i = 0; i < 4; i++) {
        const c = await node.call("/v1/check-network", testPod(i));
        assert.deepEqual([c.body.held, c.body.ipv6], [true, held.get(i)], `pod ${i} restored`);
      }
      for (const i of [4, 5]) {
        assert.equal((await node.call("/v1/check-network", testPod(i))).body.held, false);
      }
      assert.deepEqual(mutations(node.model.calls), callsBefore, "the prefix EC2 lists is reused");
      const fresh = await node.call("/v1/add-network", testPod(10));
      assert.ok(
        ![0, 1, 2, 3].some((i) => held.get(i) === fresh.body.ipv6),
        "a live pod's /128 is not reused",
      );
      const strip = (s: string) => s.replace(/^#.*\n/gm, "").replace(/\[\d+:\d+\]/g, "");
      assert.equal(strip(await node.exec("iptables-save", "-t", "filter")), strip(filterBefore));
      const rulesAfter = await node.exec("ip", "-6", "rule", "show");
      assert.equal(rulesAfter, rulesBefore.split("\n").filter((l) => !l.includes(`to ${gone} `)).join("\n"));
    } finally {
      await node.close();
    }
  },
);

Deno.test(
  { name: "ipamd IPv6: start-up is refused on a subnet without IPv6, naming the cause", ...rootOnly },
  async () => {
    const node = await TestNode.create({ ipv6: { subnet: false } });
    try {
      await assert.rejects(
        () => node.start(V6),
        (e: Error) =>
          /IPv6 mode: no IPv6 prefix on the primary ENI eni-/.test(e.message) && /IPv6/.test(e.message),
      );
    } finally {
      await node.close();
    }
  },
);
