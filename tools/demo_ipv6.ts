/**
 * `deno task demo --ipv6`'s steps: an IPv6 cluster end to end on a dual-stack lab (`lab up --ipv6`). Two
 * m5.large nodes, each with one /80 on its primary ENI (one AssignIpv6Addresses at start-up, none after), pods
 * added through each node's conflist (aws-cni → egress-cni → portmap), and five checks from inside the pods:
 *
 * - ping6 matrix across nodes;
 * - the IPv6 whoami sees each pod's own /128 (no SNAT for IPv6);
 * - the IPv4-only whoami sees the pod's node (IPv4 egress through egress-cni, 169.254.172.0/22 SNATed);
 * - no EC2 call for the pods (the /80 was there before them);
 * - the VPC router drops a pod sending from another node's /80 (its IPv6 source/destination check).
 *
 * `--break route` deletes one pod's host /128 route before the checks (they must fail). tools/demo.ts runs
 * these steps in place of the IPv4 ones; `tests/demo_ipv6_test.ts` runs them.
 * @module
 */
import { cidr6Contains } from "../src/net/ipv6.ts";
import { fetchStatus, type LabStatus } from "../src/sim/daemon_client.ts";
import { LAB_NET } from "../src/sim/naming.ts";
import { execInNetns } from "../src/sim/exec.ts";
import { podAdd } from "../src/sim/runtime_pod.ts";
import { type DemoContext, ipamdGet } from "./demo_context.ts";
import { deletePods, type DemoLab, printKeep, startLab } from "./demo_steps.ts";

/** The IPv6 pods' egress-cni addresses (v4if0), by pod name. */
type V4Addresses = Map<string, string>;

/** EC2 calls that change something (Describe* left out). */
function mutations(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => !k.startsWith("Describe")));
}

const fmtCalls = (c: Record<string, number>) =>
  Object.entries(c).map(([k, v]) => `${k}=${v}`).join(" ") || "none";

/** Each node's /80, as its ipamd holds it. */
async function prefixesOf(status: LabStatus): Promise<string[]> {
  return await Promise.all(status.nodes.map(async (n) => {
    const pool = await ipamdGet<{ enis: { ipv6Prefixes?: string[] }[] }>(n.ipamdSocket, "/v1/pool");
    return pool.enis[0]?.ipv6Prefixes?.[0] ?? "(none)";
  }));
}

/** Brings the dual-stack lab up (taking down one a `--keep` left) and shows each node's /80. */
export async function bringUpIpv6(
  lab: DemoLab,
  log: (l: string) => void,
  head: (s: string) => void,
  stamp: () => string,
): Promise<LabStatus> {
  head(
    `lab up --ipv6: 2 × ${lab.instanceType}, VPC ${LAB_NET.vpcCidr} + ${LAB_NET.vpcIpv6Cidr}, ${lab.latency} EC2`,
  );
  log("ipamd env: ENABLE_IPv6=true ENABLE_IPv4=false ENABLE_PREFIX_DELEGATION=true (upstream's IPv6 mode)");
  const status = await startLab(lab, log, { ipv6: true });
  log(
    `${stamp()} lab ${status.id}: node subnet ${LAB_NET.nodeSubnet} + ${LAB_NET.nodeSubnetIpv6}; whoami ` +
      `${status.whoami} (IPv4 only) and ${status.whoami6} (IPv6)`,
  );
  const prefixes = await prefixesOf(status);
  const calls = (await fetchStatus(lab.names)).nodes.map((n) => mutations(n.ec2Calls));
  for (const [i, n] of status.nodes.entries()) {
    log(`  ${n.name}  ${n.instanceId}  IPv4 ${n.primaryIp}  IPv6 ${n.primaryIpv6}`);
    log(`     pod prefix ${prefixes[i]} (2^48 addresses); EC2 calls at start-up: ${fmtCalls(calls[i])}`);
  }
  return status;
}

