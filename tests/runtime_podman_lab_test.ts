/**
 * aws-cni proven by a real runtime: podman 4.3 (CNI backend, runc, vfs, busybox rootfs) on lab nodes, with each
 * node's own conflist (`aws-cni` → `portmap` v1.10.0) and real ipamd. podman needs a MAC on the sandbox
 * interface and sends only `IgnoreUnknown=1;K8S_POD_NAME=<name>`. Containers on two nodes ping each other, a
 * published port answers from the internet namespace, and `podman rm -f` leaves nothing behind.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { randomSuffix, sh } from "../harness/libcni.ts";
import { PodmanEnv } from "./helpers/podman.ts";
import { ipamdGet, ipamdHeld, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { hostVethName } from "../src/common/veth_name.ts";

// deno-lint-ignore no-explicit-any -- ipamd answers are JSON, checked field by field
type Json = any;

const mentions = (s: string, ip: string) => s.split(/\s+/).some((t) => t === ip || t === `${ip}/32`);

/** What the node's namespace still has of pod IPs: pod veths, rules, routes, portmap chains. */
async function nodeLeftovers(lab: TestLab, node: number, ips: string[]): Promise<string[]> {
  const ns = lab.names.nodeNs(node);
  const left: string[] = [];
  const veths = (await sh(["ip", "-n", ns, "-o", "link", "show", "type", "veth"])).split("\n")
    .map((l) => l.split(/[:@]\s*/)[1]).filter((n) => n?.startsWith("eni"));
  if (veths.length) left.push(`pod veths: ${veths.join(",")}`);
  const rules = await sh(["ip", "-n", ns, "-4", "rule", "show"]);
  const routes = await sh(["ip", "-n", ns, "-4", "route", "show", "table", "all"]);
  for (const ip of ips) {
    for (const l of rules.split("\n")) if (mentions(l, ip)) left.push(`rule: ${l}`);
    for (const l of routes.split("\n")) if (mentions(l, ip)) left.push(`route: ${l}`);
  }
  const ipt = (await sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "iptables-save"])).split("\n")
    .filter((l) => l.startsWith("-A") && /CNI-DN-|CNI-SN-/.test(l));
  if (ipt.length) left.push(`portmap rules: ${ipt.join(" | ")}`);
  const h = await ipamdHeld(lab, node);
  if (h.size) left.push(`ipamd /v1/pods: ${JSON.stringify([...h])}`);
  return left;
}

/** Connects from `ns` to host:port and returns what the server sent. */
function tcpRead(ns: string, host: string, port: number): Promise<string> {
  const code = `const c = await Deno.connect({ hostname: "${host}", port: ${port} });
    const b = new Uint8Array(256); const k = await c.read(b); console.log(new TextDecoder().decode(b.subarray(0, k ?? 0)));`;
  return sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "timeout", "5", Deno.execPath(), "eval", code]);
}

const ping = (env: PodmanEnv, name: string, ip: string) => env.exec(name, ["ping", "-c", "1", "-W", "3", ip]);

