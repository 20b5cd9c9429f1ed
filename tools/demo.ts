/**
 * `deno task demo`: the whole system on the lab in about two minutes. As root: installs the Debian packages
 * it needs, brings up a 2-node lab (m5.large, realistic EC2 latency) in its own state dir, adds pods (more than
 * the warm pool holds, so the pool grows), draws each node's ENIs, IPs and pods, runs three real checks (ping
 * matrix, SNAT to the internet, metrics + introspection), deletes the pods, waits for the pool to shrink and
 * tears everything down. Exit 0 only when every check passed.
 *
 *   deno task demo [--pods N] [--latency none|realistic] [--state-dir DIR] [--keep] [--no-shrink]
 *   (dev) --break route|rule   delete one pod's host route or its `from` rule before the checks
 *
 * The logic is {@linkcode runDemo}; `tests/demo_test.ts` runs it small, broken and unbroken.
 * @module
 */
import { type EnisView as UpstreamEnis, flattenEnis } from "../src/ipamd/introspection.ts";
import { parseArgs } from "node:util";
import { lookupInstanceType } from "../src/aws/instance_types.ts";
import { labDown, labUp } from "../src/sim/daemon_launch.ts";
import type { LabStatus } from "../src/sim/daemon_client.ts";
import type { PodRecord } from "../src/sim/lab_state.ts";
import { LabNames } from "../src/sim/naming.ts";
import { CniPluginError } from "../src/sim/runtime.ts";
import { podAdd, podDel } from "../src/sim/runtime_pod.ts";
import { execInNetns } from "../tests/helpers/lab.ts";
import { ensureDebianPackages, isRoot } from "./deps.ts";

/** What the demo needs from Debian (a subset of tools/deps.ts's list). */
export const DEMO_PACKAGES = [
  "libnl-3-200",
  "libnl-route-3-200",
  "iproute2",
  "iptables",
  "util-linux",
  "procps",
  "curl",
  "busybox-static",
];

/** ipamd settings the demo passes with `--ipamd-env`, and why. */
export const DEMO_IPAMD_ENV: Record<string, string> = {
  // A small warm pool (2 free IPs per node) so every few pods make the pool grow, visibly.
  WARM_IP_TARGET: "2",
  // 10 s instead of 30 s, so the pool shrinks within the demo's two minutes.
  IP_COOLDOWN_PERIOD: "10",
};

