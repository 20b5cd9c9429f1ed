/**
 * The fleet simulation against the real lab, on the same small scenario: 2 × m5.large, the lab's realistic
 * EC2 latencies, IMDS lag 1 s, EC2's account token buckets on (the lab's throttling), a 40-pod burst (20 per
 * node) once the warm pools have settled. WARM_IP_TARGET=1 keeps the warm pool small so that pod-ready is
 * decided by EC2 and ipamd's design (with the default warm pool, 18 of each node's 20 pods would be ready in
 * the socket's few milliseconds, which the simulation does not model); LEAKED_ENI_CLEANUP_DELAY keeps the
 * periodic GC out of the window on both sides.
 *
 * Pod-ready is measured the same way on both sides: from the burst to ipamd's socket answering add-network
 * with 200, with kubelet's retries of "try again later" (pods.ts). The lab's `pod add` (sandbox, CNI plugin)
 * is left out on purpose: it is slow and being reworked, and this compares ipamd's design.
 *
 * The bars: the simulation's p50 and p95 within 25 % of the lab's, its EC2 calls (attempts, throttled ones
 * included) within 10 %. The lab runs in real time on a loaded machine, so a miss is measured once more on a
 * fresh lab and both runs are reported; the simulation is deterministic (seed 1, as the lab's realism).
 */
