/**
 * aws-cni chained with the current reference plugins (containernetworking/plugins v1.10.0) on a lab node,
 * through libcni, as a runtime would run a conflist that adds them:
 * - aws-cni → bandwidth: the pod's ingress and egress limits (the `bandwidth` capability, as kubelet passes
 *   pod annotations) hold a TCP transfer between pods within ±25 % of each limit;
 * - aws-cni → tuning: sysctls set in the pod, read back inside its namespace; CHECK notices a changed one.
 * After DEL nothing is left (veth, rules, routes, ifb device, ipamd's assignment).
 * (aws-cni → portmap is tests/runtime_libcni_lab_test.ts.)
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { CniError, inNetns, libcni, netnsPath } from "../harness/libcni.ts";
import { type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { attachmentLeftovers, type LabPod, LabPods } from "./helpers/libcni_lab.ts";

// deno-lint-ignore no-explicit-any -- CNI results are JSON, checked field by field
type Json = any;

/** Node i's conflist with `extra` chained after aws-cni (portmap left out), written to `path`. */
async function chainConflist(lab: TestLab, node: number, path: string, extra: Json): Promise<string> {
  const list = JSON.parse(await Deno.readTextFile(`${lab.status.nodes[node].cniConfDir}/10-aws.conflist`));
  const plugins = [list.plugins.find((p: Json) => p.type === "aws-cni"), extra];
  await Deno.writeTextFile(path, JSON.stringify({ ...list, cniVersion: "1.1.0", plugins }));
  return path;
}

const RECEIVER = `
const l = Deno.listen({ hostname: "0.0.0.0", port: Number(Deno.args[0]) });
console.log("listening");
const c = await l.accept();
const buf = new Uint8Array(1 << 16);
let bytes = 0, first = 0, last = 0;
for (;;) {
  const k = await c.read(buf);
  if (k === null) break;
  last = performance.now();
  if (bytes === 0) first = last;
  bytes += k;
}
console.log(JSON.stringify({ bytes, ms: last - first }));
`;

const SENDER = `
const c = await Deno.connect({ hostname: Deno.args[0], port: Number(Deno.args[1]) });
const chunk = new Uint8Array(1 << 16);
for (let left = Number(Deno.args[2]); left > 0;) {
  left -= await c.write(chunk.subarray(0, Math.min(left, chunk.length))); // writes may be partial
}
c.close();
`;

/**
 * Sends `bytes` over TCP from namespace `from` to `toIp` in namespace `to`; the receiver times first to last
 * byte. Resolves to the rate in bits per second.
 */