export interface DemoOptions {
  pods?: number;
  latency?: "none" | "realistic";
  stateDir?: string;
  keep?: boolean;
  /** Wait for the pool to shrink after the pods are deleted (default true). */
  shrink?: boolean;
  /** Dev: break one pod's wiring before the checks. */
  breakWhat?: "route" | "rule";
  /** Install missing Debian packages (default true). */
  deps?: boolean;
  /** Output (default console.log). */
  log?: (line: string) => void;
  /** Set by the CLI: called with the teardown, so a signal can run it. */
  onTeardown?: (fn: () => Promise<void>) => void;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoResult {
  ok: boolean;
  checks: CheckResult[];
  stateDir: string;
}

// ---------------------------------------------------------------------------------------------------------
// ipamd over its unix socket

type EnisView = ReturnType<typeof flattenEnis>;
interface PoolView {
  enis: {
    eniId: string;
    deviceNumber: number;
    total: number;
    assigned: number;
    cooling: number;
    free: number;
  }[];
  totals: { total: number; assigned: number; cooling: number; free: number };
  pods: { ip: string; eniId: string; containerId: string }[];
  pendingEnis?: number;
  /** The plan for the pool as it is now. */
  plan?: { reason: string; computedAt: string };
}

async function ipamdGet<T>(socket: string, path: string, timeoutMs = 5000): Promise<T> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const r = await fetch(`http://127.0.0.1${path}`, { client, signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  } finally {
    client.close();
  }
}

async function waitIpamdReady(socket: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      await ipamdGet(socket, "/v1/status", 2000);
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`ipamd on ${socket} not ready after ${timeoutMs / 1000} s: ${last}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------
// small helpers

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pad = (s: string, n: number) => s.padEnd(n);

/** Where each of n pods goes: node 1 gets a few, node 0 enough to need a second ENI (usable + 1). */
export function placement(n: number, usablePerEni: number, nodes = 2): number[] {
  if (nodes < 2 || n < 2) return Array(n).fill(0);
  const n0 = Math.max(Math.ceil(n / 2), Math.min(n - 1, usablePerEni + 1));
  const n1 = n - n0;
  const out = Array(n).fill(0);
  for (let k = 0; k < n1; k++) out[Math.floor(((k + 0.5) * n) / n1)] = 1;
  return out;
}

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

interface DemoPod {
  rec: PodRecord;
  ip: string;
  node: number;
  eniId: string;
  dev: number;
}

// ---------------------------------------------------------------------------------------------------------
// the picture

/** Draws one node: its ENIs (device, id, subnet), each IP's state and the pod holding it. */
export function drawNode(
  nodeName: string,
  instanceId: string,
  primaryIp: string,
  view: EnisView,
  podByContainer: Map<string, string>,
  now = Date.now(),
): string[] {
  const enis = Object.values(view.enis).sort((a, b) => a.deviceNumber - b.deviceNumber);
  const lines = [
    `${nodeName}  ${instanceId}  primary ${primaryIp}   ${enis.length} ENI(s), ${view.totalIPs} pod IPs: ` +
    `${view.assignedIPs} assigned, ${view.coolingIPs} cooling, ` +
    `${view.totalIPs - view.assignedIPs - view.coolingIPs} free`,
  ];
  enis.forEach((e, ei) => {
    const lastEni = ei === enis.length - 1;
    const ips = [...e.ips].filter((ip) => ip.address !== e.primaryIp);
    const bar = ips.map((ip) => ip.state === "assigned" ? "●" : ip.state === "cooling" ? "◐" : "○").join("");
    const age = Math.round((now - Date.parse(e.createdAt)) / 1000);
    lines.push(
      `${
        lastEni ? "└─" : "├─"
      } eth${e.deviceNumber}  dev ${e.deviceNumber}  ${e.id}  subnet ${e.subnetCidr}  ` +
        `ENI IP ${e.primaryIp}  age ${age}s  [${bar}]`,
    );
    ips.forEach((ip, i) => {
      const stem = lastEni ? "   " : "│  ";
      const branch = i === ips.length - 1 ? "└─" : "├─";
      const who = ip.state === "assigned"
        ? `● ${podByContainer.get(ip.containerId ?? "") ?? `(container ${ip.containerId?.slice(0, 12)})`}`
        : ip.state === "cooling"
        ? "◐ cooling"
        : "○ free";
      lines.push(`${stem}${branch} ${pad(ip.address, 15)} ${who}`);
    });
  });
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// the demo

/** Runs the demo; never throws for a failed check (see `ok`), always tears down unless `keep`. */
export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const nPods = o.pods ?? 12;
  const latency = o.latency ?? "realistic";
  const stateDir = o.stateDir ?? "/run/vpc-cni-demo";
  const names = new LabNames(stateDir);
  const instanceType = "m5.large";
  const it = lookupInstanceType(instanceType)!;
  const usable = it.ipv4PerEni - 1;
  const checks: CheckResult[] = [];
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s]`;
  const head = (s: string) => log(`\n${stamp()} ── ${s} ${"─".repeat(Math.max(0, 90 - s.length))}`);

  if (o.deps !== false) {
    log(`deps: checking Debian packages (tools/deps.ts ensureDebianPackages): ${DEMO_PACKAGES.join(" ")}`);
    if (!ensureDebianPackages(DEMO_PACKAGES)) {
      return {
        ok: false,
        checks: [{ name: "deps", ok: false, detail: "apt-get could not install" }],
        stateDir,
      };
    }
    log("deps: all present");
  }

  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    const r = await labDown(stateDir);
    log(`${stamp()} lab down: ${r.namespaces.length} namespaces removed, ${r.killed} processes ended`);
  };
  o.onTeardown?.(teardown);