/** Adds `count` pods, alternating nodes: /128, egress-cni's IPv4, time (IPv6 DAD included). */
async function addIpv6Pods(ctx: DemoContext, count: number, v4: V4Addresses): Promise<void> {
  ctx.head(`adding ${count} pods (aws-cni → egress-cni → portmap), alternating nodes`);
  for (let i = 0; i < count; i++) {
    const name = `demo6-${String(i + 1).padStart(2, "0")}`;
    const node = i % 2;
    const t0 = Date.now();
    const rec = await podAdd(ctx.names, name, { node });
    const ips = (rec.result.ips ?? []) as { address: string }[];
    const ip = ips.find((x) => x.address.includes(":"))?.address.replace(/\/128$/, "") ?? "";
    const a = (await execInNetns(rec.netns, ["ip", "-4", "-o", "addr", "show", "v4if0"])).stdout
      .match(/inet (\S+)/)?.[1] ?? "-";
    v4.set(name, a);
    ctx.pods.push({ rec, ip, node, eniId: "", dev: 0 });
    ctx.log(
      `  [${i + 1}/${count}] ${name} → ${ip.padEnd(26)} node-${node}  v4if0 ${a.padEnd(17)} ` +
        `${((Date.now() - t0) / 1000).toFixed(2)} s (DAD included)`,
    );
  }
}

/** Each node's /80 and the pods' /128s in it. */
function drawPrefixes(ctx: DemoContext, prefixes: string[]): void {
  ctx.head("the /80s now");
  for (const [i, n] of ctx.status.nodes.entries()) {
    const on = ctx.pods.filter((p) => p.node === i);
    ctx.log(`${n.name}  eth0 ${n.primaryIpv6}  prefix ${prefixes[i]}`);
    on.forEach((p, k) =>
      ctx.log(
        `  ${k === on.length - 1 ? "└─" : "├─"} ${p.ip.padEnd(26)} ● ${p.rec.name}` +
          `${cidr6Contains(prefixes[i], p.ip) ? "" : "  (NOT in the node's /80!)"}`,
      )
    );
  }
}

/** `--break route`: deletes the first pod's /128 host route on its node. */
async function breakRoute(ctx: DemoContext): Promise<void> {
  const p = ctx.pods[0];
  const argv = ["ip", "-6", "route", "del", `${p.ip}/128`];
  const r = await execInNetns(ctx.status.nodes[p.node].netns, argv);
  ctx.head(`--break route: on node-${p.node}: ${argv.join(" ")}`);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.trim()}`);
}

/** Check: every pod pings every other with ping6. */
async function ping6Matrix(ctx: DemoContext): Promise<void> {
  ctx.head("check: ping6 matrix from inside pod namespaces (busybox ping -6 -c 1 -W 2)");
  const results: { a: string; b: string; ok: boolean; cross: boolean }[] = [];
  for (const a of ctx.pods) {
    const row: string[] = [];
    for (const b of ctx.pods) {
      if (a === b) {
        row.push("  ·");
        continue;
      }
      const r = await execInNetns(a.rec.netns, ["busybox", "ping", "-6", "-c", "1", "-W", "2", b.ip], {
        timeoutMs: 10_000,
      });
      results.push({ a: a.rec.name, b: b.rec.name, ok: r.code === 0, cross: a.node !== b.node });
      row.push(r.code === 0 ? "  ✓" : "  ✗");
    }
    ctx.log(`${a.rec.name} n${a.node} ${a.ip.padEnd(26)}${row.join(" ")}`);
  }
  const fails = results.filter((r) => !r.ok);
  const cross = results.filter((r) => r.cross).length;
  ctx.checks.push({
    name: "ping6 matrix",
    ok: fails.length === 0 && cross > 0,
    detail: `${results.length - fails.length}/${results.length} answered (${cross} across nodes)` +
      (fails.length ? `; failed: ${fails.map((f) => `${f.a}→${f.b}`).join(", ")}` : ""),
  });
}

/** Checks: the IPv6 whoami sees each pod's /128; the IPv4-only whoami sees its node (egress-cni). */
async function internet(ctx: DemoContext): Promise<void> {
  const s = ctx.status;
  ctx.head(`check: each pod → whoami ${s.whoami6} (IPv6) and ${s.whoami} (IPv4 only)`);
  const curl = (ns: string, url: string) =>
    execInNetns(ns, ["curl", "-s", "--max-time", "5", url], { timeoutMs: 15_000 }).then((r) =>
      r.stdout.trim()
    );
  let sees6 = 0, sees4 = 0;
  for (const p of ctx.pods) {
    const s6 = await curl(p.rec.netns, `http://${s.whoami6}/`);
    const s4 = await curl(p.rec.netns, `http://${s.whoami}/`);
    const nodeIp = s.nodes[p.node].primaryIp;
    if (s6 === p.ip) sees6++;
    if (s4 === nodeIp) sees4++;
    ctx.log(
      `  ${p.rec.name}: IPv6 whoami saw ${s6 || "(no answer)"}; IPv4 whoami saw ${s4 || "(no answer)"} ` +
        `(node-${p.node} is ${nodeIp})`,
    );
  }
  const n = ctx.pods.length;
  ctx.checks.push({
    name: "IPv6 to internet, own /128",
    ok: sees6 === n,
    detail: `${sees6}/${n} pods seen by their /128 (IPv6 is not SNATed)`,
  });
  ctx.checks.push({
    name: "IPv4 egress (egress-cni)",
    ok: sees4 === n,
    detail: `${sees4}/${n} pods seen as their node's IPv4 (169.254.172.0/22 SNATed by egress-cni)`,
  });
}

