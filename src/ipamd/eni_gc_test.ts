import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { Ec2Error, type NetworkInterface, type Tag } from "../aws/ec2_port.ts";
import { Ec2Model } from "../sim/ec2_model.ts";
import { Ec2ModelPort } from "../sim/ec2_model_port.ts";
import { ConfigError } from "./config.ts";
import {
  EniGc,
  eniGcTimingFromEnv,
  GC_MIN_AGE_MS,
  leakVerdict,
  selectLeakedEnis,
  sweepOrphanedEnis,
} from "./eni_gc.ts";
import { TAG_CLUSTER_NAME, TAG_CREATED_AT, TAG_INSTANCE_ID, TAG_NO_MANAGE } from "./eni_tags.ts";
import { IpamdMetrics } from "./metrics.ts";
import { VirtualClock } from "../sim/fleet/virtual_clock.ts";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const ours = (age = 10 * 60_000, extra: Tag[] = []): Tag[] => [
  { key: TAG_INSTANCE_ID, value: "i-me" },
  { key: TAG_CLUSTER_NAME, value: "c1" },
  { key: TAG_CREATED_AT, value: iso(NOW - age) },
  ...extra,
];

function eni(id: string, tags: Tag[], o: Partial<NetworkInterface> = {}): NetworkInterface {
  return {
    networkInterfaceId: id,
    subnetId: "subnet-1",
    vpcId: "vpc-1",
    availabilityZone: "us-west-2a",
    macAddress: "02:00:00:00:00:01",
    description: "aws-K8S-i-me",
    status: "available",
    privateIpAddress: "10.0.0.20",
    privateIps: [{ address: "10.0.0.20", primary: true }],
    ipv4Prefixes: [],
    securityGroupIds: [],
    tags,
    sourceDestCheck: true,
    ...o,
  };
}

const crit = { instanceId: "i-me", clusterName: "c1", now: NOW };

Deno.test("leakVerdict: each rule on its own", () => {
  assert.equal(leakVerdict(eni("e", ours()), crit), "leaked");
  assert.equal(
    leakVerdict(eni("e", ours(10 * 60_000, [{ key: TAG_NO_MANAGE, value: "true" }])), crit),
    "no_manage",
  );
  assert.equal(leakVerdict(eni("e", ours(), { status: "in-use" }), crit), "status in-use");
  assert.equal(leakVerdict(eni("e", ours(), { status: "detaching" }), crit), "status detaching");
  assert.equal(
    leakVerdict(
      eni("e", ours().map((t) => t.key === TAG_INSTANCE_ID ? { ...t, value: "i-other" } : t)),
      crit,
    ),
    "another node",
  );
  assert.equal(
    leakVerdict(eni("e", ours().map((t) => t.key === TAG_CLUSTER_NAME ? { ...t, value: "c2" } : t)), crit),
    "another cluster",
  );
  assert.equal(
    leakVerdict(eni("e", ours().filter((t) => t.key !== TAG_CLUSTER_NAME)), crit),
    "another cluster",
  );
  assert.equal(leakVerdict(eni("e", ours(), { description: "my own ENI" }), crit), "description");
  assert.equal(leakVerdict(eni("e", ours().filter((t) => t.key !== TAG_CREATED_AT)), crit), "no createdAt");
  assert.equal(leakVerdict(eni("e", ours(GC_MIN_AGE_MS)), crit), "too young");
  assert.equal(leakVerdict(eni("e", ours(GC_MIN_AGE_MS + 1)), crit), "leaked");
  // No CLUSTER_NAME: only ENIs without a cluster tag are ours.
  const noCluster = { ...crit, clusterName: "" };
  assert.equal(leakVerdict(eni("e", ours().filter((t) => t.key !== TAG_CLUSTER_NAME)), noCluster), "leaked");
  assert.equal(leakVerdict(eni("e", ours()), noCluster), "another cluster");
  // no_manage=false does not protect.
  assert.equal(
    leakVerdict(eni("e", ours(10 * 60_000, [{ key: TAG_NO_MANAGE, value: "false" }])), crit),
    "leaked",
  );
});

