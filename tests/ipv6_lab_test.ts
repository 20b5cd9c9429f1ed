/**
 * An IPv6 cluster on a dual-stack lab (`lab up --ipv6`: the VPC's /56, each subnet a /64, nodes with an IPv6
 * address, ipamd in IPv6 mode, egress-cni chained after aws-cni), proven with real clients:
 * - each node's primary ENI carries one /80 (EC2 and IMDS agree), and 100 pod addresses on one node take no
 *   EC2 call after it;
 * - pods attached through libcni (the Go driver, libcni v1.3) at every spec version get a /128 from their
 *   node's /80; pods on two nodes ping6 each other, reach the IPv6 whoami with their own /128 and the
 *   IPv4-only whoami through egress-cni, which sees the node's IPv4;
 * - the same through podman 4.3 (CNI backend);
 * - a pod sending from an address of another node's /80 is dropped by the VPC router (its counter moves);
 * - restarting ipamd with live IPv6 pods loses nothing; DEL and `podman rm -f` leave nothing behind.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { inNetns, libcni, randomSuffix, sh } from "../harness/libcni.ts";
import { PodmanEnv } from "./helpers/podman.ts";
import {
  ipamdGet,
  ipamdHeld,
  labStatus,
  setIpamdRunning,
  type TestLab,
  waitIpamdReady,
  withLab,
} from "./helpers/lab.ts";
import { type LabPod, LabPods } from "./helpers/libcni_lab.ts";
import { cidr6Contains } from "../src/net/ipv6.ts";
import { unixFetch } from "../src/common/unix_fetch.ts";
import { LAB_NET } from "../src/sim/naming.ts";

// deno-lint-ignore no-explicit-any -- CNI results and ipamd answers are JSON, checked field by field
type Json = any;

const WHOAMI6 = `http://[${LAB_NET.inetHostIp6}]:${LAB_NET.whoamiPort}/`;
const WHOAMI4 = `http://${LAB_NET.inetHostIp}:${LAB_NET.whoamiPort}/`;

/** Each node's /80, as its ipamd holds it. */
async function prefixes(lab: TestLab): Promise<string[]> {
  const out: string[] = [];
  for (const n of lab.status.nodes) {
    const pool = (await ipamdGet(lab, n.index, "/v1/pool")).body;
    assert.equal(pool.enis.length, 1, "IPv6 mode: the primary ENI only");
    assert.equal(pool.enis[0].ipv6Prefixes.length, 1);
    out.push(pool.enis[0].ipv6Prefixes[0]);
  }
  return out;
}

/** The EC2 calls node i's ipamd made so far (all actions). */
async function ec2Calls(lab: TestLab, node: number): Promise<Record<string, number>> {
  return (await labStatus(lab.stateDir)).nodes[node].ec2Calls;
}

/** What a pod namespace reaches: ping6 to `peer`, and the address each whoami saw. */
async function reach(ns: string, peer: string): Promise<{ ping: string; seen6: string; seen4: string }> {
  const ping = await inNetns(ns, ["busybox", "ping", "-6", "-c", "1", "-W", "3", peer]);
  const seen6 = (await inNetns(ns, ["curl", "-s", "-m", "5", WHOAMI6])).trim();
  const seen4 = (await inNetns(ns, ["curl", "-s", "-m", "5", WHOAMI4])).trim();
  return { ping, seen6, seen4 };
}

/** The pod's IPv6 address from a CNI result (every version here lists addresses in `ips`). */
function podIpv6(result: Json): string {
  const a = (result.ips as Json[]).map((x) => x.address as string).find((x) => x.includes(":"));
  assert.ok(a?.endsWith("/128"), `an IPv6 /128 in ${JSON.stringify(result.ips)}`);
  return a!.replace(/\/128$/, "");
}

