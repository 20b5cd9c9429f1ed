/**
 * The demo's steps around its checks: bring the lab up and wait for the warm pools, add the pods (retrying
 * code 11 as a kubelet would), print how to reach a kept lab, delete the pods, and wait for the pools to
 * shrink back, saying what they wait for. Every figure the text names is read from ipamd's constants and the
 * demo's ipamd settings, so the text cannot drift from what ipamd does.
 * @module
 */
import { ENI_MIN_AGE_MS, SHRINK_INTERVAL_MS } from "../src/ipamd/pool.ts";
import { type EnisView as UpstreamEnis, flattenEnis } from "../src/ipamd/introspection.ts";
import { labDown, labUp, type UpOptions } from "../src/sim/daemon_launch.ts";
import type { LabStatus } from "../src/sim/daemon_client.ts";
import type { PodRecord } from "../src/sim/lab_state.ts";
import type { LabNames } from "../src/sim/naming.ts";
import { CniPluginError } from "../src/sim/runtime.ts";
import { podAdd, podDel } from "../src/sim/runtime_pod.ts";
import {
  DEMO_COOLDOWN_S,
  DEMO_IPAMD_ENV,
  DEMO_WARM_IPS,
  type DemoContext,
  ipamdGet,
  type PoolView,
  waitIpamdReady,
} from "./demo_context.ts";
import { placement } from "./demo_draw.ts";

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long the demo waits for the pools to shrink: cooldown, ENI age and shrink interval, with room. */
export const SHRINK_WAIT_MS = 150_000;

/** What `lab up` is asked for. */
export interface DemoLab {
  names: LabNames;
  stateDir: string;
  instanceType: string;
  latency: "none" | "realistic";
  pods: number;
  /** ENIs per node and usable pod IPs per ENI of the instance type. */
  maxEnis: number;
  usable: number;
}

/**
 * Brings the demo's 2-node lab up with `extra` (taking down one an earlier `--keep` left) and waits until ipamd
 * answers ready on both nodes; both demos start so.
 */
export async function startLab(
  lab: DemoLab,
  log: (l: string) => void,
  extra: Pick<UpOptions, "ipamdEnv" | "ipv6">,
): Promise<LabStatus> {
  try {
    Deno.statSync(lab.names.labJson);
    log(`a lab is already in ${lab.stateDir} (an earlier --keep?): taking it down first`);
    await labDown(lab.stateDir);
  } catch { /* none: the usual case */ }
  const { status } = await labUp({
    stateDir: lab.stateDir,
    nodes: 2,
    instanceType: lab.instanceType,
    latency: lab.latency,
    ...extra,
  });
  await Promise.all(status.nodes.map((n) => waitIpamdReady(n.ipamdSocket, 120_000)));
  return status;
}

/** Brings the 2-node lab up (taking down one a `--keep` left), waits for ipamd and the warm pools. */
export async function bringUp(
  lab: DemoLab,
  log: (l: string) => void,
  head: (s: string) => void,
  stamp: () => string,
): Promise<LabStatus> {
  head(
    `lab up: 2 × ${lab.instanceType} (${lab.maxEnis} ENIs × ${lab.usable} pod IPs each), ${lab.latency} EC2 latency`,
  );
  log(
    `ipamd env: ${Object.entries(DEMO_IPAMD_ENV).map(([k, v]) => `${k}=${v}`).join(" ")} (warm pool = ` +
      `${DEMO_WARM_IPS} free IPs per node, so ${lab.pods} pods make it grow; cooldown ${DEMO_COOLDOWN_S} s so it ` +
      `shrinks quickly)`,
  );
  const status = await startLab(lab, log, { ipamdEnv: DEMO_IPAMD_ENV });
  log(`lab ${status.id} in ${lab.stateDir}: EC2 ${status.ec2Endpoint}, Kubernetes ${status.kubeApiEndpoint}`);
  for (const n of status.nodes) {
    log(`  ${n.name}  ${n.instanceId}  primary IP ${n.primaryIp}  netns ${n.netns}`);
  }
  log(`${stamp()} ipamd ready on both nodes`);
  for (const n of status.nodes) {
    // The first pool plan (warm IPs) runs right after start-up; show the pool once it is there.
    let p = await ipamdGet<PoolView>(n.ipamdSocket, "/v1/pool");
    for (const end = Date.now() + 30_000; p.totals.free < DEMO_WARM_IPS && Date.now() < end;) {
      await sleep(250);
      p = await ipamdGet<PoolView>(n.ipamdSocket, "/v1/pool");
    }
    log(`  ${n.name} warm pool: ${p.enis.length} ENI, ${p.totals.free} IPs free`);
  }
  return status;
}

/** Adds one pod, retrying CNI code 11 (the pool is growing) for up to 60 s as kubelet does. */
async function addOne(
  ctx: DemoContext,
  name: string,
  node: number,
): Promise<{ rec: PodRecord; retries: number }> {
  const t0 = Date.now();
  for (let retries = 0;; retries++) {
    try {
      return { rec: await podAdd(ctx.names, name, { node }), retries };
    } catch (e) {
      if (!(e instanceof CniPluginError && e.code === 11 && Date.now() - t0 < 60_000)) throw e;
      await sleep(500);
    }
  }
}