Deno.test("selectLeakedEnis: oldest first, at most max", () => {
  const enis = [
    eni("eni-c", ours(20 * 60_000)),
    eni("eni-a", ours(60 * 60_000)),
    eni("eni-young", ours(60_000)),
    eni("eni-b", ours(30 * 60_000)),
  ];
  assert.deepEqual(selectLeakedEnis(enis, { ...crit, max: 2 }).map((e) => e.networkInterfaceId), [
    "eni-a",
    "eni-b",
  ]);
  assert.deepEqual(selectLeakedEnis(enis, crit).map((e) => e.networkInterfaceId), [
    "eni-a",
    "eni-b",
    "eni-c",
  ]);
});

Deno.test("selectLeakedEnis property: selection = exactly the ENIs passing every rule (bounded by max)", () => {
  const arbEni = fc.record({
    node: fc.constantFrom("i-me", "i-other", undefined),
    cluster: fc.constantFrom("c1", "c2", undefined),
    age: fc.integer({ min: -60_000, max: 3_600_000 }),
    createdAt: fc.boolean(),
    noManage: fc.constantFrom("true", "false", undefined),
    status: fc.constantFrom("available", "in-use", "attaching", "detaching"),
    desc: fc.constantFrom("aws-K8S-i-me", "aws-K8S-i-other", "manual"),
  });
  fc.assert(fc.property(fc.array(arbEni, { maxLength: 12 }), fc.integer({ min: 0, max: 5 }), (xs, max) => {
    const enis = xs.map((x, i) => {
      const tags: Tag[] = [];
      if (x.node) tags.push({ key: TAG_INSTANCE_ID, value: x.node });
      if (x.cluster) tags.push({ key: TAG_CLUSTER_NAME, value: x.cluster });
      if (x.createdAt) tags.push({ key: TAG_CREATED_AT, value: iso(NOW - x.age) });
      if (x.noManage) tags.push({ key: TAG_NO_MANAGE, value: x.noManage });
      return eni(`eni-${String(i).padStart(2, "0")}`, tags, {
        status: x.status as NetworkInterface["status"],
        description: x.desc,
      });
    });
    const expected = xs.map((x, i) => ({ x, i })).filter(({ x }) =>
      x.node === "i-me" && x.cluster === "c1" && x.createdAt && x.age > GC_MIN_AGE_MS &&
      x.noManage !== "true" && x.status === "available" && x.desc.startsWith("aws-K8S-")
    );
    const got = selectLeakedEnis(enis, { ...crit, max });
    assert.equal(got.length, Math.min(max, expected.length));
    const ok = new Set(expected.map(({ i }) => enis[i].networkInterfaceId));
    for (const e of got) assert.ok(ok.has(e.networkInterfaceId));
    // The oldest are taken first.
    const ages = expected.map(({ x }) => x.age).sort((a, b) => b - a);
    assert.deepEqual(
      got.map((e) => NOW - Date.parse(e.tags.find((t) => t.key === TAG_CREATED_AT)!.value)),
      ages.slice(0, got.length),
    );
  }));
});

/** An Ec2ModelPort world with this node, another node, and leaked ENIs of each kind. */
function world() {
  const model = new Ec2Model();
  const subnet = model.addSubnet({ cidr: "10.0.0.0/20" });
  const sg = model.addSecurityGroup("nodes");
  const me = model.launchInstance({
    instanceType: "m5.large",
    subnetId: subnet.subnetId,
    securityGroupIds: [sg],
  });
  const other = model.launchInstance({
    instanceType: "m5.large",
    subnetId: subnet.subnetId,
    securityGroupIds: [sg],
  });
  const ec2 = new Ec2ModelPort(model);
  const make = async (
    instanceId: string,
    o: { age?: number; cluster?: string; extra?: Tag[]; desc?: string },
  ) => {
    const tags: Tag[] = [
      { key: TAG_INSTANCE_ID, value: instanceId },
      { key: TAG_CREATED_AT, value: iso(Date.now() - (o.age ?? 10 * 60_000)) },
      { key: TAG_CLUSTER_NAME, value: o.cluster ?? "c1" },
      ...(o.extra ?? []),
    ];
    const n = await ec2.createNetworkInterface({
      subnetId: subnet.subnetId,
      description: o.desc ?? `aws-K8S-${instanceId}`,
      tags,
    });
    return n.networkInterfaceId;
  };
  return { model, ec2, me: me.instanceId, other: other.instanceId, make };
}

