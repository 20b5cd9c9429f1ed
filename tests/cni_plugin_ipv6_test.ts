/**
 * aws-cni with IPv6 pods (ipamd in IPv6 mode answers `ipv6`), run as a runtime runs it in a node namespace
 * against the fake ipamd, with real namespaces, real libnl and real ping. Root only.
 *
 * Upstream's IPv6 pod wiring: `IP/128` on the pod interface, a link route to fe80::1, the default route via
 * fe80::1, a permanent NDP entry fe80::1 → host veth MAC, IPv6 enabled on the pod interface and lo, the host
 * veth's accept_ra=0/accept_redirects=1/forwarding=0; on the host `IP/128` to the veth and rule 512
 * `to IP/128 lookup main`; ADD returns once duplicate address detection has finished.
 * @module
 */
import assert from "node:assert/strict";
import { sysctlRead } from "../ffi/mod.ts";
import { Netns } from "../ffi/mod.ts";
import type { TestNetns } from "../harness/netns.ts";
import {
  assertErr,
  assertHostVethSysctls,
  assertOk,
  expectedVeth,
  type Lab,
  nl,
  type PluginOut,
  VERSIONS,
  withLab,
} from "./helpers/plugin_node.ts";
import { rootOnly } from "./helpers/root.ts";

const IP_A = "2600:1f13:b66:8203:34e5::";
const IP_B = "2600:1f13:b66:8203:34e5::1";

/** Everything on the node that mentions the IPv6 `ip` or the veth. */
function hostState6(node: TestNetns, ip: string, veth: string) {
  return nl(node, (n) => ({
    link: n.findLink(veth),
    routes: n.routeList({ table: 0, family: 6 }).filter((r) => r.dst === `${ip}/128`)
      .map((r) => ({ table: r.table, ifindex: r.ifindex })),
    rules: n.ruleList({ family: 6 }).filter((r) => r.src === `${ip}/128` || r.dst === `${ip}/128`)
      .map((r) => ({ priority: r.priority, dst: r.dst, table: r.table })),
  }));
}

function assertHostClean6(node: TestNetns, ip: string, veth: string): void {
  assert.deepEqual(hostState6(node, ip, veth), { link: undefined, routes: [], rules: [] });
}

/** Verifies the pod and host wiring of an IPv6 ADD result, as upstream wires it. */
function assertWired6(lab: Lab, pod: TestNetns, res: PluginOut, ip: string, vethKey: string) {
  const veth = expectedVeth(vethKey);
  const hostMac = res.json.interfaces[0].mac;
  assert.equal(res.json.interfaces[0].name, veth);
  const hs = hostState6(lab.node, ip, veth);
  assert.ok(hs.link?.up, `host veth ${veth} up`);
  assert.deepEqual(hs.routes, [{ table: 254, ifindex: hs.link!.index }]);
  assert.deepEqual(hs.rules, [{ priority: 512, dst: `${ip}/128`, table: 254 }]);
  assertHostVethSysctls(lab.node, veth);
  const podNs = Netns.open(pod.path);
  try {
    assert.equal(sysctlRead("net/ipv6/conf/eth0/disable_ipv6", podNs), "0");
    assert.equal(sysctlRead("net/ipv6/conf/lo/disable_ipv6", podNs), "0");
  } finally {
    podNs.close();
  }
  nl(pod, (n) => {
    const eth0 = n.linkByName("eth0");
    assert.ok(eth0.up);
    assert.equal(eth0.mac, res.json.interfaces[1].mac);
    const v6 = n.addrList(eth0.index, { family: 6 });
    assert.deepEqual(v6.filter((a) => a.scope === "universe").map((a) => `${a.address}/${a.prefixLen}`), [
      `${ip}/128`,
    ]);
    assert.ok(!v6.some((a) => a.tentative || a.dadFailed), "DAD has finished when ADD answers");
    assert.deepEqual(n.addrList(eth0.index), [], "no IPv4 address on an IPv6 pod");
    // routes we added (the kernel's own, protocol 2, cover fe80::/64 and the address itself)
    const routes = n.routeList({ family: 6 }).filter((r) => r.ifindex === eth0.index && r.protocol !== 2)
      .map((r) => ({ dst: r.dst, gw: r.gateway }));
    assert.deepEqual(routes.sort((a, b) => a.dst.localeCompare(b.dst)), [
      { dst: "default", gw: "fe80::1" },
      { dst: "fe80::1/128", gw: undefined },
    ]);
    const neigh = n.neighList(eth0.index, { family: 6 }).filter((x) => x.ip === "fe80::1");
    assert.deepEqual(neigh.map((x) => [x.mac, x.state & 0x80]), [[hostMac, 0x80]]);
  });
}

