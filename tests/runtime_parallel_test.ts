/**
 * aws-cni under a runtime's load on a lab node (real ipamd), through the Go libcni driver: 30 ADDs at once get
 * 30 distinct IPs and 30 DELs at once leave nothing; sequential ADD/DEL latency. Both are measured next to
 * the reference ptp + host-local v1.10.0 ({@linkcode measureBaseline}) in the same run and printed with the ratio — no timing
 * is asserted (machines differ), only correctness.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import {
  addNetns,
  delNetns,
  libcni,
  type LibcniOptions,
  netnsPath,
  randomSuffix,
  sh,
} from "../harness/libcni.ts";
import { ipamdGet, ipamdHeld, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { until } from "../harness/poll.ts";
import { podServer, tcpFetch } from "./helpers/pod_tcp.ts";
import { type Summary, summary } from "../harness/stats.ts";
import { measureBaseline, ptpConflist } from "../tools/baseline.ts";

// deno-lint-ignore no-explicit-any -- CNI results and ipamd answers are JSON, checked field by field
type Json = any;

const N = 30;

/** Pod veths, rules, routes and portmap chains the node still has for `ips`, plus what ipamd holds. */
async function leftovers(lab: TestLab, node: number, ips: string[]): Promise<string[]> {
  const ns = lab.names.nodeNs(node);
  const mentions = (s: string, ip: string) => s.split(/\s+/).some((t) => t === ip || t === `${ip}/32`);
  const left: string[] = [];
  const veths = (await sh(["ip", "-n", ns, "-o", "link", "show", "type", "veth"])).split("\n")
    .map((l) => l.split(/[:@]\s*/)[1]).filter((n) => n?.startsWith("eni"));
  if (veths.length) left.push(`pod veths: ${veths.join(",")}`);
  const rules = (await sh(["ip", "-n", ns, "-4", "rule", "show"])).split("\n");
  const routes = (await sh(["ip", "-n", ns, "-4", "route", "show", "table", "all"])).split("\n");
  for (const ip of ips) {
    for (const l of rules) if (mentions(l, ip)) left.push(`rule: ${l}`);
    for (const l of routes) if (mentions(l, ip)) left.push(`route: ${l}`);
  }
  const ipt = (await sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "iptables-save"])).split("\n")
    .filter((l) => l.startsWith("-A") && /CNI-DN-|CNI-SN-/.test(l));
  if (ipt.length) left.push(`portmap rules: ${ipt.join(" | ")}`);
  const h = await ipamdHeld(lab, node);
  if (h.size) left.push(`ipamd holds: ${[...h.values()].join(",")}`);
  return left;
}

const fmt = (s: Summary) => `p50 ${s.p50} ms, p99 ${s.p99} ms (n=${s.n}, max ${s.max})`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;