Deno.test({
  name: "IPv6 lab: a /80 per node, libcni and podman pods ping6 across nodes, reach IPv6 and IPv4 (egress)",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 2, latency: "none", ipv6: true }, async (lab) => {
      await Promise.all([waitIpamdReady(lab, 0), waitIpamdReady(lab, 1)]);
      const cache = await Deno.makeTempDir({ prefix: "vct-ipv6-cache-" });
      const pods = new LabPods(lab, cache);
      const envs: PodmanEnv[] = [];
      try {
        assert.equal(lab.status.ipv6, true);
        const [p0, p1] = await prefixes(lab);
        for (const [i, p] of [p0, p1].entries()) {
          assert.match(p, /\/80$/);
          assert.ok(cidr6Contains(LAB_NET.nodeSubnetIpv6, p.split("/")[0]), `${p} in the node subnet`);
          const [eni] = (await (await lab.fetch("/ec2/", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({
              Action: "DescribeNetworkInterfaces",
              Version: "2016-11-15",
              "Filter.1.Name": "attachment.instance-id",
              "Filter.1.Value.1": lab.status.nodes[i].instanceId,
            }).toString(),
          })).text()).match(/<ipv6PrefixSet>[\s\S]*?<\/ipv6PrefixSet>/) ?? [""];
          assert.ok(eni.includes(`<ipv6Prefix>${p}</ipv6Prefix>`), `EC2 lists ${p} on node ${i}'s ENI`);
          assert.deepEqual((await ec2Calls(lab, i)).AssignIpv6Addresses, 1);
        }

        // libcni: one pod per spec version, alternating nodes.
        const versions = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"];
        const made: (LabPod & { v6: string; result: Json })[] = [];
        for (const [i, v] of versions.entries()) {
          const pod = await pods.make(`v6-${i}`, { cniVersion: v }, i % 2);
          const result = await libcni<Json>("add", pod.opts);
          const v6 = podIpv6(result);
          assert.ok(cidr6Contains(i % 2 ? p1 : p0, v6), `${v} result: ${v6} in its node's /80`);
          const names = (result.interfaces as Json[]).map((x) => x.name);
          assert.ok(names.includes("v4if0"), `${v} result lists egress-cni's v4if0: ${names}`);
          assert.match(await inNetns(pod.ns, ["ip", "-6", "addr", "show", "eth0"]), new RegExp(`${v6}/128`));
          assert.match(
            await inNetns(pod.ns, ["ip", "-4", "addr", "show", "v4if0"]),
            /169\.254\.17[2-5]\.\d+\/22/,
          );
          made.push({ ...pod, v6, result });
        }
        const nodeIp = (i: number) => lab.status.nodes[i].primaryIp;
        for (const [i, pod] of made.entries()) {
          const peer = made[(i + 1) % made.length]; // on the other node
          const r = await reach(pod.ns, peer.v6);
          assert.match(r.ping, / 0% packet loss/, `pod ${i} → ${peer.v6}`);
          assert.equal(r.seen6, pod.v6, "the IPv6 whoami sees the pod's own /128 (no SNAT)");
          assert.equal(r.seen4, nodeIp(pod.node), "the IPv4-only whoami sees the node's IPv4 (egress-cni)");
        }
        // CHECK exists from 0.4.0 on.
        for (const pod of made.filter((p) => p.opts.cniVersion !== "0.3.1")) await libcni("check", pod.opts);

        // A pod sending from an address of the other node's /80 is dropped at the VPC router.
        const spoofer = made[0];
        const stolen = `${p1.split("::")[0]}::beef`;
        const drops = (await labStatus(lab.stateDir)).srcDstDropsV6!;
        await inNetns(spoofer.ns, ["ip", "-6", "addr", "add", `${stolen}/128`, "dev", "eth0", "nodad"]);
        const spoofed = await sh([
          "nsenter",
          `--net=/var/run/netns/${spoofer.ns}`,
          "--",
          "sh",
          "-c",
          `busybox ping -6 -c 2 -W 1 -I ${stolen} ${LAB_NET.inetHostIp6} || true`,
        ]);
        assert.match(spoofed, / 100% packet loss/);
        assert.ok(
          (await labStatus(lab.stateDir)).srcDstDropsV6! >= drops + 2,
          "the router's check dropped them",
        );
        await inNetns(spoofer.ns, ["ip", "-6", "addr", "del", `${stolen}/128`, "dev", "eth0"]);
        assert.match(
          await inNetns(spoofer.ns, ["busybox", "ping", "-6", "-c", "1", "-W", "3", LAB_NET.inetHostIp6]),
          / 0% packet loss/,
          "its own /128 still goes through",
        );

        // ipamd restarts with the pods alive: every /128 still held, traffic still flows.
        const before = [await ipamdHeld(lab, 0), await ipamdHeld(lab, 1)];
        await setIpamdRunning(lab, 0, false);
        await setIpamdRunning(lab, 0, true);
        assert.deepEqual(await ipamdHeld(lab, 0), before[0]);
        assert.equal((await ec2Calls(lab, 0)).AssignIpv6Addresses, 1, "the restart reuses the /80");
        assert.match((await reach(made[0].ns, made[1].v6)).ping, / 0% packet loss/);

        // 100 pod addresses on node 1 through its ipamd socket: no EC2 call after the prefix.
        const calls = await ec2Calls(lab, 1);
        const sock = lab.status.nodes[1].ipamdSocket;
        const post = (path: string, body: Json) =>
          unixFetch(sock, path, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
        const key = (i: number) => ({ netName: "aws-cni", containerId: `bulk-${i}`, ifName: "eth0" });
        for (let batch = 0; batch < 4; batch++) {
          const got = await Promise.all(
            Array.from({ length: 25 }, (_, j) => post("/v1/add-network", key(batch * 25 + j))),
          );
          for (const g of got) assert.ok(cidr6Contains(p1, g.ipv6), JSON.stringify(g));
        }
        assert.equal((await ipamdHeld(lab, 1)).size, 100 + before[1].size);
        assert.deepEqual(await ec2Calls(lab, 1), calls, "100 pods, no EC2 call");
        for (let i = 0; i < 100; i++) await post("/v1/del-network", key(i));

        // podman 4.3 (CNI backend) with each node's conflist.
        for (const n of lab.status.nodes) {
          const env = await PodmanEnv.create({ nodeNetns: n.netns, pluginDirs: [n.cniBinDir] });
          envs.push(env);
          await env.writeConflist(JSON.parse(await Deno.readTextFile(`${n.cniConfDir}/10-aws.conflist`)));
        }
        const id = randomSuffix();
        const [a, c] = [`a-${id}`, `c-${id}`];
        await envs[0].run({ name: a, network: "aws-cni" });
        await envs[1].run({ name: c, network: "aws-cni" });
        const v6Of = async (env: PodmanEnv, name: string) =>
          JSON.parse(await env.podman(["inspect", name]))[0].NetworkSettings.Networks["aws-cni"]
            .GlobalIPv6Address as string;
        const [ia, ic] = [await v6Of(envs[0], a), await v6Of(envs[1], c)];
        assert.ok(cidr6Contains(p0, ia) && cidr6Contains(p1, ic), `${ia} ${ic}`);
        assert.match(await envs[0].exec(a, ["ping", "-6", "-c", "1", "-W", "3", ic]), / 0% packet loss/);
        assert.match(await envs[1].exec(c, ["ping", "-6", "-c", "1", "-W", "3", ia]), / 0% packet loss/);
        // busybox nc (busybox-static's wget crashes resolving): an HTTP/1.0 request, the body's one line.
        const whoami = (env: PodmanEnv, name: string, host: string) =>
          env.exec(name, [
            "sh",
            "-c",
            `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${host} ${LAB_NET.whoamiPort}`,
          ]).then((s) => s.trim().split("\n").pop()!.trim());
        assert.equal(await whoami(envs[0], a, LAB_NET.inetHostIp6), ia);
        assert.equal(await whoami(envs[0], a, LAB_NET.inetHostIp), nodeIp(0));
        assert.equal(await whoami(envs[1], c, LAB_NET.inetHostIp), nodeIp(1));
        await envs[0].rm(a);
        await envs[1].rm(c);

        // DEL everything: nothing of the IPv6 pods or their egress is left on the nodes.
        for (const pod of made) await libcni("del", pod.opts);
        for (const n of [0, 1]) {
          assert.deepEqual([...(await ipamdHeld(lab, n))], [], `node ${n}: ipamd holds nothing`);
          const ns = lab.names.nodeNs(n);
          const veths = (await sh(["ip", "-n", ns, "-o", "link", "show", "type", "veth"])).split("\n")
            .filter((l) => / (eni|veth)[0-9a-f]+@/.test(l));
          assert.deepEqual(veths, [], `node ${n}: no pod veths`);
          const rules6 = (await sh(["ip", "-n", ns, "-6", "rule", "show"])).split("\n").filter((l) =>
            /^512:/.test(l)
          );
          assert.deepEqual(rules6, [], `node ${n}: no to-pod rules`);
          const nat = await sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "iptables-save", "-t", "nat"]);
          assert.doesNotMatch(nat, /CNI-E4-/, `node ${n}: egress-cni's SNAT chains are gone`);
          const leases = [...Deno.readDirSync(`${lab.names.egressDataDir(n)}/aws-cni`)]
            .map((e) => e.name).filter((f) => /^169\.254\./.test(f));
          assert.deepEqual(leases, [], `node ${n}: egress-cni released its IPv4s`);
        }
      } finally {
        for (const e of envs) await e.destroy().catch(() => {});
        await pods.cleanup();
        await Deno.remove(cache, { recursive: true }).catch(() => {});
      }
    });
  },
});
