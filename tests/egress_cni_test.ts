/**
 * egress-cni chained after aws-cni for IPv6 pods, run as a runtime runs them in a node namespace: the pod
 * gets a node-local IPv4 from 169.254.172.0/22 on v4if0, SNATed to the node's IPv4, and reaches an
 * IPv4-only server (a whoami in a "remote" namespace, which reports the source it saw). Real namespaces,
 * libnl, iptables. Root only.
 * @module
 */
import assert from "node:assert/strict";
import { Netlink } from "../ffi/mod.ts";
import { iptablesSave } from "../src/net/iptables.ts";
import { snatChain } from "../src/egress/snat.ts";
import { startWhoami } from "../src/sim/daemon_whoami.ts";
import { TestNetns } from "../harness/netns.ts";
import {
  assertErr,
  assertOk,
  EGRESS_MAIN,
  type Lab,
  nl,
  type PluginOut,
  withLab,
} from "./helpers/plugin_node.ts";
import { tcpFetch } from "./helpers/pod_tcp.ts";
import { rootOnly } from "./helpers/root.ts";

const NODE_IP = "10.0.0.5";
const REMOTE_IP = "10.0.0.9";

/** egress-cni's conflist entry as `ipamd install` writes it in IPv6 mode, with test paths. */
function egressConf(lab: Lab, prevResult?: unknown, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: "1.0.0",
    name: "aws-cni",
    type: "egress-cni",
    mtu: "9001",
    enabled: "true",
    randomizeSNAT: "prng",
    nodeIP: NODE_IP,
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: "169.254.172.0/22" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: `${lab.dir}/egress-v4-ipam`,
    },
    pluginLogFile: `${lab.dir}/egress.log`,
    pluginLogLevel: "debug",
    ...(prevResult ? { prevResult } : {}),
    ...extra,
  };
}

/** A "remote" namespace on the node's uplink: node 10.0.0.5/24 ↔ remote 10.0.0.9/24, whoami on :8080. */
async function withRemote(lab: Lab, fn: (remote: TestNetns) => Promise<void>) {
  const remote = await TestNetns.create("cr");
  try {
    await lab.node.execOk([
      "ip",
      "link",
      "add",
      "up0",
      "type",
      "veth",
      "peer",
      "name",
      "up1",
      "netns",
      remote.name,
    ]);
    await lab.node.execOk(["ip", "addr", "add", `${NODE_IP}/24`, "dev", "up0"]);
    await lab.node.execOk(["ip", "link", "set", "up0", "up"]);
    await remote.execOk(["ip", "addr", "add", `${REMOTE_IP}/24`, "dev", "up1"]);
    await remote.execOk(["ip", "link", "set", "up1", "up"]);
    const w = startWhoami(remote.name, 8080);
    try {
      await fn(remote);
    } finally {
      w.close();
    }
  } finally {
    await remote.delete();
  }
}