Deno.test({
  name:
    "podman on lab nodes with aws-cni: containers on two nodes ping each other, -p works, rm -f leaves nothing",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 2, latency: "none" }, async (lab) => {
      const envs: PodmanEnv[] = [];
      try {
        await Promise.all([waitIpamdReady(lab, 0), waitIpamdReady(lab, 1)]);
        for (const n of lab.status.nodes) {
          const env = await PodmanEnv.create({
            nodeNetns: n.netns,
            pluginDirs: [n.cniBinDir],
          });
          envs.push(env);
          const conflist = JSON.parse(await Deno.readTextFile(`${n.cniConfDir}/10-aws.conflist`));
          assert.equal(conflist.name, "aws-cni");
          await env.writeConflist(conflist);
        }
        const [e0, e1] = envs;
        const id = randomSuffix();
        const a = `a-${id}`, b = `b-${id}`, c = `c-${id}`;
        await e0.run({ name: a, network: "aws-cni" });
        await e0.run({ name: b, network: "aws-cni" });
        await e1.run({
          name: c,
          network: "aws-cni",
          publish: ["18090:8080/tcp"],
          flags: ["--hostname", `h-${id}`],
          cmd: ["nc", "-ll", "-p", "8080", "-e", "/bin/hostname"],
        });
        const [ia, ib] = await Promise.all([e0.attachment(a, "aws-cni"), e0.attachment(b, "aws-cni")]);
        const ic = await e1.attachment(c, "aws-cni");
        for (const x of [ia, ib, ic]) {
          assert.match(x.ip, /^10\.0\.\d+\.\d+$/);
          assert.match(
            x.mac,
            /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/,
            "podman needs a MAC on the sandbox interface",
          );
        }
        assert.equal(new Set([ia.ip, ib.ip, ic.ip]).size, 3, "distinct IPs");
        // ipamd on each node holds exactly its containers' IPs.
        const ids = {
          a: (await e0.podman(["inspect", "-f", "{{.Id}}", a])).trim(),
          b: (await e0.podman(["inspect", "-f", "{{.Id}}", b])).trim(),
          c: (await e1.podman(["inspect", "-f", "{{.Id}}", c])).trim(),
        };
        assert.deepEqual(await ipamdHeld(lab, 0), new Map([[ids.a, ia.ip], [ids.b, ib.ip]])); // order-insensitive
        assert.deepEqual([...await ipamdHeld(lab, 1)], [[ids.c, ic.ip]]);
        // What aws-cni passed on from podman's CNI_ARGS: the pod name, no namespace.
        const meta = Object.values((await ipamdGet(lab, 0, "/v1/pods")).body as Record<string, Json>)
          .map((p) => [p.containerId, p.name, p.namespace ?? null]).sort();
        assert.deepEqual(meta, [[ids.a, a, null], [ids.b, b, null]].sort());
        // podman's CNI_ARGS carry no K8S_POD_NAMESPACE: the host veth is named from the container ID.
        const vethOf = (containerId: string) => hostVethName("eni", { containerId });
        const podVeths = async (node: number) =>
          (await sh(["ip", "-n", lab.names.nodeNs(node), "-o", "link", "show", "type", "veth"])).split("\n")
            .map((l) => l.split(/[:@]\s*/)[1]).filter((n) => n?.startsWith("eni")).sort();
        assert.deepEqual(await podVeths(0), [vethOf(ids.a), vethOf(ids.b)].sort());
        assert.deepEqual(await podVeths(1), [vethOf(ids.c)]);
        // The container's own view: eth0 IP/32, default via 169.254.1.1.
        assert.match(await e0.exec(a, ["ip", "-4", "addr", "show", "eth0"]), new RegExp(` ${ia.ip}/32 `));
        assert.match(await e0.exec(a, ["ip", "route"]), /default via 169\.254\.1\.1 dev eth0/);

        // Same node, across nodes, both ways.
        assert.match(await ping(e0, a, ib.ip), / 0% packet loss/);
        assert.match(await ping(e0, b, ia.ip), / 0% packet loss/);
        assert.match(await ping(e0, a, ic.ip), / 0% packet loss/);
        assert.match(await ping(e1, c, ia.ip), / 0% packet loss/);
        assert.match(await ping(e1, c, ib.ip), / 0% packet loss/);

        // podman's -p through the chained portmap: node 1's primary IP + host port, from the internet.
        let answer = "";
        for (let i = 0; i < 30 && answer === ""; i++) { // nc may not listen yet
          answer = await tcpRead(lab.names.inetNs, lab.status.nodes[1].primaryIp, 18090).then(
            (s) => s.trim(),
            () => "",
          );
          if (answer === "") await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(answer, `h-${id}`);

        await e0.rm(a, b);
        await e1.rm(c);
        assert.deepEqual(await nodeLeftovers(lab, 0, [ia.ip, ib.ip]), [], "node 0 after rm -f");
        assert.deepEqual(await nodeLeftovers(lab, 1, [ic.ip]), [], "node 1 after rm -f");
        for (const x of [ia, ib, ic]) {
          await assert.rejects(Deno.stat(x.netns), Deno.errors.NotFound, `${x.netns}`);
        }
        let cached: string[] = [];
        try {
          cached = [...Deno.readDirSync("/var/lib/cni/results")].map((e) => e.name);
        } catch { /* never made */ }
        for (const cid of Object.values(ids)) {
          assert.deepEqual(cached.filter((f) => f.includes(cid)), [], "libcni cache entries left");
        }
        await assert.rejects(
          tcpRead(lab.names.inetNs, lab.status.nodes[1].primaryIp, 18090),
          "host port closed",
        );
      } finally {
        for (const env of envs) await env.destroy().catch((e) => console.error(`podman cleanup: ${e}`));
      }
    });
  },
});
