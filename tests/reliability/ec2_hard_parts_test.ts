/**
 * EC2's hard parts on a two-node lab: eventual consistency (`consistency-lag=2s`), the attaching state
 * (`attach-lag=1s`) and lost answers (`lost-response=0.2`), on top of today's faults (throttling, 5xx, IMDS
 * lag, failed attaches) and EC2's token buckets. Root only.
 *
 * The churn: the pools warm up; then every attach fails until a pod past the warm addresses was told to wait
 * (code 11) and at least `LOST_CREATES` CreateNetworkInterface answers were lost (so ipamd makes and undoes
 * ENIs over and over while answers get lost: a condition, not a window). To reach that at once rather than by
 * chance, every mutating answer is lost (`lost-response=1`) from the start of the blocked phase until one
 * create answer was, then the rate goes back to 0.2. Then the pods fill up to 20 a node and half are deleted.
 * What must hold:
 * - every pod gets an IP, after zero or more retryable errors (CNI code 11), never another code;
 * - every ENI tagged for a node is attached to that node: 0 leaked, and 0 removed by ipamd's leaked-ENI GC
 *   or reconcile (`awscni_force_removed_enis` stays 0);
 * - no IP is held twice, and the other invariants (tests/reliability/invariants.ts);
 * - EC2 calls stay within {@link callBound}.
 *
 * The control runs the same churn with ipamd's EC2 port wrapped to drop every ClientToken
 * (ipamd_without_client_token.ts, as the nodes' agent): it must leak, one ENI per lost create answer, proving the check can fail.
 *
 * Seeded: the lab's EC2 and fault dice and the test's choices come from `VPC_CNI_TEST_SEED` (printed on
 * failure). Soak (`VPC_CNI_SOAK=1`): 3 add/delete rounds after the blocked phase.
 * @module
 */
import assert from "node:assert/strict";
import { fetchStatus } from "../../src/sim/daemon_client.ts";
import { REPO_DIR } from "../../src/sim/daemon_launch.ts";
import type { ActionStats } from "../../src/sim/realism.ts";
import { listPodRecords } from "../../src/sim/lab_state.ts";
import { retryLikeKubelet } from "../../src/sim/kubelet_retry.ts";
import { CniPluginError } from "../../src/sim/runtime.ts";
import { podAdd, podDel } from "../../src/sim/runtime_pod.ts";
import { type TestLab, withLab } from "../helpers/lab.ts";
import { until } from "../../harness/poll.ts";
import { rootOnly } from "../helpers/root.ts";
import { type Rng, withSeed } from "../../harness/seed.ts";
import { describeEnis, poolOf, settle, testEc2Calls, waitIpamdReady } from "./invariants.ts";

const SOAK = Deno.env.get("VPC_CNI_SOAK") === "1";
const TODAY = "throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.3";
const HARD = "consistency-lag=2s,attach-lag=1s,lost-response=0.2";
const FAULTS = `${TODAY},${HARD}`;
const NODES = 2;
/** Pods per node after the adds (m5.large holds 27); each round then deletes half. */
const LIVE_PER_NODE = 20;
const ROUNDS = SOAK ? 3 : 1;
/** Lost CreateNetworkInterface answers to see before attaches work again (each leaks an ENI in the control). */
const LOST_CREATES = 1;
/**
 * The longest attaches may stay blocked waiting for that: the first create after the block starts (the pods
 * past the warm addresses ask for one within seconds) loses its answer for sure, so this is an outer bound
 * for a loaded machine, not a wait for luck.
 */
const BLOCKED_DEADLINE_MS = 180_000;
/** m5.large: 3 ENIs × 9 usable IPs; WARM_ENI_TARGET=1 starts with 2 ENIs (18 IPs). */
const IPS_PER_ENI = 9;
const POD_BUDGET_MS = BLOCKED_DEADLINE_MS + 120_000;
/** The control's node agent: ipamd with its EC2 port wrapped (ipamd_without_client_token.ts), on every node. */
const CONTROL_AGENTS = Object.fromEntries(Array.from({ length: NODES }, (_, i) => [String(i), {
  argv: [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    `${REPO_DIR}/deno.json`,
    new URL("./ipamd_without_client_token.ts", import.meta.url).pathname,
    "run",
  ],
}]));

/**
 * The bound on ipamd's EC2 calls. Fault-free, ipamd needs about 6 calls per ENI it brings up (Create, Attach,
 * Modify, Assign, 2 Describe) and a handful per node to start. Here a call fails with probability about 0.4
 * (throttle 0.2, 5xx 0.05, and for a mutating call a lost answer 0.2) and each failure costs one retry; an
 * attach whose answer was lost costs a Describe or two. So allow 20 per node + 15 per ENI attached. While
 * every attach fails a node goes round every few seconds (Create, up to 8 Attach attempts with backoff, a
 * Describe, Delete): allow 1 call per node per blocked second. Measured over 8 runs: 53 to 118 calls for 6
 * ENIs, 0.3 to 0.5 calls per node per blocked second. Retries stacked on retries (5 × 8) would not fit.
 */
