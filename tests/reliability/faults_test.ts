/**
 * EC2 and IMDS faults on a two-node lab (`throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.3`, plus EC2's
 * own token buckets): each pool still reaches its warm target, every pod eventually gets an address or a
 * clear retryable error (CNI code 11, never anything else), no ENI leaks (a failed attach must not leave
 * an `available` ENI behind), the invariants hold, and the number of EC2 calls stays within a stated bound
 * (no throttling storm). Root only.
 *
 * Each round starts with attach-fail=1, kept on until a pod past the warm addresses has been told to wait
 * (code 11) and an attach has failed (so the ENIs created meanwhile must be cleaned up): a condition, not a
 * fixed window, so a slow or fast machine sees the same thing. Fast: one round to 20 pods per node, then
 * half deleted. Soak (`VPC_CNI_SOAK=1`): 4 rounds to 26 pods per node.
 * @module
 */
import assert from "node:assert/strict";
import { fetchStatus } from "../../src/sim/daemon_client.ts";
import { listPodRecords } from "../../src/sim/lab_state.ts";
import { CniPluginError } from "../../src/sim/runtime.ts";
import { podAdd, podDel } from "../../src/sim/runtime_pod.ts";
import { withLab } from "../helpers/lab.ts";
import { until } from "../../harness/poll.ts";
import { rootOnly } from "../helpers/root.ts";
import { withSeed } from "../../harness/seed.ts";
import { poolOf, settle, testEc2Calls, waitIpamdReady } from "./invariants.ts";

const SOAK = Deno.env.get("VPC_CNI_SOAK") === "1";
const FAULTS = "throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.3";
const NODES = 2;
/** Pods per node after each round's adds (m5.large holds 27); each round then deletes half. */
const LIVE_PER_NODE = SOAK ? 26 : 20;
const ROUNDS = SOAK ? 4 : 1;
/** The longest every attach may be kept failing while waiting for a pod to be told to retry. */
const BLOCKED_DEADLINE_MS = 120_000;
/** m5.large: 3 ENIs × 9 usable IPs; WARM_ENI_TARGET=1 starts with 2 ENIs (18 IPs). */
const IPS_PER_ENI = 9;
const POD_DEADLINE_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The bound on EC2 calls: without faults ipamd needs about 6 calls per ENI it brings up (Create, Attach,
 * Modify, Assign, 2 Describe) and a handful per node to start. Every call fails with probability about
 * 0.25 (throttle 0.2 + 5xx 0.05) and a retry costs one more, attach-fail 0.3 costs a whole ENI (4 more,
 * with the cleanup). So allow 3× the fault-free cost: 30 per node + 30 per ENI attached. While every attach
 * fails, a node may try about once a second (Create, Attach, Delete, a Describe, retries): 5 calls per node
 * per second; a retry loop without backoff would blow through this.
 */
function callBound(nodes: number, enis: number, blockedSeconds: number): number {
  return 30 * nodes + 30 * enis + 5 * nodes * blockedSeconds;
}

Deno.test({
  name:
    "faults: throttling, 5xx, IMDS lag, failed attaches: pools fill, pods get IPs or code 11, no leak, bounded calls",
  ...rootOnly,
  // The lab's fault dice: seed 1, or VPC_CNI_TEST_SEED to try (and replay) another.
  fn: () => withSeed("faults", (_rng, seed) => faultsRun(seed), { fixed: 1 }),
});

