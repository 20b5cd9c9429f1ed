/**
 * The demo's three real checks — (a) a ping matrix between pod namespaces (same node, cross node, secondary
 * ENIs), (b) SNAT: a pod on a secondary ENI reaches the lab's internet whoami as its node's primary IP, (c)
 * metrics and introspection inside each node namespace agree with the pods — and `--break`, which deletes
 * one pod's host route or `from` rule so that they must fail.
 * @module
 */
import { FROM_RULE_PRIORITY } from "../src/common/routing.ts";
import { type EnisView as UpstreamEnis, flattenEnis } from "../src/ipamd/introspection.ts";
import { execInNetns } from "../src/sim/exec.ts";
import type { DemoContext, DemoPod } from "./demo_context.ts";

/** "1 pod", "2 pods". */
function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Runs `fn` over `xs`, at most `limit` at a time, keeping the order. */
async function mapLimit<T, R>(xs: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]);
    }
  }));
  return out;
}

/** `--break route|rule`: deletes one pod's host route or its `from` rule by hand; returns that pod. */
export async function breakWiring(ctx: DemoContext, what: "route" | "rule"): Promise<DemoPod> {
  const broken = ctx.pods.find((p) => p.dev > 0) ?? (what === "route" ? ctx.pods[0] : undefined);
  if (!broken) throw new Error("--break rule needs a pod on a secondary ENI (use --pods 11 or more)");
  const argv = what === "route"
    ? ["ip", "route", "del", `${broken.ip}/32`]
    : ["ip", "rule", "del", "priority", String(FROM_RULE_PRIORITY), "from", `${broken.ip}/32`];
  const r = await execInNetns(ctx.status.nodes[broken.node].netns, argv);
  ctx.head(`--break ${what}: on node-${broken.node}: ${argv.join(" ")}`);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.trim()}`);
  ctx.log(
    `deleted by hand (pod ${broken.rec.name} ${broken.ip} on eth${broken.dev}); the checks must now fail`,
  );
  return broken;
}

/** Up to two pods per (node, ENI), plus the broken one. */
function representatives(ctx: DemoContext, broken?: DemoPod): DemoPod[] {
  const reps: DemoPod[] = [];
  for (let node = 0; node < 2; node++) {
    const devs = [...new Set(ctx.pods.filter((p) => p.node === node).map((p) => p.dev))].sort();
    for (const dev of devs) {
      reps.push(...ctx.pods.filter((p) => p.node === node && p.dev === dev).slice(0, 2));
    }
  }
  if (broken && !reps.includes(broken)) reps.push(broken);
  return reps;
}

/** Check (a): every representative pod pings every other, from inside its namespace. */
export async function pingMatrix(ctx: DemoContext, broken?: DemoPod): Promise<void> {
  ctx.head("check (a): ping matrix from inside pod namespaces (busybox ping -c 1 -W 2)");
  const reps = representatives(ctx, broken);
  const label = (p: DemoPod) => `${p.rec.name} n${p.node}/eth${p.dev}`;
  const pairs = reps.flatMap((a) => reps.filter((b) => b !== a).map((b) => [a, b] as const));
  const results = await mapLimit(pairs, 16, async ([a, b]) => {
    const r = await execInNetns(a.rec.netns, ["busybox", "ping", "-c", "1", "-W", "2", b.ip], {
      timeoutMs: 10_000,
    });
    return { a, b, ok: r.code === 0 };
  });
  const okOf = (a: DemoPod, b: DemoPod) => results.find((r) => r.a === a && r.b === b)?.ok;
  const width = Math.max(...reps.map((p) => label(p).length));
  ctx.log(`${" ".repeat(width)}  ${reps.map((_, j) => `→${j + 1}`.padStart(3)).join(" ")}`);
  reps.forEach((a, i) => {
    const cells = reps.map((b) => a === b ? "  ·" : okOf(a, b) ? "  ✓" : "  ✗");
    ctx.log(`${`${i + 1} ${label(a)} ${a.ip}`.padEnd(width + 15)}${cells.join(" ")}`);
  });
  const fails = results.filter((r) => !r.ok);
  const sameNode = results.filter((r) => r.a.node === r.b.node).length;
  ctx.checks.push({
    name: "ping matrix",
    ok: fails.length === 0 && reps.some((p) => p.dev > 0 || ctx.pods.length <= ctx.usable) &&
      reps.some((p) => p.node === 1),
    detail: `${results.length - fails.length}/${results.length} pings answered (${sameNode} same node, ` +
      `${results.length - sameNode} cross node; ${plural(reps.filter((p) => p.dev > 0).length, "pod")} on ` +
      `secondary ENIs)` +
      (fails.length ? `; failed: ${fails.map((f) => `${f.a.rec.name}→${f.b.rec.name}`).join(", ")}` : ""),
  });
}

/** Check (b): a pod on a secondary ENI fetches whoami; whoami must see the node's primary IP. */
export async function snatToInternet(ctx: DemoContext, broken?: DemoPod): Promise<void> {
  const pod = broken ?? ctx.pods.find((p) => p.dev > 0) ?? ctx.pods[0];
  const node = ctx.status.nodes[pod.node];
  ctx.head(
    `check (b): ${pod.rec.name} (${pod.ip}, node-${pod.node} eth${pod.dev}) → whoami ${ctx.status.whoami}`,
  );
  const curl = ["curl", "-s", "--max-time", "5", `http://${ctx.status.whoami}/`];
  const r = await execInNetns(pod.rec.netns, curl, { timeoutMs: 15_000 });
  const seen = r.stdout.trim();
  ctx.log(`whoami saw ${seen || "(no answer)"}; node-${pod.node}'s primary IP is ${node.primaryIp}`);
  const snated = seen === node.primaryIp ? " (SNATed)" : " (NOT SNATed)";
  ctx.checks.push({
    name: "SNAT to internet",
    ok: r.code === 0 && seen === node.primaryIp,
    detail: r.code === 0
      ? `whoami saw ${seen}, node primary ${node.primaryIp}${snated}`
      : `curl failed (exit ${r.code})`,
  });
}