function callBound(nodes: number, enis: number, blockedSeconds: number): number {
  return 20 * nodes + 15 * enis + nodes * blockedSeconds;
}

/** What one churn saw. */
interface ChurnReport {
  seed: number;
  pods: number;
  addAttempts: number;
  codes: Record<number, number>;
  deleted: number;
  blockedMs: number;
  counters: Record<string, ActionStats>;
  /** ipamd's EC2 calls (the test's own checks subtracted). */
  calls: number;
  /** {@link callBound} for this run. */
  bound: number;
  /** ENIs tagged for a node and not attached to it. */
  leaked: string[];
  /** `awscni_force_removed_enis` summed over the nodes. */
  forceRemoved: number;
  enis: number;
  wallMs: number;
}

type Node = { index: number; instanceId: string };

/** Tagged-for-a-node ENIs that are not attached to that node. */
async function leakedEnis(lab: TestLab, nodes: Node[]): Promise<string[]> {
  const mine = new Set(nodes.map((n) => n.instanceId));
  return (await describeEnis(lab.names))
    .filter((e) => mine.has(e.tags["node.k8s.amazonaws.com/instance_id"]))
    .filter((e) => e.instanceId !== e.tags["node.k8s.amazonaws.com/instance_id"] || e.status !== "in-use")
    .map((e) => `${e.eniId} (${e.status}, tagged for ${e.tags["node.k8s.amazonaws.com/instance_id"]})`);
}