import assert from "node:assert/strict";
import { systemClock } from "../src/common/clock.ts";
import { unixFetch } from "../src/common/unix_fetch.ts";
import { addOverHttp, type PodOutcome, podRequest, runPod } from "../src/sim/fleet/pods.ts";
import { quantile, summarize } from "../src/sim/fleet/report.ts";
import { DEFAULT_SCENARIO, runScenario, type Scenario } from "../src/sim/fleet/scenario.ts";
import { ipamdGet, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { until } from "../harness/poll.ts";
import { rootOnly } from "./helpers/root.ts";
import { kubeletPodWorkerDelay } from "../src/sim/kubelet_retry.ts";
import { Rng } from "../src/sim/realism_rng.ts";

const SCENARIO: Scenario = {
  ...DEFAULT_SCENARIO,
  nodes: 2,
  podsPerNode: 20,
  joinSeconds: 0,
  instanceType: "m5.large",
  arrival: "burst",
  podDelaySeconds: 30,
  burstSpreadSeconds: 0.4,
  env: { WARM_IP_TARGET: "1", LEAKED_ENI_CLEANUP_DELAY: "3600" },
  faults: "imds-lag=1s",
  latency: "realistic",
  seed: 1,
  quietSeconds: 30,
};
const BARS = { latency: 0.25, calls: 0.10 };

/** One side's figures. */
interface Figures {
  p50: number;
  p95: number;
  failed: number;
  calls: number;
  byAction: Record<string, number>;
}

function simulate(): Promise<Figures> {
  return runScenario(SCENARIO).then((r) => {
    const s = summarize(r);
    const byAction = Object.fromEntries(Object.entries(s.ec2ByAction).map(([a, c]) => [a, c.calls]));
    return { p50: s.p50, p95: s.p95, failed: s.failedPods, calls: s.ec2Calls, byAction };
  });
}

/** Whether node i's pool is at rest: nothing pending or waiting, and its warm IP there. */
async function settled(lab: TestLab, i: number): Promise<boolean> {
  const { status, body } = await ipamdGet(lab, i, "/v1/pool");
  return status === 200 && body.pendingEnis === 0 && body.pendingIps === 0 && body.waitingPods === 0 &&
    body.totals.free >= 1;
}

async function allSettled(lab: TestLab, what: string): Promise<void> {
  await until(what, async () => (await settled(lab, 0)) && (await settled(lab, 1)), 120_000, 200);
}

/** The burst on the lab: each node's add-networks sent to its ipamd socket spread as in the simulation. */
async function labBurst(lab: TestLab): Promise<PodOutcome[]> {
  const pods: PodOutcome[] = [];
  const rng = new Rng(SCENARIO.seed);
  const kubeletDelay = kubeletPodWorkerDelay(() => rng.next());
  const gapMs = (SCENARIO.burstSpreadSeconds * 1000) / SCENARIO.podsPerNode;
  await Promise.all(
    lab.status.nodes.flatMap((n, i) =>
      Array.from({ length: SCENARIO.podsPerNode }, async (_, k) => {
        await systemClock.sleep(k * gapMs);
        const out: PodOutcome = { node: i, arrivedAt: systemClock.now(), attempts: 0 };
        pods.push(out);
        const api = async (req: Request) =>
          unixFetch(n.ipamdSocket, new URL(req.url).pathname, { method: req.method, body: await req.text() });
        await runPod(() => addOverHttp(api, podRequest(i, k)), systemClock, out, kubeletDelay);
      })
    ),
  );
  return pods;
}

function measureLab(): Promise<Figures> {
  const { nodes, instanceType, latency, faults, env } = SCENARIO;
  return withLab({ nodes, instanceType, latency, faults, ipamdEnv: env }, async (lab) => {
    for (const i of [0, 1]) await waitIpamdReady(lab, i);
    await allSettled(lab, "the warm pools before the burst");
    const pods = await labBurst(lab);
    await allSettled(lab, "the pools after the burst");
    const status = await lab.fetch("/lab/status").then((r) => r.json());
    const byAction: Record<string, number> = {};
    for (
      const n of status.nodes as { ec2Calls: Record<string, number>; ec2Rejected: Record<string, number> }[]
    ) {
      for (const counts of [n.ec2Calls, n.ec2Rejected]) {
        for (const [a, c] of Object.entries(counts ?? {})) byAction[a] = (byAction[a] ?? 0) + c;
      }
    }
    const lat = pods.filter((p) => p.readyAt !== undefined).map((p) => (p.readyAt! - p.arrivedAt) / 1000)
      .sort((a, b) => a - b);
    return {
      p50: quantile(lat, 0.5),
      p95: quantile(lat, 0.95),
      failed: pods.length - lat.length,
      calls: Object.values(byAction).reduce((a, b) => a + b, 0),
      byAction,
    };
  });
}

const off = (sim: number, lab: number) => Math.abs(sim - lab) / lab;

/** What misses the bars (empty when none). */
function misses(lab: Figures, sim: Figures): string[] {
  const out: string[] = [];
  if (lab.failed || sim.failed) out.push(`failed pods: lab ${lab.failed}, simulation ${sim.failed}`);
  for (const k of ["p50", "p95"] as const) {
    if (!(off(sim[k], lab[k]) <= BARS.latency)) {
      out.push(`${k} off by ${(off(sim[k], lab[k]) * 100).toFixed(0)} %`);
    }
  }
  if (!(off(sim.calls, lab.calls) <= BARS.calls)) {
    out.push(`EC2 calls off by ${(off(sim.calls, lab.calls) * 100).toFixed(0)} %`);
  }
  return out;
}

function table(lab: Figures, sim: Figures, run: number): string {
  const row = (what: string, l: number | string, s: number | string) =>
    `  ${what.padEnd(34)} ${String(l).padStart(9)} ${String(s).padStart(11)}`;
  const f = (x: number) => x.toFixed(3);
  const actions = [...new Set([...Object.keys(lab.byAction), ...Object.keys(sim.byAction)])].sort();
  return [
    `fleet honesty, lab run ${run} (simulation seed ${SCENARIO.seed}):`,
    row("", "lab", "simulation"),
    row("pod-ready p50 (s)", f(lab.p50), f(sim.p50)),
    row("pod-ready p95 (s)", f(lab.p95), f(sim.p95)),
    row("failed pods", lab.failed, sim.failed),
    row("EC2 calls", lab.calls, sim.calls),
    ...actions.map((a) => row(`  ${a}`, lab.byAction[a] ?? 0, sim.byAction[a] ?? 0)),
  ].join("\n");
}

Deno.test({
  name: "fleet honesty: the simulation's pod-ready p50/p95 within 25 % of the lab's, EC2 calls within 10 %",
  ...rootOnly,
}, async () => {
  const sim = await simulate();
  const reports: string[] = [];
  for (let run = 1; run <= 2; run++) {
    const lab = await measureLab();
    reports.push(table(lab, sim, run));
    const miss = misses(lab, sim);
    console.log(`${reports.at(-1)}\n  ${miss.length ? `missed: ${miss.join("; ")}` : "within the bars"}`);
    if (!miss.length) return;
    if (run === 2) {
      assert.fail(
        `the simulation disagrees with the lab twice (seed ${SCENARIO.seed}): ${miss.join("; ")}\n` +
          reports.join("\n"),
      );
    }
  }
});