Deno.test({
  name:
    "IPv6: ADD wires as upstream; pods ping6 the node and each other; CHECK; DEL cleans and is idempotent",
  ...rootOnly,
  fn: () =>
    withLab([IP_A, IP_B], async (lab) => {
      const a = await lab.pod();
      const b = await lab.pod();
      const ra = await lab.plugin("ADD", { pod: a, containerId: `a-${lab.id}` });
      assertOk(ra, "ADD a");
      const rb = await lab.plugin("ADD", {
        pod: b,
        containerId: `b-${lab.id}`,
        args: `K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=b-${lab.id};IgnoreUnknown=1`,
      });
      assertOk(rb, "ADD b");
      assertWired6(lab, a, ra, IP_A, `default.web-${lab.id}`);
      assertWired6(lab, b, rb, IP_B, `kube-system.b-${lab.id}`);
      assert.deepEqual(ra.json.ips, [{ address: `${IP_A}/128`, gateway: "fe80::1", interface: 1 }]);

      // real traffic: pod → node, node → pod, pod → pod (through the node)
      for (const [ns, to] of [[a, "2600:1f13::a"], [b, IP_A], [a, IP_B]] as const) {
        const r = await ns.exec(["busybox", "ping", "-c", "1", "-W", "5", to]);
        assert.equal(r.code, 0, `ping6 ${to} from ${ns.name}: ${r.stdout}${r.stderr}`);
      }
      const back = await lab.node.exec(["busybox", "ping", "-c", "1", "-W", "5", IP_B]);
      assert.equal(back.code, 0, back.stdout + back.stderr);

      // CHECK passes, then names what was taken away
      const conf = lab.conf("1.0.0", { prevResult: ra.json });
      assertOk(await lab.plugin("CHECK", { pod: a, containerId: `a-${lab.id}`, conf }), "CHECK");
      await a.execOk(["ip", "-6", "route", "del", "default", "via", "fe80::1", "dev", "eth0"]);
      assertErr(
        await lab.plugin("CHECK", { pod: a, containerId: `a-${lab.id}`, conf }),
        105,
        /pod default route via fe80::1 is missing/,
      );

      // DEL removes the host side and the IPv6 rules; twice is fine
      for (let i = 0; i < 2; i++) {
        assertOk(await lab.plugin("DEL", { pod: a, containerId: `a-${lab.id}`, conf }), `DEL ${i}`);
      }
      assertHostClean6(lab.node, IP_A, ra.json.interfaces[0].name);
      assert.equal(lab.fake.held.size, 1);
    }, { ipv6: true }),
});

Deno.test({
  name: "IPv6: every supported cniVersion carries the IPv6 address (0.x with version 6), CHECK and DEL by it",
  ...rootOnly,
  fn: () =>
    withLab([IP_A], async (lab) => {
      for (const v of VERSIONS) {
        const p = await lab.pod();
        const r = await lab.plugin("ADD", { pod: p, conf: lab.conf(v) });
        assertOk(r, `ADD ${v}`);
        const ip: Record<string, unknown> = { address: `${IP_A}/128`, gateway: "fe80::1", interface: 1 };
        if (v.startsWith("0.")) ip.version = "6";
        assert.deepEqual(r.json.ips, [ip], v);
        assert.deepEqual(r.json.routes, [{ dst: "::/0", gw: "fe80::1" }]);
        if (v !== "0.3.0" && v !== "0.3.1") {
          assertOk(
            await lab.plugin("CHECK", { pod: p, conf: lab.conf(v, { prevResult: r.json }) }),
            `CHECK ${v}`,
          );
        }
        assertOk(await lab.plugin("DEL", { pod: p, conf: lab.conf(v, { prevResult: r.json }) }), `DEL ${v}`);
        assertHostClean6(lab.node, IP_A, r.json.interfaces[0].name);
      }
    }, { ipv6: true }),
});

Deno.test({
  name:
    "IPv6: with ipamd down DEL tears down from prevResult, and without prevResult from the veth's /128 route",
  ...rootOnly,
  fn: () =>
    withLab([IP_A, IP_B], async (lab) => {
      const a = await lab.pod();
      const b = await lab.pod();
      const ra = await lab.plugin("ADD", { pod: a, containerId: `a-${lab.id}`, args: "K8S_POD_NAME=a" });
      const rb = await lab.plugin("ADD", { pod: b, containerId: `b-${lab.id}`, args: "K8S_POD_NAME=b" });
      assertOk(ra, "ADD a");
      assertOk(rb, "ADD b");
      await lab.fake.stop();
      const da = await lab.plugin("DEL", {
        pod: a,
        containerId: `a-${lab.id}`,
        args: "K8S_POD_NAME=a",
        conf: lab.conf("1.0.0", { prevResult: ra.json }),
      });
      assertOk(da, "DEL a from prevResult");
      assertHostClean6(lab.node, IP_A, ra.json.interfaces[0].name);
      const db = await lab.plugin("DEL", { pod: b, containerId: `b-${lab.id}`, args: "K8S_POD_NAME=b" });
      assertOk(db, "DEL b without prevResult");
      assertHostClean6(lab.node, IP_B, rb.json.interfaces[0].name);
    }, { ipv6: true }),
});

Deno.test({
  name: "IPv6: GC releases what is not valid and removes its host side (found by the /128 route)",
  ...rootOnly,
  fn: () =>
    withLab([IP_A, IP_B], async (lab) => {
      const a = await lab.pod();
      const b = await lab.pod();
      const ra = await lab.plugin("ADD", { pod: a, containerId: "keep", args: "K8S_POD_NAME=keep" });
      const rb = await lab.plugin("ADD", { pod: b, containerId: "gone", args: "K8S_POD_NAME=gone" });
      assertOk(ra, "ADD keep");
      assertOk(rb, "ADD gone");
      const gc = await lab.plugin("GC", {
        conf: lab.conf("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }] }),
      });
      assertOk(gc, "GC");
      assertHostClean6(lab.node, IP_B, rb.json.interfaces[0].name);
      assertWired6(lab, a, ra, IP_A, "keep");
      assert.deepEqual([...lab.fake.held.values()].map((h) => h.ip.ipv6), [IP_A]);
    }, { ipv6: true }),
});