/** The faults run on a lab whose fault dice use `seed`. */
async function faultsRun(seed: number): Promise<void> {
  await withLab({ nodes: NODES, instanceType: "m5.large", faults: FAULTS, seed }, async (lab) => {
    const { names } = lab;
    const nodes = lab.status.nodes.map((n) => ({ index: n.index, instanceId: n.instanceId }));
    const t0 = performance.now();
    for (const n of nodes) await waitIpamdReady(names, n.index, 120_000);
    // Warm target: two full ENIs per node.
    const fill = async (min: number) => {
      const end = Date.now() + 120_000;
      for (const n of nodes) {
        for (;;) {
          const p = await poolOf(names, n.index);
          if (p.totals.free >= min && p.pendingEnis === 0) break;
          if (Date.now() > end) {
            throw new Error(`node ${n.index} pool stuck: ${JSON.stringify(p.totals)}`);
          }
          await sleep(250);
        }
      }
    };
    await fill(2 * IPS_PER_ENI);
    const warmMs = Math.round(performance.now() - t0);

    const codes = new Map<number, number>();
    let attempts = 0;
    let seq = 0;
    const addPod = async (node: number) => {
      const name = `f${seq++}`;
      const end = Date.now() + POD_DEADLINE_MS;
      for (let backoff = 200;; backoff = Math.min(backoff * 2, 3000)) {
        attempts++;
        try {
          return await podAdd(names, name, { node });
        } catch (e) {
          if (!(e instanceof CniPluginError)) throw e;
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
          assert.equal(e.code, 11, `pod ${name}: not a retryable error: ${e.message}`);
          assert.ok(e.msg.length > 10, `pod ${name}: unclear message "${e.msg}"`);
          if (Date.now() > end) {
            throw new Error(`pod ${name} got no IP in ${POD_DEADLINE_MS} ms: ${e.message}`);
          }
          await sleep(backoff);
        }
      }
    };

    const setFaults = async (faults: string) => {
      const r = await lab.fetch("/lab/faults", { method: "PUT", body: JSON.stringify({ faults }) });
      assert.equal(r.status, 200, await r.text());
    };
    type Counters = Record<string, { calls: number; errors: number }>;
    const counters = async () => (await fetchStatus(names)).apiCounters as Counters;
    let deleted = 0;
    let attachFailures = 0;
    let blockedMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Every attach fails for a while: pods past the warm IPs must get code 11, ENIs must not leak.
      const before = (await counters()).AttachNetworkInterface?.errors ?? 0;
      await setFaults(FAULTS.replace("attach-fail=0.3", "attach-fail=1"));
      const blockedAt = performance.now();
      const code11Before = codes.get(11) ?? 0;
      // Attaches stay blocked until a pod was told to retry and an attach failed, then normal faults.
      const unblock = until(
        "a pod told to retry (code 11) while every attach fails",
        async () => {
          if ((codes.get(11) ?? 0) === code11Before) return false;
          return ((await counters()).AttachNetworkInterface?.errors ?? 0) > before;
        },
        BLOCKED_DEADLINE_MS,
        200,
      ).finally(async () => {
        await setFaults(FAULTS);
        blockedMs += performance.now() - blockedAt;
      });
      const jobs: Promise<unknown>[] = [unblock];
      for (const n of nodes) {
        let left = LIVE_PER_NODE - listPodRecords(names).filter((r) => r.node === n.index).length;
        // Three at a time per node, as a kubelet starting pods would.
        const lane = async () => {
          while (left-- > 0) await addPod(n.index);
        };
        jobs.push(lane(), lane(), lane());
      }
      await Promise.all(jobs);
      attachFailures += ((await counters()).AttachNetworkInterface?.errors ?? 0) - before;
      assert.deepEqual(await settle(names, nodes, 90_000), [], `round ${round}: after adds`);
      // Delete half (DEL never needs a retry, faults or not).
      const recs = listPodRecords(names);
      for (const r of recs.slice(0, Math.ceil(recs.length / 2))) {
        await podDel(names, r.name);
        deleted++;
      }
      assert.deepEqual(await settle(names, nodes, 90_000), [], `round ${round}: after deletes`);
    }
    await fill(1);
    assert.ok(attachFailures > 0, "no attach failed");
    assert.ok((codes.get(11) ?? 0) > 0, "no pod was told to retry while attaches failed");

    const c = await counters();
    // Every HTTP call (ec2Calls counts only those that reached the model), minus our own checks.
    const calls = Object.values(c).reduce((a, x) => a + x.calls, 0) - testEc2Calls.n;
    const failed = Object.values(c).reduce((a, x) => a + x.errors, 0);
    const enis = (await Promise.all(nodes.map((n) => poolOf(names, n.index))))
      .reduce((a, p) => a + p.enis.length, 0);
    // At least 6 s a round: retries scheduled while blocked still fire after the attaches work again.
    const bound = callBound(NODES, enis, Math.max(6 * ROUNDS, Math.ceil(blockedMs / 1000)));
    const perAction = Object.fromEntries(
      Object.entries(c).map(([k, v]) => [k, `${v.calls}/${v.errors}`]),
    );
    assert.ok(calls <= bound, `${calls} EC2 calls > bound ${bound}: ${JSON.stringify(perAction)}`);
    assert.ok(failed > 0, "no fault was injected");
    console.log(
      `faults (${FAULTS}): pools warm in ${warmMs} ms; ${seq} pods added in ${attempts} attempts ` +
        `(CNI codes ${
          JSON.stringify(Object.fromEntries(codes))
        }), ${deleted} deleted; ${enis} ENIs attached; ` +
        `${attachFailures} failed attaches while blocked ${
          Math.round(blockedMs)
        } ms; ${calls} ipamd EC2 calls (bound ${bound}; +${testEc2Calls.n} by ` +
        `the checks), ${failed} throttled/failed; calls/errors ${JSON.stringify(perAction)}; 0 leaks`,
    );
  });
}