/** aws-cni ADD (IPv6) then egress-cni ADD with its result, as libcni chains them. */
async function addChain(
  lab: Lab,
  pod: TestNetns,
  id: string,
): Promise<{ aws: PluginOut; egress: PluginOut }> {
  const call = { pod, containerId: id, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const aws = await lab.plugin("ADD", call);
  assertOk(aws, `aws-cni ADD ${id}`);
  const egress = await lab.plugin("ADD", { ...call, entry: EGRESS_MAIN, conf: egressConf(lab, aws.json) });
  assertOk(egress, `egress-cni ADD ${id}`);
  return { aws, egress };
}

/** What egress-cni left on the node and in the pod for `ip`. */
function egressFootprint(lab: Lab, pod: TestNetns, ip: string) {
  const host = nl(lab.node, (n: Netlink) => ({
    routes: n.routeList().filter((r) => r.dst === `${ip}/32`).length,
  }));
  let v4if0: string[] = [];
  if (pod.exists()) {
    v4if0 = nl(pod, (n) => {
      const l = n.findLink("v4if0");
      return l ? n.addrList(l.index).map((a) => `${a.address}/${a.prefixLen}`) : [];
    });
  }
  let file: string | undefined;
  try {
    file = Deno.readTextFileSync(`${lab.dir}/egress-v4-ipam/aws-cni/${ip}`);
  } catch { /* released */ }
  return { hostRoutes: host.routes, v4if0, file };
}

Deno.test({
  name:
    "egress-cni: IPv6 pods get 169.254.172.x on v4if0, reach an IPv4-only server as the node; DEL removes all",
  ...rootOnly,
  fn: () =>
    withLab(["2600:1f13::10", "2600:1f13::11"], async (lab) => {
      await withRemote(lab, async () => {
        const a = await lab.pod();
        const b = await lab.pod();
        const ra = await addChain(lab, a, "ctr-a");
        const rb = await addChain(lab, b, "ctr-b");

        // the result: aws-cni's, with egress-cni's host veth and v4if0 appended, and no IPv4 in ips
        const j = ra.egress.json;
        assert.deepEqual(j.ips, ra.aws.json.ips);
        assert.equal(j.interfaces.length, 4);
        assert.match(j.interfaces[2].name, /^veth[0-9a-f]{8}$/);
        assert.equal(j.interfaces[2].sandbox, undefined);
        assert.deepEqual([j.interfaces[3].name, j.interfaces[3].sandbox], ["v4if0", a.path]);

        // addresses: host-local's order (gateway .1 skipped), in host-local's file format
        assert.deepEqual(egressFootprint(lab, a, "169.254.172.2"), {
          hostRoutes: 1,
          v4if0: ["169.254.172.2/22"],
          file: "ctr-a\r\neth0",
        });
        assert.deepEqual(egressFootprint(lab, b, "169.254.172.3").v4if0, ["169.254.172.3/22"]);
        assert.equal(
          Deno.readTextFileSync(`${lab.dir}/egress-v4-ipam/aws-cni/last_reserved_ip.0`),
          "169.254.172.3",
        );

        // the pod's IPv4 routes: the subnet only through the gateway, the default via it
        const routes = nl(a, (n) =>
          n.routeList().map((r) =>
            `${r.dst}${r.gateway ? " via " + r.gateway : ""}${r.src ? " src " + r.src : ""}`
          )
            .sort());
        assert.deepEqual(routes, [
          "169.254.172.0/22 via 169.254.172.1 src 169.254.172.2",
          "169.254.172.1/32 src 169.254.172.2",
          "default via 169.254.172.1",
        ]);
        // the host side: the gateway on the veth (scope link)
        const gw = nl(lab.node, (n) =>
          n.addrList(j.interfaces[2].name));
        assert.deepEqual(gw.map((x) => [x.address, x.prefixLen, x.scope]), [["169.254.172.1", 32, "link"]]);

        // SNAT: upstream's chain and comment
        const nat = await iptablesSave("nat", { netnsPath: lab.node.path });
        const chain = await snatChain("aws-cni", "ctr-a");
        assert.match(chain, /^CNI-E4-[0-9a-f]{21}$/);
        assert.ok(
          nat.includes(
            `-A POSTROUTING -s 169.254.172.2/32 -m comment --comment "name: \\"aws-cni\\" id: \\"ctr-a\\"" -j ${chain}`,
          ),
          nat,
        );
        assert.ok(nat.includes(`-A ${chain} -d 224.0.0.0/4 -m comment`), nat);
        assert.match(
          nat,
          new RegExp(`-A ${chain} -m comment .* -j SNAT --to-source ${NODE_IP} --random-fully`),
        );

        // real traffic: both pods reach the IPv4-only server, which sees the node's IPv4
        for (const p of [a, b]) {
          assert.equal((await tcpFetch(p.name, REMOTE_IP, 8080)).trim(), NODE_IP);
        }

        // CHECK passes, then names a missing SNAT
        const conf = egressConf(lab, j);
        assertOk(
          await lab.plugin("CHECK", { pod: a, containerId: "ctr-a", entry: EGRESS_MAIN, conf }),
          "CHECK",
        );
        await lab.node.execOk(["iptables", "-w", "-t", "nat", "-F", chain]);
        await lab.node.execOk([
          "iptables",
          "-w",
          "-t",
          "nat",
          "-D",
          "POSTROUTING",
          "-s",
          "169.254.172.2/32",
          "-m",
          "comment",
          "--comment",
          'name: "aws-cni" id: "ctr-a"',
          "-j",
          chain,
        ]);
        assertErr(
          await lab.plugin("CHECK", { pod: a, containerId: "ctr-a", entry: EGRESS_MAIN, conf }),
          105,
          /SNAT for 169\.254\.172\.2 is missing/,
        );

        // DEL (egress first, as libcni runs DEL in reverse): everything of ours goes; twice is fine
        for (let i = 0; i < 2; i++) {
          assertOk(
            await lab.plugin("DEL", { pod: a, containerId: "ctr-a", entry: EGRESS_MAIN, conf }),
            `DEL ${i}`,
          );
        }
        assert.deepEqual(egressFootprint(lab, a, "169.254.172.2"), {
          hostRoutes: 0,
          v4if0: [],
          file: undefined,
        });
        assert.ok(!(await iptablesSave("nat", { netnsPath: lab.node.path })).includes(chain));
        // b is untouched
        assert.equal((await tcpFetch(b.name, REMOTE_IP, 8080)).trim(), NODE_IP);
        // DEL with the namespace gone (empty CNI_NETNS) still releases the address and the chain
        await b.delete();
        assertOk(
          await lab.plugin("DEL", {
            netns: "",
            containerId: "ctr-b",
            entry: EGRESS_MAIN,
            conf: egressConf(lab, rb.egress.json),
          }),
          "DEL b without netns",
        );
        assert.deepEqual(egressFootprint(lab, b, "169.254.172.3"), {
          hostRoutes: 0,
          v4if0: [],
          file: undefined,
        });
        assert.ok(
          !(await iptablesSave("nat", { netnsPath: lab.node.path })).includes(
            await snatChain("aws-cni", "ctr-b"),
          ),
        );
      });
    }, { ipv6: true }),
});

Deno.test({
  name: "egress-cni: enabled=false passes the result through untouched; GC releases what is not valid",
  ...rootOnly,
  fn: () =>
    withLab(["2600:1f13::20", "2600:1f13::21", "2600:1f13::22"], async (lab) => {
      const a = await lab.pod();
      const aws = await lab.plugin("ADD", { pod: a, containerId: "off" });
      assertOk(aws, "aws-cni ADD");
      const off = await lab.plugin("ADD", {
        pod: a,
        containerId: "off",
        entry: EGRESS_MAIN,
        conf: egressConf(lab, aws.json, { enabled: "false" }),
      });
      assertOk(off, "egress ADD disabled");
      assert.deepEqual(off.json, aws.json);
      assert.equal(nl(a, (n) => n.findLink("v4if0")), undefined);

      const b = await lab.pod();
      const keep = await addChain(lab, b, "keep");
      const c = await lab.pod();
      await addChain(lab, c, "gone");
      const gc = await lab.plugin("GC", {
        entry: EGRESS_MAIN,
        conf: {
          ...egressConf(lab),
          cniVersion: "1.1.0",
          "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }],
        },
      });
      assertOk(gc, "GC");
      const files = [...Deno.readDirSync(`${lab.dir}/egress-v4-ipam/aws-cni`)].map((e) => e.name).sort();
      assert.deepEqual(files, ["169.254.172.2", "last_reserved_ip.0", "lock"]);
      const nat = await iptablesSave("nat", { netnsPath: lab.node.path });
      assert.ok(nat.includes(await snatChain("aws-cni", "keep")));
      assert.ok(!nat.includes(await snatChain("aws-cni", "gone")));
      assert.ok(keep.egress.json.interfaces.length === 4);
    }, { ipv6: true }),
});