Deno.test("EniGc.runOnce over Ec2ModelPort: deletes only this node's old leaked ENIs; metric counts them", async () => {
  const w = world();
  const leaked1 = await w.make(w.me, { age: 40 * 60_000 });
  const leaked2 = await w.make(w.me, { age: 20 * 60_000 });
  const keep = {
    otherNode: await w.make(w.other, {}),
    otherCluster: await w.make(w.me, { cluster: "c2" }),
    young: await w.make(w.me, { age: 60_000 }),
    noManage: await w.make(w.me, { extra: [{ key: TAG_NO_MANAGE, value: "true" }] }),
    inUse: await w.make(w.me, {}),
    manual: await w.make(w.me, { desc: "hand made" }),
  };
  await w.ec2.attachNetworkInterface({ networkInterfaceId: keep.inUse, instanceId: w.me, deviceIndex: 1 });
  const metrics = new IpamdMetrics();
  const gc = new EniGc({ ec2: w.ec2, instanceId: w.me, clusterName: "c1", metrics });
  const before = { ...w.model.calls };
  const run = await gc.runOnce();
  assert.deepEqual(run.deleted, [leaked1, leaked2]);
  assert.deepEqual(run.failed, []);
  assert.equal(metrics.forceRemovedEnis.get(), 2);
  assert.equal((w.model.calls.DescribeNetworkInterfaces ?? 0) - (before.DescribeNetworkInterfaces ?? 0), 1);
  assert.equal((w.model.calls.DeleteNetworkInterface ?? 0) - (before.DeleteNetworkInterface ?? 0), 2);
  const left = new Set((await w.ec2.describeNetworkInterfaces({})).map((n) => n.networkInterfaceId));
  assert.ok(!left.has(leaked1) && !left.has(leaked2));
  for (const id of Object.values(keep)) assert.ok(left.has(id), id);
  // A second run finds nothing.
  assert.deepEqual((await gc.runOnce()).deleted, []);
});

Deno.test("EniGc: the per-run limit defers the rest to the next run", async () => {
  const w = world();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await w.make(w.me, { age: (50 - i) * 60_000 }));
  const gc = new EniGc({ ec2: w.ec2, instanceId: w.me, clusterName: "c1", maxDeletesPerRun: 2 });
  const r1 = await gc.runOnce();
  assert.deepEqual(r1.deleted, ids.slice(0, 2));
  assert.equal(r1.deferred, 3);
  assert.deepEqual((await gc.runOnce()).deleted, ids.slice(2, 4));
  assert.deepEqual((await gc.runOnce()).deleted, ids.slice(4));
});

Deno.test("EniGc: a failed delete is reported and counted, the others still go", async () => {
  const w = world();
  const a = await w.make(w.me, { age: 30 * 60_000 });
  const b = await w.make(w.me, { age: 20 * 60_000 });
  const metrics = new IpamdMetrics();
  const ec2 = {
    describeNetworkInterfaces: w.ec2.describeNetworkInterfaces.bind(w.ec2),
    deleteNetworkInterface: (id: string) =>
      id === a
        ? Promise.reject(new Ec2Error("UnauthorizedOperation", "no", "DeleteNetworkInterface", 403))
        : w.ec2.deleteNetworkInterface(id),
  };
  const r = await new EniGc({ ec2, instanceId: w.me, clusterName: "c1", metrics }).runOnce();
  assert.deepEqual(r.deleted, [b]);
  assert.equal(r.failed.length, 1);
  assert.equal(r.failed[0].eniId, a);
  assert.equal(metrics.ipamdErr.get({ fn: "leakedEniGc" }), 1);
});

Deno.test("EniGc.start: first run after firstDelayMs, then every everyMs; stop ends it", async () => {
  const w = world();
  await w.make(w.me, { age: 30 * 60_000 });
  const clock = new VirtualClock(Date.now()); // the ENI's createdAt tag is wall time
  const gc = new EniGc({
    ec2: w.ec2,
    instanceId: w.me,
    clusterName: "c1",
    firstDelayMs: 30,
    everyMs: 40,
    clock,
  });
  gc.start();
  assert.equal(gc.runs, 0);
  await clock.run(clock.now() + 150);
  assert.equal(gc.runs, 4, "runs at 30, 70, 110 and 150 ms");
  await gc.stop();
  await clock.run(clock.now() + 1_000);
  assert.equal(gc.runs, 4, "no run after stop");
  assert.equal(
    (await w.ec2.describeNetworkInterfaces({ filters: [{ name: "status", values: ["available"] }] })).length,
    0,
  );
});

