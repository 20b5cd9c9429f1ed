/**
 * aws-cni proven by a real runtime library: the Go libcni driver (Debian's libcni) runs the lab node's own
 * conflist (`aws-cni` → Debian `portmap`) against the node's real ipamd, for every spec version libcni speaks.
 * A host port reaches a listener in the pod from another node; after DEL nothing is left (veth, rules 512/1536,
 * host route, portmap's iptables rules, ipamd's assignment, libcni's cache).
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import {
  addNetns,
  CniError,
  delNetns,
  libcni,
  type LibcniOptions,
  randomSuffix,
  sh,
} from "./helpers/libcni.ts";
import { ipamdHeld, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { podServer, tcpFetch } from "./helpers/pod_tcp.ts";

// deno-lint-ignore no-explicit-any -- CNI results and ipamd answers are JSON, checked field by field
type Json = any;

const tokens = (s: string) => s.split(/\s+/);
const mentions = (s: string, ip: string) => tokens(s).some((t) => t === ip || t === `${ip}/32`);

/** Everything an attachment could leave in the node namespace, ipamd and the cache. */
async function leftovers(
  lab: TestLab,
  node: number,
  a: { ip: string; veth: string; containerId: string; hostPort?: number; pod: string; cacheDir: string },
): Promise<string[]> {
  const ns = lab.names.nodeNs(node);
  const left: string[] = [];
  const links = await sh(["ip", "-n", ns, "-o", "link", "show"]);
  if (links.includes(`${a.veth}@`) || links.includes(`${a.veth}:`)) left.push(`veth ${a.veth}`);
  const rules = (await sh(["ip", "-n", ns, "-4", "rule", "show"])).split("\n").filter((l) =>
    mentions(l, a.ip)
  );
  if (rules.length) left.push(`rules: ${rules.join(" | ")}`);
  const routes = (await sh(["ip", "-n", ns, "-4", "route", "show", "table", "all"])).split("\n")
    .filter((l) => mentions(l, a.ip));
  if (routes.length) left.push(`routes: ${routes.join(" | ")}`);
  const ipt = await sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "iptables-save"]);
  if (
    ipt.includes(a.containerId) || /CNI-DN-|CNI-SN-/.test(ipt.replace(/^:.*$/gm, ""))
  ) {
    left.push(
      `portmap rules: ${ipt.split("\n").filter((l) => /CNI-/.test(l) && !l.startsWith(":")).join(" | ")}`,
    );
  }
  if (a.hostPort && ipt.includes(`--dport ${a.hostPort}`)) left.push(`a rule for host port ${a.hostPort}`);
  const h = await ipamdHeld(lab, node);
  if (h.has(a.containerId)) left.push(`ipamd holds ${h.get(a.containerId)} for ${a.containerId}`);
  if ([...h.values()].includes(a.ip)) left.push(`ipamd holds ${a.ip}`);
  const podLinks = (await sh(["ip", "-n", a.pod, "-o", "link", "show"])).trim().split("\n");
  if (podLinks.length !== 1) left.push(`pod links: ${podLinks.join(" | ")}`);
  let cached: string[] = [];
  try {
    cached = [...Deno.readDirSync(`${a.cacheDir}/results`)].map((e) => e.name);
  } catch { /* never made */ }
  if (cached.some((f) => f.includes(a.containerId))) left.push(`libcni cache: ${cached.join(",")}`);
  return left;
}

/** One test pod: its namespace and the driver options for the lab node's conflist. */
interface Pod {
  ns: string;
  opts: LibcniOptions;
}

class Pods {
  readonly list: string[] = [];
  constructor(readonly lab: TestLab, readonly node: number, readonly cacheDir: string) {}
  async make(name: string, extra: LibcniOptions = {}): Promise<Pod> {
    const ns = `${this.lab.names.id}-t${randomSuffix()}`;
    this.list.push(ns);
    await addNetns(ns);
    const n = this.lab.status.nodes[this.node];
    return {
      ns,
      opts: {
        conflist: `${n.cniConfDir}/10-aws.conflist`,
        binDir: n.cniBinDir,
        netns: `/var/run/netns/${ns}`,
        containerId: `rt-${name}-${randomSuffix()}`,
        ifName: "eth0",
        args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "rt", K8S_POD_NAME: name },
        cacheDir: this.cacheDir,
        inNetns: n.netns,
        ...extra,
      },
    };
  }
  async cleanup(): Promise<void> {
    for (const ns of this.list) await delNetns(ns).catch(() => {});
  }
}

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"];