  try {
    head(`lab up: 2 × ${instanceType} (${it.maxEnis} ENIs × ${usable} pod IPs each), ${latency} EC2 latency`);
    log(
      `ipamd env: ${Object.entries(DEMO_IPAMD_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} ` +
        `(warm pool = 2 free IPs per node, so ${nPods} pods make it grow; cooldown 10 s so it shrinks quickly)`,
    );
    try {
      Deno.statSync(names.labJson);
      log(`a lab is already in ${stateDir} (an earlier --keep?): taking it down first`);
      await labDown(stateDir);
    } catch { /* none: the usual case */ }
    const up = await labUp({
      stateDir,
      nodes: 2,
      instanceType,
      latency,
      ipamdEnv: DEMO_IPAMD_ENV,
    });
    const status: LabStatus = up.status;
    log(`lab ${status.id} in ${stateDir}: EC2 ${status.ec2Endpoint}, Kubernetes ${status.kubeApiEndpoint}`);
    for (const n of status.nodes) {
      log(`  ${n.name}  ${n.instanceId}  primary IP ${n.primaryIp}  netns ${n.netns}`);
    }
    await Promise.all(status.nodes.map((n) => waitIpamdReady(n.ipamdSocket, 60_000)));
    log(`${stamp()} ipamd ready on both nodes`);
    for (const n of status.nodes) {
      // The first pool plan (warm IPs) runs right after start-up; show the pool once it is there.
      let p = await ipamdGet<PoolView>(n.ipamdSocket, "/v1/pool");
      for (let i = 0; i < 40 && p.totals.free < Number(DEMO_IPAMD_ENV.WARM_IP_TARGET); i++) {
        await sleep(250);
        p = await ipamdGet<PoolView>(n.ipamdSocket, "/v1/pool");
      }
      log(`  ${n.name} warm pool: ${p.enis.length} ENI, ${p.totals.free} IPs free`);
    }

    // ---- pods
    head(`adding ${nPods} pods`);
    const where = placement(nPods, usable);
    const pods: DemoPod[] = [];
    for (let i = 0; i < nPods; i++) {
      const name = `demo-${String(i + 1).padStart(2, "0")}`;
      const node = where[i];
      const sock = status.nodes[node].ipamdSocket;
      const ts = Date.now();
      let rec: PodRecord | undefined;
      let retries = 0;
      while (!rec) {
        try {
          rec = await podAdd(names, name, { node });
        } catch (e) {
          // Like kubelet: a retryable CNI error (11, the pool is growing) is tried again.
          if (e instanceof CniPluginError && e.code === 11 && Date.now() - ts < 60_000) {
            retries++;
            await sleep(500);
            continue;
          }
          throw e;
        }
      }
      const ms = Date.now() - ts;
      const pool = await ipamdGet<PoolView>(sock, "/v1/pool");
      const eniId = pool.pods.find((p) => p.ip === rec!.podIp)?.eniId ?? "?";
      const dev = pool.enis.find((e) => e.eniId === eniId)?.deviceNumber ?? -1;
      pods.push({ rec, ip: rec.podIp ?? "", node, eniId, dev });
      log(
        `  [${String(i + 1).padStart(2)}/${nPods}] ${name} → ${pad(rec.podIp ?? "-", 12)} node-${node}  ` +
          `eth${dev} ${eniId}  ${secs(ms)}${retries ? ` (${retries} retries while the pool grew)` : ""}` +
          `   pool: ${pool.enis.length} ENIs, ${pool.totals.free} free${
            pool.pendingEnis ? `, ${pool.pendingEnis} ENI creating` : ""
          }`,
      );
    }
    const podByContainer = new Map(pods.map((p) => [p.rec.containerId, p.rec.name]));

    const draw = async (title: string) => {
      head(title);
      log("legend: ● assigned (pod)   ◐ cooling   ○ free");
      for (const n of status.nodes) {
        const v = flattenEnis(await ipamdGet<UpstreamEnis>(n.ipamdSocket, "/v1/enis"));
        for (const l of drawNode(n.name, n.instanceId, n.primaryIp, v, podByContainer)) log(l);
        log("");
      }
    };
    await draw("the pool now");

    // ---- break (dev)
    let broken: DemoPod | undefined;
    if (o.breakWhat) {
      broken = pods.find((p) => p.dev > 0) ?? (o.breakWhat === "route" ? pods[0] : undefined);
      if (!broken) throw new Error("--break rule needs a pod on a secondary ENI (use --pods 11 or more)");
      const ns = status.nodes[broken.node].netns;
      const argv = o.breakWhat === "route"
        ? ["ip", "route", "del", `${broken.ip}/32`]
        : ["ip", "rule", "del", "priority", "1536", "from", `${broken.ip}/32`];
      const r = await execInNetns(ns, argv);
      head(`--break ${o.breakWhat}: on node-${broken.node}: ${argv.join(" ")}`);
      if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.trim()}`);
      log(
        `deleted by hand (pod ${broken.rec.name} ${broken.ip} on eth${broken.dev}); the checks must now fail`,
      );
    }

    // ---- check (a): ping matrix
    head("check (a): ping matrix from inside pod namespaces (busybox ping -c 1 -W 2)");
    const reps: DemoPod[] = [];
    for (let node = 0; node < 2; node++) {
      const devs = [...new Set(pods.filter((p) => p.node === node).map((p) => p.dev))].sort();
      for (const d of devs) {
        const on = pods.filter((p) => p.node === node && p.dev === d);
        reps.push(...on.slice(0, 2));
      }
    }
    if (broken && !reps.includes(broken)) reps.push(broken);
    const label = (p: DemoPod) => `${p.rec.name} n${p.node}/eth${p.dev}`;
    const pairs = reps.flatMap((a) => reps.filter((b) => b !== a).map((b) => [a, b] as const));
    const results = await mapLimit(pairs, 16, async ([a, b]) => {
      const r = await execInNetns(a.rec.netns, ["busybox", "ping", "-c", "1", "-W", "2", b.ip], {
        timeoutMs: 10_000,
      });
      return { a, b, ok: r.code === 0 };
    });
    const okOf = (a: DemoPod, b: DemoPod) => results.find((r) => r.a === a && r.b === b)?.ok;
    const w = Math.max(...reps.map((p) => label(p).length));
    log(`${" ".repeat(w)}  ${reps.map((_, j) => `→${j + 1}`.padStart(3)).join(" ")}`);
    reps.forEach((a, i) => {
      const cells = reps.map((b) => a === b ? "  ·" : okOf(a, b) ? "  ✓" : "  ✗");
      log(`${pad(`${i + 1} ${label(a)} ${a.ip}`, w + 15)}${cells.join(" ")}`);
    });
    const fails = results.filter((r) => !r.ok);
    const sameNode = results.filter((r) => r.a.node === r.b.node).length;
    checks.push({
      name: "ping matrix",
      ok: fails.length === 0 && reps.some((p) => p.dev > 0 || nPods <= usable) &&
        reps.some((p) => p.node === 1),
      detail: `${results.length - fails.length}/${results.length} pings answered (${sameNode} same node, ` +
        `${results.length - sameNode} cross node; ${
          plural(reps.filter((p) => p.dev > 0).length, "pod")
        } on secondary ENIs)` +
        (fails.length ? `; failed: ${fails.map((f) => `${f.a.rec.name}→${f.b.rec.name}`).join(", ")}` : ""),
    });

    // ---- check (b): SNAT to the internet
    const wpod = broken ?? pods.find((p) => p.dev > 0) ?? pods[0];
    const node = status.nodes[wpod.node];
    head(
      `check (b): ${wpod.rec.name} (${wpod.ip}, node-${wpod.node} eth${wpod.dev}) → whoami ${status.whoami}`,
    );
    const wr = await execInNetns(wpod.rec.netns, [
      "curl",
      "-s",
      "--max-time",
      "5",
      `http://${status.whoami}/`,
    ], { timeoutMs: 15_000 });
    const seen = wr.stdout.trim();
    log(`whoami saw ${seen || "(no answer)"}; node-${wpod.node}'s primary IP is ${node.primaryIp}`);
    checks.push({
      name: "SNAT to internet",
      ok: wr.code === 0 && seen === node.primaryIp,
      detail: wr.code === 0
        ? `whoami saw ${seen}, node primary ${node.primaryIp}${
          seen === node.primaryIp ? " (SNATed)" : " (NOT SNATed)"
        }`
        : `curl failed (exit ${wr.code})`,
    });

    // ---- check (c): metrics and introspection inside node namespaces
    head("check (c): metrics :61678 and introspection 127.0.0.1:61679 inside each node namespace");
    for (const n of status.nodes) {
      const onNode = pods.filter((p) => p.node === n.index);
      const curl = (url: string) => execInNetns(n.netns, ["curl", "-s", "--max-time", "5", url]);
      // Gauges are set when a pool plan finishes (the one after the last ADD may still be at EC2): poll a bit.
      const tm = Date.now();
      let m, en, hz;
      for (;;) {
        [m, en, hz] = await Promise.all([
          curl("http://127.0.0.1:61678/metrics"),
          curl("http://127.0.0.1:61679/v1/enis"),
          curl("http://127.0.0.1:61679/healthz"),
        ]);
        const line = m.stdout.split("\n").find((l) => l.startsWith("awscni_assigned_ip_addresses "));
        if (Number(line?.split(" ").pop()) === onNode.length || Date.now() - tm > 10_000) break;
        await sleep(500);
      }
      const metric = (name: string) => {
        const line = m.stdout.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
        return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
      };
      const names_ = new Set(
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
      } catch { /* not JSON: fails below */ }
      const want = onNode.map((p) => p.ip).sort();
      const ok = m.code === 0 && assigned === onNode.length && enis === introEnis && introEnis > 0 &&
        JSON.stringify(introAssigned) === JSON.stringify(want) && hz.stdout.trim() === "ok";
      log(
        `${n.name}: ${names_.size} awscni_* metrics; awscni_assigned_ip_addresses ${assigned} ` +
          `(pods ${onNode.length}), awscni_eni_allocated ${enis}; /v1/enis: ${introEnis} ENIs, ` +
          `${introAssigned.length} assigned IPs ${
            JSON.stringify(introAssigned) === JSON.stringify(want) ? "= the pods' IPs" : "≠ the pods' IPs"
          }; /healthz ${JSON.stringify(hz.stdout.trim())}`,
      );
      checks.push({
        name: `metrics+introspection ${n.name}`,
        ok,
        detail:
          `assigned ${assigned}/${onNode.length}, ENIs ${enis}/${introEnis}, healthz ${hz.stdout.trim()}`,
      });
    }

    if (o.keep) {
      head("--keep: the lab stays up");
      for (const n of status.nodes) {
        log(`  ${n.name}:  ip netns exec ${n.netns} bash`);
        log(`          npx -y deno@2.9.6 task ipamd status --socket ${n.ipamdSocket}`);
        log(`          ip netns exec ${n.netns} curl -s 127.0.0.1:61679/v1/enis`);
      }
      log(`  pods:   npx -y deno@2.9.6 task lab pod list --state-dir ${stateDir}`);
      log(`  a pod:  ip netns exec ${pods[0].rec.netns} busybox ping -c1 ${pods.at(-1)!.ip}`);
      log(`  down:   npx -y deno@2.9.6 task lab down --state-dir ${stateDir}`);
      return summarize(log, checks, stateDir);
    }

    // ---- delete and shrink
    head(`deleting ${nPods} pods`);
    for (const p of pods) {
      const ts = Date.now();
      await podDel(names, p.rec.name);
      log(`  ${p.rec.name} (${p.ip}, node-${p.node} eth${p.dev}) deleted in ${secs(Date.now() - ts)}`);
    }
    if (o.shrink !== false) {
      head("waiting for the pool to shrink back to 1 ENI + 2 IPs per node");
      log(
        "ipamd keeps freed IPs cooling for IP_COOLDOWN_PERIOD (10 s here), shrinks at most every 30 s, and " +
          "never frees an ENI under 60 s old",
      );
      const deadline = Date.now() + 150_000;
      let lastLine = 0;
      let done = false;
      while (Date.now() < deadline) {
        const views = await Promise.all(status.nodes.map(async (n) => ({
          n,
          pool: await ipamdGet<PoolView>(n.ipamdSocket, "/v1/pool"),
          enis: flattenEnis(await ipamdGet<UpstreamEnis>(n.ipamdSocket, "/v1/enis")),
        })));
        done = views.every((v) =>
          v.pool.enis.length === 1 && v.pool.totals.total <= Number(DEMO_IPAMD_ENV.WARM_IP_TARGET)
        );
        if (done || Date.now() - lastLine >= 10_000) {
          lastLine = Date.now();
          for (const v of views) {
            const young = Object.values(v.enis.enis).filter((e) => e.deviceNumber > 0).map((e) =>
              `eth${e.deviceNumber} is ${Math.round((Date.now() - Date.parse(e.createdAt)) / 1000)} s old`
            );
            const waiting = [
              v.pool.totals.cooling ? `${v.pool.totals.cooling} IPs cooling` : "",
              ...young,
            ].filter(Boolean).join(", ");
            log(
              `  ${stamp()} ${v.n.name}: ${v.pool.enis.length} ENI(s), ${v.pool.totals.total} IPs ` +
                `(${v.pool.totals.free} free, ${v.pool.totals.cooling} cooling)` +
                (waiting ? `; waiting: ${waiting}` : "") +
                (v.pool.plan ? `; plan: ${v.pool.plan.reason}` : ""),
            );
          }
        }
        if (done) break;
        await sleep(2000);
      }
      checks.push({
        name: "pool shrank",
        ok: done,
        detail: done ? "every node is back to 1 ENI and ≤ 2 IPs" : "still above target after 150 s",
      });
      podByContainer.clear();
      await draw("the pool after the pods left");
    }
    return summarize(log, checks, stateDir);
  } catch (e) {
    log(`demo: ${(e as Error).message}`);
    checks.push({ name: "demo ran", ok: false, detail: (e as Error).message.split("\n")[0] });
    return summarize(log, checks, stateDir);
  } finally {
    if (!o.keep) await teardown();
    log(`${stamp()} total`);
  }
}