Deno.test("sweepOrphanedEnis: deletes this node's ENIs created before start-up, however young; nothing else", async () => {
  const w = world();
  const startedAt = Date.now();
  // Orphans of a previous run: 2 s and 40 min before start-up (age is no criterion here).
  const orphanYoung = await w.make(w.me, { age: 2_000 });
  const orphanOld = await w.make(w.me, { age: 40 * 60_000 });
  const keep = {
    otherNode: await w.make(w.other, { age: 2_000 }),
    otherCluster: await w.make(w.me, { age: 2_000, cluster: "c2" }),
    noManage: await w.make(w.me, { age: 2_000, extra: [{ key: TAG_NO_MANAGE, value: "true" }] }),
    manual: await w.make(w.me, { age: 2_000, desc: "hand made" }),
    inUse: await w.make(w.me, { age: 2_000 }),
    // Created by this run (createdAt at or after start-up): on its way to an attach.
    mine: await w.make(w.me, { age: startedAt - Date.now() - 1 }),
    mineNow: await w.make(w.me, { age: Date.now() - startedAt }),
  };
  await w.ec2.attachNetworkInterface({ networkInterfaceId: keep.inUse, instanceId: w.me, deviceIndex: 1 });
  const metrics = new IpamdMetrics();
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) } as never;
  const r = await sweepOrphanedEnis({
    ec2: w.ec2,
    instanceId: w.me,
    clusterName: "c1",
    startedAt,
    metrics,
    log,
  });
  assert.deepEqual(r.deleted, [orphanOld, orphanYoung]);
  assert.deepEqual([r.failed, r.skipped, r.deferred, r.incomplete], [[], [], 0, false]);
  assert.equal(metrics.forceRemovedEnis.get(), 2);
  assert.equal(lines.filter((l) => /orphaned by a previous ipamd run/.test(l)).length, 2);
  const left = new Set((await w.ec2.describeNetworkInterfaces({})).map((n) => n.networkInterfaceId));
  assert.ok(!left.has(orphanYoung) && !left.has(orphanOld));
  for (const [k, id] of Object.entries(keep)) assert.ok(left.has(id), k);
  // No CLUSTER_NAME: an ENI tagged with a cluster is not ours.
  const r2 = await sweepOrphanedEnis({
    ec2: w.ec2,
    instanceId: w.me,
    clusterName: "",
    startedAt: Date.now(),
  });
  assert.deepEqual(r2.deleted, []);
});

Deno.test("sweepOrphanedEnis: NotFound/InUse skipped, other errors reported; never throws", async () => {
  const w = world();
  const startedAt = Date.now();
  const [gone, attached, denied, ok] = [
    await w.make(w.me, { age: 4_000 }),
    await w.make(w.me, { age: 3_000 }),
    await w.make(w.me, { age: 2_000 }),
    await w.make(w.me, { age: 1_000 }),
  ];
  const metrics = new IpamdMetrics();
  const fail: Record<string, string> = {
    [gone]: "InvalidNetworkInterfaceID.NotFound",
    [attached]: "InvalidNetworkInterface.InUse",
    [denied]: "UnauthorizedOperation",
  };
  const ec2 = {
    describeNetworkInterfaces: w.ec2.describeNetworkInterfaces.bind(w.ec2),
    deleteNetworkInterface: (id: string) =>
      fail[id]
        ? Promise.reject(new Ec2Error(fail[id], "no", "DeleteNetworkInterface", 400))
        : w.ec2.deleteNetworkInterface(id),
  };
  const r = await sweepOrphanedEnis({ ec2, instanceId: w.me, clusterName: "c1", startedAt, metrics });
  assert.deepEqual(r.deleted, [ok]);
  assert.deepEqual(r.skipped, [gone, attached]);
  assert.deepEqual(r.failed.map((f) => f.eniId), [denied]);
  assert.equal(metrics.forceRemovedEnis.get(), 1);
  assert.equal(metrics.ipamdErr.get({ fn: "startupEniSweep" }), 1);
  // A failing describe is logged and reported, not thrown.
  const broken = {
    describeNetworkInterfaces: () => Promise.reject(new Error("endpoint down")),
    deleteNetworkInterface: () => Promise.resolve(),
  };
  const r2 = await sweepOrphanedEnis({
    ec2: broken,
    instanceId: w.me,
    clusterName: "c1",
    startedAt,
    metrics,
  });
  assert.deepEqual([r2.deleted, r2.incomplete], [[], true]);
});