/** `awscni_force_removed_enis` on a node (0 when never incremented). */
async function forceRemoved(lab: TestLab, node: number): Promise<number> {
  const r = await lab.inNode(node, ["curl", "-sS", "-m", "10", "http://127.0.0.1:61678/metrics"]);
  assert.equal(r.code, 0, `metrics of node ${node}: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.startsWith("awscni_force_removed_enis"))
    .reduce((n, l) => n + Number(l.split(/\s+/).pop()), 0);
}

/** Waits until every node's pool holds `min` free IPs with no ENI pending. */
async function fill(lab: TestLab, nodes: Node[], min: number): Promise<void> {
  for (const n of nodes) {
    await until(
      `node ${n.index}: ${min} free IPs, no ENI pending`,
      async () => {
        const p = await poolOf(lab.names, n.index);
        return p.totals.free >= min && p.pendingEnis === 0;
      },
      180_000,
      250,
    );
  }
}

/** The churn on one lab; `control` stops after the blocked phase (its leaks are the point). */
async function churn(lab: TestLab, rng: Rng, seed: number, control: boolean): Promise<ChurnReport> {
  const t0 = performance.now();
  const { names } = lab;
  const nodes: Node[] = lab.status.nodes.map((n) => ({ index: n.index, instanceId: n.instanceId }));
  const counters = async () => (await fetchStatus(names)).apiCounters as Record<string, ActionStats>;
  const setFaults = async (faults: string) => {
    const r = await lab.fetch("/lab/faults", { method: "PUT", body: JSON.stringify({ faults }) });
    assert.equal(r.status, 200, await r.text());
  };
  for (const n of nodes) await waitIpamdReady(names, n.index, 120_000);
  await fill(lab, nodes, 2 * IPS_PER_ENI);

  const codes: Record<number, number> = {};
  let attempts = 0;
  let seq = 0;
  const addPod = (node: number) => {
    const name = `h${seq++}`;
    return retryLikeKubelet(() => (attempts++, podAdd(names, name, { node })), {
      retryable: (e) => e instanceof CniPluginError && e.code === 11,
      budgetMs: POD_BUDGET_MS,
      onRetry: (e) => {
        const err = e as CniPluginError;
        codes[err.code] = (codes[err.code] ?? 0) + 1;
        assert.ok(err.msg.length > 10, `pod ${name}: unclear message "${err.msg}"`);
      },
    }).catch((e) => {
      if (e instanceof CniPluginError) codes[e.code] = (codes[e.code] ?? 0) + 1;
      throw new Error(`pod ${name} on node ${node}: ${(e as Error).message}`);
    });
  };
  const lanes = (perNode: number) =>
    nodes.flatMap((n) => {
      let left = perNode - listPodRecords(names).filter((r) => r.node === n.index).length;
      const lane = async () => {
        while (left-- > 0) await addPod(n.index);
      };
      return [lane(), lane(), lane()]; // three at a time per node, as a kubelet would
    });

  // Blocked: every attach fails until a pod was told to wait and enough create answers were lost; every
  // mutating answer is lost until the first create answer was (conditions, reached at once, not by chance).
  const code11 = () => codes[11] ?? 0;
  const blocked = FAULTS.replace("attach-fail=0.3", "attach-fail=1");
  await setFaults(blocked.replace("lost-response=0.2", "lost-response=1"));
  const blockedAt = performance.now();
  let blockedMs = 0;
  const lostCreates = async () => (await counters()).CreateNetworkInterface?.lost ?? 0;
  const unblock = until(
    `${LOST_CREATES} lost CreateNetworkInterface answers while attaches fail`,
    async () => (await lostCreates()) >= LOST_CREATES,
    BLOCKED_DEADLINE_MS,
    100,
  ).finally(() => setFaults(blocked)).then(() =>
    until("a pod told to retry while attaches fail", () => code11() > 0, BLOCKED_DEADLINE_MS, 250)
  ).finally(async () => {
    await setFaults(FAULTS);
    blockedMs = performance.now() - blockedAt;
  });
  await Promise.all([unblock, ...lanes(LIVE_PER_NODE)]);

  let deleted = 0;
  for (let round = 0; round < ROUNDS && !control; round++) {
    if (round > 0) await Promise.all(lanes(LIVE_PER_NODE));
    assert.deepEqual(await settle(names, nodes, 120_000), [], `round ${round}: after adds`);
    const recs = listPodRecords(names);
    const doomed = recs.filter(() => rng.next() < 0.5);
    for (const r of doomed.length ? doomed : recs.slice(0, 1)) {
      await podDel(names, r.name);
      deleted++;
    }
    assert.deepEqual(await settle(names, nodes, 120_000), [], `round ${round}: after deletes`);
  }
  // Let ipamd finish what it was doing (an ENI it is freeing is not a leak), then count what is left.
  await fill(lab, nodes, 1);
  let leaked: string[] = [];
  await until(
    "every ENI tagged for a node attached to it",
    async () => {
      leaked = await leakedEnis(lab, nodes);
      return control || leaked.length === 0;
    },
    120_000,
    1000,
  ).catch(() => {});
  const c = await counters();
  const enis = (await Promise.all(nodes.map((n) => poolOf(names, n.index)))).reduce(
    (a, p) => a + p.enis.length,
    0,
  );
  return {
    seed,
    pods: seq,
    addAttempts: attempts,
    codes,
    deleted,
    blockedMs,
    counters: c,
    calls: Object.values(c).reduce((a, x) => a + x.calls, 0) - testEc2Calls.n,
    bound: callBound(NODES, enis, Math.max(6, Math.ceil(blockedMs / 1000))),
    leaked,
    forceRemoved: (await Promise.all(nodes.map((n) => forceRemoved(lab, n.index)))).reduce(
      (a, b) => a + b,
      0,
    ),
    enis,
    wallMs: Math.round(performance.now() - t0),
  };
}

/** One line for the log: what was injected and what it cost. */
function summary(label: string, r: ChurnReport): string {
  const perAction = Object.fromEntries(
    Object.entries(r.counters).map(([k, v]) => [k, `${v.calls}/${v.errors}/${v.lost}`]),
  );
  return `${label} (seed ${r.seed}, ${FAULTS}): ${r.pods} pods in ${r.addAttempts} attempts (CNI codes ` +
    `${JSON.stringify(r.codes)}), ${r.deleted} deleted; attaches blocked ${Math.round(r.blockedMs)} ms; ` +
    `${r.enis} ENIs attached; ${r.calls} ipamd EC2 calls (bound ${r.bound}; +${testEc2Calls.n} by the checks); ` +
    `calls/errors/lost ${
      JSON.stringify(perAction)
    }; ${r.leaked.length} leaked; force-removed ${r.forceRemoved}; ` +
    `${r.wallMs} ms`;
}

Deno.test({
  name:
    "EC2 hard parts: consistency lag, attaching, lost answers + today's faults: no leak, no IP twice, bounded",
  ...rootOnly,
  async fn() {
    await withSeed("ec2 hard parts churn", async (rng, seed) => {
      await withLab({ nodes: NODES, instanceType: "m5.large", faults: FAULTS, seed }, async (lab) => {
        const r = await churn(lab, rng, seed, false);
        console.log(summary("ec2 hard parts", r));
        assert.ok((r.codes[11] ?? 0) > 0, "no pod was told to retry");
        assert.deepEqual(Object.keys(r.codes), ["11"], `only code 11: ${JSON.stringify(r.codes)}`);
        assert.ok((r.counters.CreateNetworkInterface?.lost ?? 0) >= LOST_CREATES);
        assert.deepEqual(r.leaked, [], "ENIs tagged for a node but not attached to it");
        assert.equal(r.forceRemoved, 0, "ENIs removed by ipamd's leaked-ENI GC or reconcile");
        assert.ok(r.calls <= r.bound, `${r.calls} EC2 calls > bound ${r.bound}`);
      });
    });
  },
});

Deno.test({
  name: "EC2 hard parts, control: the same churn without ClientTokens leaks ENIs (the check can fail)",
  ...rootOnly,
  async fn() {
    await withSeed("ec2 hard parts control", async (rng, seed) => {
      const up = { nodes: NODES, instanceType: "m5.large", faults: FAULTS, seed, nodeAgents: CONTROL_AGENTS };
      await withLab(up, async (lab) => {
        const r = await churn(lab, rng, seed, true);
        console.log(summary("ec2 hard parts control", r));
        assert.ok(r.leaked.length > 0, `the control leaked nothing: ${summary("control", r)}`);
      });
    });
  },
});