function summarize(log: (l: string) => void, checks: CheckResult[], stateDir: string): DemoResult {
  log(`\n── result ${"─".repeat(90)}`);
  for (const c of checks) log(`  ${c.ok ? "PASS" : "FAIL"}  ${pad(c.name, 30)} ${c.detail}`);
  const ok = checks.length > 0 && checks.every((c) => c.ok);
  log(ok ? "every check passed" : `${checks.filter((c) => !c.ok).length} check(s) failed`);
  return { ok, checks, stateDir };
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      pods: { type: "string", default: "12" },
      latency: { type: "string", default: "realistic" },
      "state-dir": { type: "string", default: "/run/vpc-cni-demo" },
      keep: { type: "boolean", default: false },
      "no-shrink": { type: "boolean", default: false },
      break: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (v.help) {
    console.log(
      "usage: deno task demo [--pods N] [--latency none|realistic] [--state-dir DIR] [--keep] [--no-shrink]",
    );
    Deno.exit(0);
  }
  if (!isRoot()) {
    console.error(
      "demo: needs root (it makes network namespaces, veths, routes and iptables rules, and installs " +
        "Debian packages). Run: sudo npx -y deno@2.9.6 task demo",
    );
    Deno.exit(1);
  }
  const pods = Number(v.pods);
  if (!Number.isInteger(pods) || pods < 2 || pods > 40) {
    console.error(`demo: --pods needs an integer 2..40, got "${v.pods}"`);
    Deno.exit(2);
  }
  if (v.latency !== "none" && v.latency !== "realistic") {
    console.error(`demo: --latency needs none or realistic`);
    Deno.exit(2);
  }
  if (v.break !== undefined && v.break !== "route" && v.break !== "rule") {
    console.error(`demo: --break needs route or rule`);
    Deno.exit(2);
  }
  let teardown: (() => Promise<void>) | undefined;
  let interrupted = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      if (interrupted) return;
      interrupted = true;
      console.log(`\ndemo: ${sig}: tearing the lab down`);
      (teardown ? teardown() : Promise.resolve()).finally(() => Deno.exit(130));
    });
  }
  const r = await runDemo({
    pods,
    latency: v.latency,
    stateDir: v["state-dir"],
    keep: v.keep,
    shrink: !v["no-shrink"],
    breakWhat: v.break as "route" | "rule" | undefined,
    onTeardown: (fn) => teardown = fn,
  });
  Deno.exit(r.ok ? 0 : 1);
}

/** "1 pod", "2 pods". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