Deno.test({
  name:
    "aws-cni on a lab node: 30 parallel ADDs get distinct IPs, 30 parallel DELs leave nothing; vs ptp baseline",
  ...rootOnly,
  fn: async () => {
    // m5.xlarge: 4 ENIs × 14 secondary IPs; a warm pool of ≥ 30 so the ADDs time the CNI path, not EC2.
    await withLab(
      {
        nodes: 1,
        latency: "none",
        instanceType: "m5.xlarge",
        ipamdEnv: { WARM_IP_TARGET: String(N + 2), IP_COOLDOWN_PERIOD: "1" },
      },
      async (lab) => {
        const id = randomSuffix();
        const dir = await Deno.makeTempDir({ prefix: "vct-rtp-" });
        const pods: string[] = [];
        const extra: string[] = [];
        const baseNode = `vct-bn${id}`;
        try {
          // The baseline first, in a throwaway node namespace on the same machine, in the same run.
          await addNetns(baseNode);
          await Deno.writeTextFile(`${dir}/ptp.conflist`, ptpConflist(`vcb${id}`, dir));
          const base = await measureBaseline({
            conflist: `${dir}/ptp.conflist`,
            nodeNetns: baseNode,
            cycles: N,
          });

          const node0 = lab.status.nodes[0];
          // Released IPs cool down (IP_COOLDOWN_PERIOD, 1 s here) before reuse: each phase starts on a warm pool.
          const warm = () =>
            until(
              `≥ ${N} free IPs`,
              () => ipamdGet(lab, 0, "/v1/pool").then((r) => r.body.totals.free >= N).catch(() => false),
            );
          await waitIpamdReady(lab, 0);
          await warm();
          for (let i = 0; i < N; i++) {
            pods.push(`${lab.names.id}-t${id}${i}`);
            await addNetns(pods[i]);
          }
          const opts = (i: number): LibcniOptions => ({
            conflist: `${node0.cniConfDir}/10-aws.conflist`,
            binDir: node0.cniBinDir,
            netns: netnsPath(pods[i]),
            containerId: `par-${id}-${i}`,
            ifName: "eth0",
            args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "par", K8S_POD_NAME: `p${i}` },
            cacheDir: `${dir}/cache`,
            inNetns: node0.netns,
          });

          // 30 runtime calls at once (one driver process each, as a CRI plugin's goroutines would exec).
          const start = performance.now();
          const results = await Promise.all(pods.map(async (_, i) => {
            const r = await libcni<Json>("add", opts(i));
            return { r, ms: performance.now() - start };
          }));
          const addMs = results.map((x) => x.ms);
          const ips = results.map((x) => x.r.ips[0].address.split("/")[0]);
          assert.equal(new Set(ips).size, N, `distinct IPs: ${ips.join(",")}`);
          for (const ip of ips) assert.match(ip, /^10\.0\.\d+\.\d+$/);
          const h = await ipamdHeld(lab, 0);
          assert.equal(h.size, N);
          for (let i = 0; i < N; i++) {
            assert.equal(h.get(`par-${id}-${i}`), ips[i], `ipamd holds pod ${i}'s IP`);
          }
          const veths = new Set(results.map((x) => x.r.interfaces[0].name));
          assert.equal(veths.size, N, "distinct host veths");
          // Every pod is wired: its eth0 has its IP and reaches the subnet gateway through the node.
          for (const i of [0, N - 1]) {
            const r = await lab.inNetns(pods[i], ["busybox", "ping", "-c1", "-W2", "10.0.0.1"]);
            assert.equal(r.code, 0, r.stdout + r.stderr);
          }
          // Pods beyond the primary ENI's IPs sit on secondary ENIs: rule 1536 `from IP lookup <device+1>`.
          const devOf = new Map<string, number>(
            (await ipamdGet(lab, 0, "/v1/pool")).body.enis.map((e: Json) => [e.eniId, e.deviceNumber]),
          );
          const podEni = new Map<string, number>(
            Object.values((await ipamdGet(lab, 0, "/v1/pods")).body as Record<string, Json>)
              .map((p) => [p.ipv4, devOf.get(p.eniId)!]),
          );
          const rules = (await sh(["ip", "-n", node0.netns, "-4", "rule", "show"])).split("\n");
          let secondary = 0;
          for (const ip of ips) {
            const dev = podEni.get(ip)!;
            assert.ok(rules.includes(`512:\tfrom all to ${ip} lookup main`), `rule 512 for ${ip}`);
            const want = dev === 0 ? [] : [`1536:\tfrom ${ip} lookup ${dev + 1}`];
            assert.deepEqual(rules.filter((l) => l.startsWith("1536:") && l.split(/\s+/).includes(ip)), want);
            if (dev > 0) secondary++;
          }
          assert.ok(secondary > 0, "some pods on secondary ENIs (rule 1536 exercised)");

          // One more pod, with a host port, once the primary ENI is full: it lands on a secondary ENI, so the
          // port mapping's replies and its internet egress must leave through eth0 (connmark, rule 1024, SNAT).
          const eni0 = (await ipamdGet(lab, 0, "/v1/pool")).body.enis.find((e: Json) => e.deviceNumber === 0);
          const pmNs = `${lab.names.id}-t${id}pm`;
          extra.push(pmNs);
          await addNetns(pmNs);
          const pmOpts: LibcniOptions = {
            ...opts(0),
            netns: netnsPath(pmNs),
            containerId: `pm-${id}`,
            args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "par", K8S_POD_NAME: "pm" },
            portMappings: [{ hostPort: 18100, containerPort: 8080, protocol: "tcp" }],
          };
          const pm = await libcni<Json>("add", pmOpts);
          const pmIp = pm.ips[0].address.split("/")[0];
          const pmPod = Object.values((await ipamdGet(lab, 0, "/v1/pods")).body as Record<string, Json>)
            .find((p) => p.ipv4 === pmIp);
          const pmDev = devOf.get(pmPod.eniId) ??
            (await ipamdGet(lab, 0, "/v1/pool")).body.enis.find((e: Json) => e.eniId === pmPod.eniId)
              .deviceNumber;
          if (eni0.free === 0) assert.ok(pmDev > 0, `pod pm on device ${pmDev} while ENI 0 is full`);
          const server = await podServer(pmNs, 8080, "pm-ok");
          try {
            assert.equal(
              (await tcpFetch(lab.names.inetNs, node0.primaryIp, 18100)).trim(),
              "pm-ok",
              `device ${pmDev}`,
            );
          } finally {
            await server.stop();
          }
          // Egress to the internet from a primary-ENI pod and from pm: whoami sees the node's primary IP (SNAT).
          const onPrimary = ips.findIndex((ip) => podEni.get(ip) === 0);
          for (const ns of [pmNs, ...(onPrimary >= 0 ? [pods[onPrimary]] : [])]) {
            assert.equal(
              (await tcpFetch(ns, "198.51.100.2", 8080)).trim(),
              node0.primaryIp,
              `whoami from ${ns}`,
            );
          }
          console.log(
            `pod pm: device ${pmDev} (ENI 0 had ${eni0.free} free): host port and egress via eth0 ok`,
          );
          await libcni("del", pmOpts);
          assert.deepEqual(
            (await leftovers(lab, 0, [pmIp])).filter((l) =>
              !l.startsWith("ipamd holds") && !l.startsWith("pod veths")
            ),
            [],
            "after DEL of pm",
          );
          assert.ok(!(await ipamdHeld(lab, 0)).has(`pm-${id}`));
          const delStart = performance.now();
          const delMs = await Promise.all(pods.map(async (_, i) => {
            await libcni("del", opts(i));
            return performance.now() - delStart;
          }));
          assert.deepEqual(await leftovers(lab, 0, ips), [], "after 30 parallel DELs");

          // The driver's parallel-add mode: the same measurement as the baseline's (one process, 30 goroutines).
          // No K8S_POD_NAME, so each host veth is named from its container ID.
          await warm();
          const mode = await libcni<{ add_ms: number[]; del_ms: number[] }>("parallel-add", {
            ...opts(0),
            netns: pods.map(netnsPath),
            containerId: `pam-${id}`,
            args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "par" },
            n: N,
          });
          assert.deepEqual(await leftovers(lab, 0, []), [], "after parallel-add mode");

          // Sequential ADD/DEL cycles through the node's conflist (aws-cni → portmap).
          await warm();
          const seq = await libcni<{ add_ms: number[]; del_ms: number[] }>("bench-add-del", {
            ...opts(0),
            containerId: `seq-${id}`,
            args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "seq", K8S_POD_NAME: "p" },
            n: N,
          });
          assert.equal(seq.add_ms.length, N);
          assert.deepEqual(await leftovers(lab, 0, []), [], "after sequential cycles");

          const s = {
            seqAdd: summary(seq.add_ms),
            seqDel: summary(seq.del_ms),
            parAdd: summary(addMs),
            parDel: summary(delMs),
            modeAdd: summary(mode.add_ms),
            modeDel: summary(mode.del_ms),
          };
          const b = base;
          console.log(
            [
              `ptp+host-local baseline vs aws-cni→portmap on a lab node (${N} each, ms; parallel timed from batch start)`,
              `sequential ADD  ptp ${fmt(b.sequential.add)} | aws-cni ${fmt(s.seqAdd)} | p50 ratio ${
                ratio(s.seqAdd.p50, b.sequential.add.p50)
              }`,
              `sequential DEL  ptp ${fmt(b.sequential.del)} | aws-cni ${fmt(s.seqDel)} | p50 ratio ${
                ratio(s.seqDel.p50, b.sequential.del.p50)
              }`,
              `parallel ADD (driver mode)  ptp ${fmt(b.parallel!.add)} | aws-cni ${fmt(s.modeAdd)} | p50 ${
                ratio(s.modeAdd.p50, b.parallel!.add.p50)
              } p99 ${ratio(s.modeAdd.p99, b.parallel!.add.p99)}`,
              `parallel DEL (driver mode)  ptp ${fmt(b.parallel!.del)} | aws-cni ${fmt(s.modeDel)} | p50 ${
                ratio(s.modeDel.p50, b.parallel!.del.p50)
              } p99 ${ratio(s.modeDel.p99, b.parallel!.del.p99)}`,
              `parallel ADD (30 driver processes)  aws-cni ${fmt(s.parAdd)}`,
              `parallel DEL (30 driver processes)  aws-cni ${fmt(s.parDel)}`,
            ].join("\n"),
          );
        } finally {
          for (const p of [...pods, ...extra]) await delNetns(p).catch(() => {});
          await delNetns(baseNode).catch(() => {});
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  },
});