/** Adds `count` pods (node 0 gets enough to need a second ENI), one line each: IP, ENI, time, pool. */
export async function addPods(ctx: DemoContext, count: number): Promise<void> {
  ctx.head(`adding ${count} pods`);
  const where = placement(count, ctx.usable);
  for (let i = 0; i < count; i++) {
    const name = `demo-${String(i + 1).padStart(2, "0")}`;
    const node = where[i];
    const t0 = Date.now();
    const { rec, retries } = await addOne(ctx, name, node);
    const ms = Date.now() - t0;
    const pool = await ipamdGet<PoolView>(ctx.status.nodes[node].ipamdSocket, "/v1/pool");
    const eniId = pool.pods.find((p) => p.ip === rec.podIp)?.eniId ?? "?";
    const dev = pool.enis.find((e) => e.eniId === eniId)?.deviceNumber ?? -1;
    ctx.pods.push({ rec, ip: rec.podIp ?? "", node, eniId, dev });
    const creating = pool.pendingEnis ? `, ${pool.pendingEnis} ENI creating` : "";
    ctx.log(
      `  [${String(i + 1).padStart(2)}/${count}] ${name} → ${(rec.podIp ?? "-").padEnd(12)} node-${node}  ` +
        `eth${dev} ${eniId}  ${secs(ms)}${retries ? ` (${retries} retries while the pool grew)` : ""}` +
        `   pool: ${pool.enis.length} ENIs, ${pool.totals.free} free${creating}`,
    );
  }
}

/** `--keep`: how to reach the lab that stays up (`ping` is busybox's: `ping`, or `ping -6` for IPv6 pods). */
export function printKeep(ctx: DemoContext, ping = "ping"): void {
  ctx.head("--keep: the lab stays up");
  for (const n of ctx.status.nodes) {
    ctx.log(`  ${n.name}:  ip netns exec ${n.netns} bash`);
    ctx.log(`          npx -y deno@2.9.6 task ipamd status --socket ${n.ipamdSocket}`);
    ctx.log(`          ip netns exec ${n.netns} curl -s 127.0.0.1:61679/v1/enis`);
  }
  ctx.log(`  pods:   npx -y deno@2.9.6 task lab pod list --state-dir ${ctx.stateDir}`);
  ctx.log(`  a pod:  ip netns exec ${ctx.pods[0].rec.netns} busybox ${ping} -c1 ${ctx.pods.at(-1)!.ip}`);
  ctx.log(`  down:   npx -y deno@2.9.6 task lab down --state-dir ${ctx.stateDir}`);
}

/** Deletes every pod, one line each. */
export async function deletePods(ctx: DemoContext): Promise<void> {
  ctx.head(`deleting ${ctx.pods.length} pods`);
  for (const p of ctx.pods) {
    const t0 = Date.now();
    await podDel(ctx.names, p.rec.name);
    ctx.log(`  ${p.rec.name} (${p.ip}, node-${p.node} eth${p.dev}) deleted in ${secs(Date.now() - t0)}`);
  }
}

/** One line per node: ENIs, IPs, what the shrink waits for, and ipamd's plan for the pool as it is now. */
async function shrinkProgress(ctx: DemoContext) {
  const views = await Promise.all(ctx.status.nodes.map(async (n) => ({
    n,
    pool: await ipamdGet<PoolView>(n.ipamdSocket, "/v1/pool"),
    enis: flattenEnis(await ipamdGet<UpstreamEnis>(n.ipamdSocket, "/v1/enis")),
  })));
  const done = views.every((v) => v.pool.enis.length === 1 && v.pool.totals.total <= DEMO_WARM_IPS);
  const lines = views.map(({ n, pool, enis }) => {
    const young = Object.values(enis.enis).filter((e) => e.deviceNumber > 0).map((e) =>
      `eth${e.deviceNumber} is ${Math.round((Date.now() - Date.parse(e.createdAt)) / 1000)} s old`
    );
    const waiting = [pool.totals.cooling ? `${pool.totals.cooling} IPs cooling` : "", ...young]
      .filter(Boolean).join(", ");
    return `  ${ctx.stamp()} ${n.name}: ${pool.enis.length} ENI(s), ${pool.totals.total} IPs ` +
      `(${pool.totals.free} free, ${pool.totals.cooling} cooling)` +
      (waiting ? `; waiting: ${waiting}` : "") +
      (pool.plan ? `; plan: ${pool.plan.reason}` : "");
  });
  return { done, lines };
}

/** Waits (up to {@linkcode SHRINK_WAIT_MS}) for every node to be back to 1 ENI and its warm IPs. */
export async function waitForShrink(ctx: DemoContext): Promise<void> {
  ctx.head(`waiting for the pool to shrink back to 1 ENI + ${DEMO_WARM_IPS} IPs per node`);
  ctx.log(
    `ipamd keeps freed IPs cooling for IP_COOLDOWN_PERIOD (${DEMO_COOLDOWN_S} s here), shrinks at most every ` +
      `${SHRINK_INTERVAL_MS / 1000} s, and never frees an ENI under ${ENI_MIN_AGE_MS / 1000} s old`,
  );
  const deadline = Date.now() + SHRINK_WAIT_MS;
  let lastLine = 0;
  let done = false;
  while (!done && Date.now() < deadline) {
    const p = await shrinkProgress(ctx);
    done = p.done;
    if (done || Date.now() - lastLine >= 10_000) {
      lastLine = Date.now();
      for (const l of p.lines) ctx.log(l);
    }
    if (!done) await sleep(2000);
  }
  ctx.checks.push({
    name: "pool shrank",
    ok: done,
    detail: done
      ? `every node is back to 1 ENI and ≤ ${DEMO_WARM_IPS} IPs`
      : `still above target after ${SHRINK_WAIT_MS / 1000} s`,
  });
}