async function transferRate(from: string, to: string, toIp: string, bytes: number): Promise<number> {
  const port = 19000; // inside the receiving pod's own namespace
  const rx = new Deno.Command("nsenter", {
    args: [`--net=${netnsPath(to)}`, "--", Deno.execPath(), "eval", RECEIVER, String(port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => rx.kill("SIGKILL"), 120_000);
  try {
    const reader = rx.stdout.getReader();
    let out = "";
    const dec = new TextDecoder();
    while (!out.includes("listening")) {
      const r = await reader.read();
      if (r.done) throw new Error("the receiver exited before listening");
      out += dec.decode(r.value);
    }
    await inNetns(from, [Deno.execPath(), "eval", SENDER, toIp, String(port), String(bytes)]);
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      out += dec.decode(r.value);
    }
    const res = JSON.parse(out.slice(out.indexOf("{")));
    assert.equal(res.bytes, bytes);
    return res.bytes * 8 / (res.ms / 1000);
  } finally {
    clearTimeout(timer);
    await rx.status;
  }
}

const MBIT = 1_000_000;

Deno.test({
  name:
    "aws-cni → bandwidth v1.10.0 on a lab node: ingress and egress limits hold a pod-to-pod transfer ±25 %",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 2, latency: "none" }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vct-bw-" });
      const pods = new LabPods(lab, `${dir}/cache`);
      const added: LabPod[] = [];
      try {
        await Promise.all([waitIpamdReady(lab, 0), waitIpamdReady(lab, 1)]);
        const conflist = await chainConflist(lab, 0, `${dir}/bw.conflist`, {
          type: "bandwidth",
          capabilities: { bandwidth: true },
        });
        // Different limits each way, so each is seen to act on its own direction. Bursts of 64 KiB (above
        // the 9001-byte MTU) are small beside the transfers (about 4 s each).
        const limits = {
          ingressRate: 8 * MBIT,
          ingressBurst: 524_288,
          egressRate: 4 * MBIT,
          egressBurst: 524_288,
        };
        const a = await pods.make("bw-a", { conflist, capabilityArgs: { bandwidth: limits } });
        const b = await pods.make("bw-b", {}, 1);
        const ra = await libcni<Json>("add", a.opts);
        added.push(a);
        const rb = await libcni<Json>("add", b.opts);
        added.push(b);
        const ifb = ra.interfaces.find((i: Json) => i.name.startsWith("bwp"));
        assert.ok(ifb, `bandwidth adds its ifb device to the result: ${JSON.stringify(ra.interfaces)}`);
        await libcni("check", a.opts);
        const ipA = ra.ips[0].address.split("/")[0];
        const ipB = rb.ips[0].address.split("/")[0];

        const ingress = await transferRate(b.ns, a.ns, ipA, 4_000_000);
        const egress = await transferRate(a.ns, b.ns, ipB, 2_000_000);
        const within = (rate: number, limit: number) => Math.abs(rate - limit) <= 0.25 * limit;
        const fmt = (r: number) => `${(r / MBIT).toFixed(2)} Mbit/s`;
        assert.ok(within(ingress, limits.ingressRate), `ingress ${fmt(ingress)} vs limit 8 Mbit/s`);
        assert.ok(within(egress, limits.egressRate), `egress ${fmt(egress)} vs limit 4 Mbit/s`);
        console.log(`bandwidth: ingress ${fmt(ingress)} (limit 8), egress ${fmt(egress)} (limit 4)`);

        for (const p of added.splice(0)) await libcni("del", p.opts);
        assert.deepEqual(
          await attachmentLeftovers(lab, 0, {
            ip: ipA,
            veth: ra.interfaces[0].name,
            containerId: a.opts.containerId,
            pod: a.ns,
            cacheDir: pods.cacheDir,
          }),
          [],
        );
      } finally {
        for (const p of added) await libcni("del", p.opts).catch(() => {});
        await pods.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

const SYSCTLS: Record<string, string> = {
  "net.core.somaxconn": "1111",
  "net.ipv4.conf.eth0.arp_ignore": "2",
};

const readSysctl = async (ns: string, key: string) =>
  (await inNetns(ns, ["cat", `/proc/sys/${key.replaceAll(".", "/")}`])).trim();

Deno.test({
  name:
    "aws-cni → tuning v1.10.0 on a lab node: sysctls set in the pod, read back there; CHECK sees a change",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 1, latency: "none" }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vct-tun-" });
      const pods = new LabPods(lab, `${dir}/cache`);
      try {
        await waitIpamdReady(lab, 0);
        const conflist = await chainConflist(lab, 0, `${dir}/tuning.conflist`, {
          type: "tuning",
          dataDir: `${dir}/tuning`,
          sysctl: SYSCTLS,
        });
        const p = await pods.make("tun", { conflist });
        assert.notEqual(await readSysctl(p.ns, "net.core.somaxconn"), SYSCTLS["net.core.somaxconn"]);
        const res = await libcni<Json>("add", p.opts);
        for (const [key, want] of Object.entries(SYSCTLS)) {
          assert.equal(await readSysctl(p.ns, key), want, key);
        }
        await libcni("check", p.opts);
        await inNetns(p.ns, ["sysctl", "-qw", "net.core.somaxconn=4096"]);
        const err = await libcni("check", p.opts).catch((e) => e);
        assert.ok(err instanceof CniError, `CHECK passed on a changed sysctl: ${err}`);
        assert.match(err.message, /somaxconn/);
        await libcni("del", p.opts);
        assert.deepEqual(
          await attachmentLeftovers(lab, 0, {
            ip: res.ips[0].address.split("/")[0],
            veth: res.interfaces[0].name,
            containerId: p.opts.containerId,
            pod: p.ns,
            cacheDir: pods.cacheDir,
          }),
          [],
        );
      } finally {
        await pods.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
