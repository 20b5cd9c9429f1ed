/**
 * WARM_IP_TARGET and MINIMUM_IP_TARGET as upstream documents them, on an m5.large lab node (3 ENIs × 10
 * IPv4, 9 usable each), pods added and deleted through the real aws-cni. With either set, ipamd keeps
 * `short = max(warm − available, minimum − total, 0)` more IPs and releases
 * `over = max(min(available − warm, total − minimum), 0)`, instead of whole warm ENIs.
 */
import assert from "node:assert/strict";
import { type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { podAdd, podDel } from "../src/sim/runtime_pod.ts";
import type { LabNames } from "../src/sim/naming.ts";
import { poolOf, type PoolSnapshot, settle, waitIpamdReady } from "./reliability/invariants.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls node 0's `/v1/pool` until ok(pool); the error shows the last pool. */
async function poolUntil(
  names: LabNames,
  what: string,
  ok: (p: PoolSnapshot) => boolean,
  timeoutMs = 20_000,
): Promise<PoolSnapshot> {
  const end = Date.now() + timeoutMs;
  let p: PoolSnapshot | undefined;
  while (true) {
    try {
      p = await poolOf(names, 0);
      if (ok(p)) return p;
    } catch { /* restarting */ }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}; last pool: ${JSON.stringify(p && brief(p))}`);
    }
    await sleep(200);
  }
}

/** The pool's shape: per ENI (by device) total/assigned, and the totals. */
function brief(p: PoolSnapshot) {
  return {
    enis: p.enis.slice().sort((a, b) => a.deviceNumber - b.deviceNumber).map((e) =>
      `dev${e.deviceNumber}:${e.total}/${e.assigned}a/${e.cooling}c`
    ),
    ...p.totals,
  };
}

/** The pool holds still at `p`'s totals for `ms` (no overshoot, no late growth). */
async function steady(names: LabNames, p: PoolSnapshot, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(500);
    const q = await poolOf(names, 0);
    assert.deepEqual(brief(q), brief(p), "pool changed while it should hold still");
  }
}

/** Runs fn on a ready m5.large lab node (no EC2 latency) whose ipamd has `ipamdEnv`. */
function onTargetsNode(
  ipamdEnv: Record<string, string>,
  fn: (lab: TestLab, names: LabNames) => Promise<void>,
): Promise<void> {
  return withLab({ nodes: 1, instanceType: "m5.large", latency: "none", ipamdEnv }, async (lab) => {
    await waitIpamdReady(lab.names, 0);
    await fn(lab, lab.names);
  });
}

const node0 = (lab: { status: { nodes: { instanceId: string }[] } }) => [
  { index: 0, instanceId: lab.status.nodes[0].instanceId },
];

Deno.test({
  name: "targets: WARM_IP_TARGET=5 alone: 5 free IPs on one ENI; pods grow it IP by IP, then a 2nd ENI " +
    "with just enough IPs; deletes shrink back to 5 warm after cooldown",
  ...rootOnly,
}, async () => {
  await onTargetsNode({ WARM_IP_TARGET: "5" }, async (lab, names) => {
    // Fresh node: 5 free IPs, all on the primary ENI (not a warm second ENI).
    const fresh = await poolUntil(names, "5 warm IPs", (p) => p.totals.total === 5);
    assert.deepEqual(brief(fresh), { enis: ["dev0:5/0a/0c"], total: 5, assigned: 0, cooling: 0, free: 5 });
    await steady(names, fresh);

    // 3 pods: total 8, still 5 free, still one ENI.
    const pods: string[] = [];
    for (let i = 0; i < 3; i++) pods.push((await podAdd(names, `w${i}`)).name);
    const three = await poolUntil(
      names,
      "8 IPs, 5 free",
      (p) => p.totals.total === 8 && p.totals.free === 5,
    );
    assert.deepEqual(brief(three), { enis: ["dev0:8/3a/0c"], total: 8, assigned: 3, cooling: 0, free: 5 });

    // 7 pods: 12 needed; the primary ENI holds 9, so a second ENI comes with just the 3 missing IPs.
    for (let i = 3; i < 7; i++) pods.push((await podAdd(names, `w${i}`)).name);
    const seven = await poolUntil(
      names,
      "12 IPs on 2 ENIs",
      (p) => p.totals.total === 12 && p.totals.free === 5,
    );
    assert.deepEqual(brief(seven).enis.map((e) => e.replace(/\/.*/, "")), ["dev0:9", "dev1:3"]);
    assert.equal(seven.totals.assigned, 7);
    await steady(names, seven);
    assert.deepEqual(await settle(names, node0(lab), 10_000), []);

    // Delete them all: 12 IPs, 7 cooling for 30 s; then the surplus is released back to 5 warm.
    const t0 = Date.now();
    for (const name of pods) await podDel(names, name);
    const cooling = await poolOf(names, 0);
    assert.equal(cooling.totals.assigned, 0);
    assert.ok(
      cooling.totals.total >= 12,
      `IPs are not released while cooling: ${JSON.stringify(brief(cooling))}`,
    );
    const back = await poolUntil(
      names,
      "back to 5 warm",
      (p) => p.totals.total === 5 && p.totals.free === 5 && p.totals.cooling === 0,
      120_000,
    );
    const secs = (Date.now() - t0) / 1000;
    assert.ok(secs >= 25, `released after ${secs} s, before the 30 s cooldown`);
    assert.equal(back.enis.filter((e) => e.total > 0).length, 1, JSON.stringify(brief(back)));
    assert.deepEqual(await settle(names, node0(lab), 10_000), []);
    console.log(`WARM_IP_TARGET=5: back to 5 warm IPs ${secs.toFixed(1)} s after the deletes`, brief(back));
  });
});

Deno.test({
  name: "targets: MINIMUM_IP_TARGET=12 alone: 12 IPs across 2 ENIs from the start, no pods; " +
    "pods use them without growth until the minimum is in use",
  ...rootOnly,
}, async () => {
  await onTargetsNode({ MINIMUM_IP_TARGET: "12" }, async (lab, names) => {
    const fresh = await poolUntil(names, "12 IPs", (p) => p.totals.total >= 12);
    assert.equal(fresh.totals.total, 12, JSON.stringify(brief(fresh)));
    assert.equal(fresh.totals.assigned, 0);
    assert.deepEqual(brief(fresh).enis.map((e) => e.replace(/\/.*/, "")), ["dev0:9", "dev1:3"]);
    await steady(names, fresh);

    // 6 pods fit in the minimum: nothing grows.
    const pods: string[] = [];
    for (let i = 0; i < 6; i++) pods.push((await podAdd(names, `m${i}`)).name);
    const six = await poolUntil(names, "6 assigned", (p) => p.totals.assigned === 6);
    assert.equal(six.totals.total, 12, JSON.stringify(brief(six)));
    await steady(names, six);
    assert.deepEqual(await settle(names, node0(lab), 10_000), []);
    // Deleting them does not go below the minimum either.
    for (const name of pods) await podDel(names, name);
    const none = await poolOf(names, 0);
    assert.equal(none.totals.total, 12);
    assert.equal(none.totals.assigned, 0);
  });
});

Deno.test({
  name: "targets: WARM_IP_TARGET=2 + MINIMUM_IP_TARGET=10: 10 from the start; warm 2 on top once pods " +
    "use the minimum; back to 10 (not 2) after deletes and cooldown",
  ...rootOnly,
}, async () => {
  await onTargetsNode({ WARM_IP_TARGET: "2", MINIMUM_IP_TARGET: "10" }, async (lab, names) => {
    // Upstream's example: the minimum is allocated at start (9 + 1 on m5.large), not warm's 2.
    const fresh = await poolUntil(names, "10 IPs", (p) => p.totals.total >= 10);
    assert.equal(fresh.totals.total, 10, JSON.stringify(brief(fresh)));
    assert.deepEqual(brief(fresh).enis.map((e) => e.replace(/\/.*/, "")), ["dev0:9", "dev1:1"]);
    await steady(names, fresh);

    // 8 pods: 2 free left, warm is met: no growth.
    const pods: string[] = [];
    for (let i = 0; i < 8; i++) pods.push((await podAdd(names, `c${i}`)).name);
    const eight = await poolUntil(names, "8 assigned", (p) => p.totals.assigned === 8);
    assert.equal(eight.totals.total, 10, JSON.stringify(brief(eight)));
    await steady(names, eight, 2000);
    // 11 pods: warm 2 on top → 13.
    for (let i = 8; i < 11; i++) pods.push((await podAdd(names, `c${i}`)).name);
    const eleven = await poolUntil(
      names,
      "13 IPs, 2 free",
      (p) => p.totals.total === 13 && p.totals.free === 2,
    );
    assert.equal(eleven.totals.assigned, 11);
    assert.deepEqual(await settle(names, node0(lab), 10_000), []);

    // Delete all: after cooldown, released down to the minimum 10 (over = min(13 − 2, 13 − 10) = 3).
    const t0 = Date.now();
    for (const name of pods) await podDel(names, name);
    const back = await poolUntil(
      names,
      "back to 10",
      (p) => p.totals.total === 10 && p.totals.cooling === 0,
      120_000,
    );
    const secs = (Date.now() - t0) / 1000;
    assert.ok(secs >= 25, `released after ${secs} s, before the 30 s cooldown`);
    await steady(names, back, 2000);
    assert.deepEqual(await settle(names, node0(lab), 10_000), []);
    console.log(`WARM 2 + MINIMUM 10: back to 10 IPs ${secs.toFixed(1)} s after the deletes`, brief(back));
  });
});