Deno.test({
  name:
    "aws-cni → portmap through libcni on a lab node: ADD/CHECK/DEL per cniVersion, a host port, nothing left",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 2, latency: "none" }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vct-rtl-" });
      const pods = new Pods(lab, 0, `${dir}/cache`);
      try {
        await waitIpamdReady(lab, 0);
        const node0 = lab.status.nodes[0];
        const conflist = JSON.parse(await Deno.readTextFile(`${node0.cniConfDir}/10-aws.conflist`));
        assert.deepEqual(conflist.plugins.map((p: Json) => p.type), ["aws-cni", "portmap"]);
        const alone = `${dir}/aws-cni-alone.conflist`; // same network name: libcni hands CHECK the cached result
        await Deno.writeTextFile(alone, JSON.stringify({ ...conflist, plugins: [conflist.plugins[0]] }));

        for (const [i, v] of VERSIONS.entries()) {
          const hostPort = 18080 + i;
          const pod = await pods.make(`p${v.replaceAll(".", "")}`, {
            cniVersion: v,
            portMappings: [{ hostPort, containerPort: 8080, protocol: "tcp" }],
          });
          const cid = pod.opts.containerId!;
          const res = await libcni<Json>("add", pod.opts);
          assert.equal(res.cniVersion, v);
          const [addr] = res.ips;
          assert.match(addr.address, /^10\.0\.\d+\.\d+\/32$/, JSON.stringify(res));
          assert.equal(addr.gateway, "169.254.1.1");
          if (v !== "1.0.0") assert.equal(addr.version, "4");
          const ip = addr.address.split("/")[0];
          const veth = res.interfaces[0].name;
          assert.match(veth, /^eni[0-9a-f]{11}$/);
          assert.equal(res.interfaces[1].name, "eth0");
          assert.match(res.interfaces[1].mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
          assert.equal(res.interfaces[1].sandbox, pod.opts.netns);
          assert.equal((await ipamdHeld(lab, 0)).get(cid), ip, "ipamd holds the IP for this container");
          const rules = await sh(["ip", "-n", node0.netns, "-4", "rule", "show"]);
          assert.ok(rules.split("\n").some((l) => l.startsWith("512:") && mentions(l, ip)), rules);
          const route = await sh(["ip", "-n", node0.netns, "-4", "route", "show", `${ip}/32`]);
          assert.match(route, new RegExp(`dev ${veth} `));

          // The host port from another node and from the internet namespace.
          const server = await podServer(pod.ns, 8080, `pod-${v}`);
          try {
            assert.equal((await tcpFetch(lab.names.nodeNs(1), node0.primaryIp, hostPort)).trim(), `pod-${v}`);
            if (i === 0) {
              assert.equal((await tcpFetch(lab.names.inetNs, node0.primaryIp, hostPort)).trim(), `pod-${v}`);
            }
          } finally {
            await server.stop();
          }

          if (v === "0.3.0" || v === "0.3.1") {
            const err = await libcni("check", pod.opts).catch((e) => e);
            assert.ok(err instanceof CniError, `libcni refuses CHECK before 0.4.0: ${err}`);
            assert.match(err.message, /does not support the CHECK command/);
          } else {
            await libcni("check", { ...pod.opts, conflist: alone });
            await libcni("check", pod.opts); // the whole chain: portmap ≥ 1.2 checks IPv4-only pods (#819)
          }

          await libcni("del", pod.opts);
          assert.deepEqual(
            await leftovers(lab, 0, {
              ip,
              veth,
              containerId: cid,
              hostPort,
              pod: pod.ns,
              cacheDir: pods.cacheDir,
            }),
            [],
            `after DEL at ${v}`,
          );
          await libcni("del", pod.opts); // DEL again: already gone is success
          await assert.rejects(tcpFetch(lab.names.nodeNs(1), node0.primaryIp, hostPort), "host port closed");
        }
      } finally {
        await pods.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name:
    "aws-cni at cniVersion 1.1.0 on a lab node: what libcni 1.1.2 can't do, and emulated GC cleaning up after it",
  ...rootOnly,
  fn: async () => {
    const v = await libcni<{ supportedVersions: string[]; libcni: string }>("version", {});
    await withLab({ nodes: 1, latency: "none" }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vct-rtl-" });
      const pods = new Pods(lab, 0, `${dir}/cache`);
      try {
        await waitIpamdReady(lab, 0);
        const node0 = lab.status.nodes[0];
        const conflist = JSON.parse(await Deno.readTextFile(`${node0.cniConfDir}/10-aws.conflist`));
        // GC and STATUS are 1.1.0 verbs libcni 1.1.x lacks: the driver sends them as the spec says. aws-cni alone:
        // Debian's portmap 1.1.1 speaks spec ≤ 1.0.0 and refuses a 1.1.0 config.
        const gcList = `${dir}/gc.conflist`;
        await Deno.writeTextFile(
          gcList,
          JSON.stringify({ ...conflist, cniVersion: "1.1.0", plugins: [conflist.plugins[0]] }),
        );
        const gcBase = {
          conflist: gcList,
          binDir: node0.cniBinDir,
          inNetns: node0.netns,
          emulateGcStatus: true,
        };
        await libcni("status", gcBase);

        const p = await pods.make("p110", { cniVersion: "1.1.0" });
        let orphan: string | undefined;
        if (v.supportedVersions.includes("1.1.0")) {
          const res = await libcni<Json>("add", p.opts);
          assert.equal(res.cniVersion, "1.1.0");
          assert.equal(res.interfaces[1].mtu, 9001);
          await libcni("del", p.opts);
        } else {
          // libcni 1.1.2 speaks spec ≤ 1.0.0: aws-cni's ADD succeeds and answers a 1.1.0 result, which libcni
          // cannot decode, so the runtime sees a failed ADD; its DEL of the chain then stops at portmap, which
          // refuses the 1.1.0 config before aws-cni is reached. The attachment is orphaned in ipamd.
          const err = await libcni("add", p.opts).catch((e) => e);
          assert.ok(err instanceof CniError, String(err));
          assert.match(err.message, /unsupported CNI result version "1\.1\.0"/);
          const delErr = await libcni("del", p.opts).catch((e) => e);
          assert.ok(delErr instanceof CniError, String(delErr));
          assert.equal(delErr.code, 1, `portmap: incompatible CNI versions: ${delErr}`);
          const h = await ipamdHeld(lab, 0);
          assert.equal(h.size, 1, "the orphan");
          orphan = h.get(p.opts.containerId!);
          assert.ok(orphan);
        }

        // A live pod at 1.0.0, then GC with only it valid: ipamd releases the orphan and aws-cni unwires it.
        const a = await pods.make("gca", { cniVersion: "1.0.0" });
        const ra = await libcni<Json>("add", a.opts);
        const ipA = ra.ips[0].address.split("/")[0];
        await libcni("gc", {
          ...gcBase,
          cacheDir: pods.cacheDir,
          validAttachments: [{ containerID: a.opts.containerId!, ifname: "eth0" }],
        });
        assert.deepEqual(
          [...(await ipamdHeld(lab, 0)).entries()],
          [[a.opts.containerId, ipA]],
          "GC kept only the valid",
        );
        const veths = (await sh(["ip", "-n", node0.netns, "-o", "link", "show", "type", "veth"])).trim()
          .split("\n");
        assert.deepEqual(
          veths.map((l) => l.split(/[:@]\s*/)[1]).filter((n) => n.startsWith("eni")),
          [ra.interfaces[0].name],
          "only the live veth",
        );
        if (orphan) {
          const routes = await sh(["ip", "-n", node0.netns, "-4", "route", "show", "table", "all"]);
          const rules = await sh(["ip", "-n", node0.netns, "-4", "rule", "show"]);
          assert.ok(!mentions(routes, orphan) && !mentions(rules, orphan), `${orphan} still wired`);
          // And a runtime that retries the DEL at 1.0.0 succeeds: already gone.
          await libcni("del", { ...p.opts, cniVersion: "1.0.0" });
        }
        await libcni("del", a.opts);
        assert.deepEqual(
          await leftovers(lab, 0, {
            ip: ipA,
            veth: ra.interfaces[0].name,
            containerId: a.opts.containerId!,
            pod: a.ns,
            cacheDir: pods.cacheDir,
          }),
          [],
        );
        assert.equal((await ipamdHeld(lab, 0)).size, 0);
      } finally {
        await pods.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