Deno.test("sweepOrphanedEnis: bounded by the deadline and the per-sweep limit", async () => {
  const w = world();
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await w.make(w.me, { age: (10 - i) * 1_000 }));
  const startedAt = Date.now();
  // Virtual time: the deadline and the slow deletes are measured on it, so machine load changes nothing.
  const clock = new VirtualClock();
  // A hung EC2: the sweep gives up at the deadline.
  const hung = {
    describeNetworkInterfaces: () => new Promise<NetworkInterface[]>(() => {}),
    deleteNetworkInterface: () => Promise.resolve(),
  };
  const sweep = sweepOrphanedEnis({
    ec2: hung,
    instanceId: w.me,
    clusterName: "c1",
    startedAt,
    deadlineMs: 50,
    clock,
  });
  await clock.run(clock.now() + 50);
  assert.equal((await sweep).incomplete, true);
  // Slow deletes (40 ms each, deadline 60 ms): the one in flight at the deadline finishes, no new one starts.
  let deletes = 0;
  const slow = {
    describeNetworkInterfaces: w.ec2.describeNetworkInterfaces.bind(w.ec2),
    deleteNetworkInterface: async (id: string) => {
      deletes++;
      await clock.sleep(40);
      await w.ec2.deleteNetworkInterface(id);
    },
  };
  const sweep2 = sweepOrphanedEnis({
    ec2: slow,
    instanceId: w.me,
    clusterName: "c1",
    startedAt,
    deadlineMs: 60,
    clock,
  });
  await clock.run(clock.now() + 1_000);
  assert.equal((await sweep2).incomplete, true);
  assert.equal(deletes, 2, "the delete in flight at the deadline finishes; no new one starts");
  // Stopping ends it at once.
  const ac = new AbortController();
  const stopped = sweepOrphanedEnis({
    ec2: hung,
    instanceId: w.me,
    clusterName: "c1",
    startedAt,
    signal: ac.signal,
  });
  ac.abort();
  assert.equal((await stopped).incomplete, true);
  // The limit: the rest is deferred to the periodic GC.
  const r3 = await sweepOrphanedEnis({ ec2: w.ec2, instanceId: w.me, clusterName: "c1", startedAt, max: 1 });
  assert.deepEqual([r3.deleted, r3.deferred], [[ids[2]], 1]);
});

Deno.test("eniGcTimingFromEnv: seconds to ms; unset keeps defaults; bad values are ConfigErrors", () => {
  assert.deepEqual(eniGcTimingFromEnv({}), {});
  assert.deepEqual(
    eniGcTimingFromEnv({ LEAKED_ENI_CLEANUP_DELAY: "", LEAKED_ENI_CLEANUP_INTERVAL: " " }),
    {},
  );
  assert.deepEqual(eniGcTimingFromEnv({ LEAKED_ENI_CLEANUP_DELAY: "0", LEAKED_ENI_CLEANUP_INTERVAL: "2" }), {
    firstDelayMs: 0,
    everyMs: 2000,
  });
  for (
    const [k, v] of [["LEAKED_ENI_CLEANUP_DELAY", "-1"], ["LEAKED_ENI_CLEANUP_INTERVAL", "0"], [
      "LEAKED_ENI_CLEANUP_INTERVAL",
      "1.5",
    ], ["LEAKED_ENI_CLEANUP_DELAY", "soon"]]
  ) {
    assert.throws(() => eniGcTimingFromEnv({ [k]: v }), (e) => e instanceof ConfigError && e.variable === k);
  }
});