/** Check: the pods caused no EC2 call. */
async function noEc2Calls(ctx: DemoContext, before: Record<string, number>[]): Promise<void> {
  ctx.head("check: EC2 calls the pods caused");
  const after = (await fetchStatus(ctx.names)).nodes.map((n) => mutations(n.ec2Calls));
  for (const [i, c] of after.entries()) {
    ctx.log(`  node-${i}: ${fmtCalls(c)} (before the pods: ${fmtCalls(before[i])})`);
  }
  const same = JSON.stringify(after) === JSON.stringify(before);
  ctx.checks.push({
    name: "no EC2 call for pods",
    ok: same,
    detail: same
      ? `${ctx.pods.length} pods, 0 EC2 calls (one /80 per node from start-up)`
      : "EC2 was called for pods",
  });
}

/** Check: a pod on node 0 sending from node 1's /80 is dropped by the router (its rule's counter moves). */
async function spoofDropped(ctx: DemoContext, prefixes: string[]): Promise<void> {
  ctx.head("check: a pod sending from another node's /80 is dropped by the VPC router");
  const spoofer = ctx.pods.find((p) => p.node === 0)!;
  const stolen = `${prefixes[1].split("::")[0]}::dead`;
  const ns = spoofer.rec.netns;
  const before = (await fetchStatus(ctx.names)).srcDstDropsV6 ?? 0;
  await execInNetns(ns, ["ip", "-6", "addr", "add", `${stolen}/128`, "dev", "eth0", "nodad"]);
  await execInNetns(ns, ["busybox", "ping", "-6", "-c", "2", "-W", "1", "-I", stolen, LAB_NET.inetHostIp6]);
  await execInNetns(ns, ["ip", "-6", "addr", "del", `${stolen}/128`, "dev", "eth0"]);
  const drops = ((await fetchStatus(ctx.names)).srcDstDropsV6 ?? 0) - before;
  ctx.log(
    `  ${spoofer.rec.name} pinged from ${stolen} (node-1's /80): the router's ip6tables rpfilter rule counted ` +
      `${drops} drop(s)`,
  );
  ctx.checks.push({
    name: "IPv6 source/destination check",
    ok: drops >= 2,
    detail: `${drops} spoofed packets dropped`,
  });
}

/** The IPv6 demo after the lab is up: pods, the /80s, the checks; then (unless kept) the pods deleted. */
export async function ipv6Body(
  ctx: DemoContext,
  lab: DemoLab,
  o: { keep?: boolean; breakWhat?: "route" | "rule" },
): Promise<void> {
  const prefixes = await prefixesOf(ctx.status);
  const before = (await fetchStatus(ctx.names)).nodes.map((n) => mutations(n.ec2Calls));
  const v4: V4Addresses = new Map();
  await addIpv6Pods(ctx, lab.pods, v4);
  drawPrefixes(ctx, prefixes);
  if (o.breakWhat === "route") await breakRoute(ctx);
  await ping6Matrix(ctx);
  await internet(ctx);
  await noEc2Calls(ctx, before);
  await spoofDropped(ctx, prefixes);
  if (o.keep) return printKeep(ctx, "ping -6");
  await deletePods(ctx);
}