/** One node's metrics, introspection `/v1/enis` and `/healthz`, read inside its namespace. */
async function readNodeViews(netns: string, pods: number) {
  const curl = (url: string) => execInNetns(netns, ["curl", "-s", "--max-time", "5", url]);
  // Gauges are set when a pool plan finishes (the one after the last ADD may still be at EC2): poll a bit.
  const t0 = Date.now();
  for (;;) {
    const [m, en, hz] = await Promise.all([
      curl("http://127.0.0.1:61678/metrics"),
      curl("http://127.0.0.1:61679/v1/enis"),
      curl("http://127.0.0.1:61679/healthz"),
    ]);
    const line = m.stdout.split("\n").find((l) => l.startsWith("awscni_assigned_ip_addresses "));
    if (Number(line?.split(" ").pop()) === pods || Date.now() - t0 > 30_000) return { m, en, hz };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Check (c): `awscni_*` gauges and introspection agree with the pods on each node; healthz says ok. */
export async function metricsAndIntrospection(ctx: DemoContext): Promise<void> {
  ctx.head("check (c): metrics :61678 and introspection 127.0.0.1:61679 inside each node namespace");
  for (const n of ctx.status.nodes) {
    const onNode = ctx.pods.filter((p) => p.node === n.index);
    const { m, en, hz } = await readNodeViews(n.netns, onNode.length);
    const metric = (name: string) => {
      const line = m.stdout.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
    };
    const metricNames = new Set(
      m.stdout.split("\n").filter((l) => l.startsWith("awscni_")).map((l) => l.split(/[ {]/)[0]),
    );
    const assigned = metric("awscni_assigned_ip_addresses");
    const enis = metric("awscni_eni_allocated");
    let introAssigned: string[] = [];
    let introEnis = 0;
    try {
      const v = flattenEnis(JSON.parse(en.stdout) as UpstreamEnis);
      introEnis = Object.keys(v.enis).length;
      introAssigned = Object.values(v.enis).flatMap((e) =>
        e.ips.filter((ip) => ip.state === "assigned").map((ip) => ip.address)
      ).sort();
    } catch { /* not JSON: the check fails below */ }
    const same = JSON.stringify(introAssigned) === JSON.stringify(onNode.map((p) => p.ip).sort());
    const healthz = hz.stdout.trim();
    ctx.log(
      `${n.name}: ${metricNames.size} awscni_* metrics; awscni_assigned_ip_addresses ${assigned} (pods ` +
        `${onNode.length}), awscni_eni_allocated ${enis}; /v1/enis: ${introEnis} ENIs, ${introAssigned.length} ` +
        `assigned IPs ${same ? "= the pods' IPs" : "≠ the pods' IPs"}; /healthz ${JSON.stringify(healthz)}`,
    );
    ctx.checks.push({
      name: `metrics+introspection ${n.name}`,
      ok: m.code === 0 && assigned === onNode.length && enis === introEnis && introEnis > 0 && same &&
        healthz === "ok",
      detail: `assigned ${assigned}/${onNode.length}, ENIs ${enis}/${introEnis}, healthz ${healthz}`,
    });
  }
}
