import assert from "node:assert/strict";
import { systemClock } from "../common/clock.ts";
import type { KubePort, PodInfo } from "../k8s/port.ts";
import { type Assignment, Datastore } from "./datastore.ts";
import { PodWatch } from "./pod_watch.ts";
import { BackgroundFailures } from "./background_failures.ts";
import { IpamdMetrics } from "./metrics.ts";
import { until } from "../../harness/poll.ts";

const podInfo = (name: string, uid = `uid-${name}`): PodInfo => ({
  namespace: "default",
  name,
  uid,
  nodeName: "n1",
  deleting: false,
});

/** A datastore with one ENI holding `ips`. */
function datastoreWith(ips: string[]): Datastore {
  const ds = new Datastore({ cooldownMs: 0 });
  ds.addEni({
    eniId: "eni-1",
    deviceNumber: 0,
    subnetId: "s",
    subnetCidr: "10.0.0.0/20",
    primaryIp: "10.0.0.10",
    mac: "02:00:00:00:00:01",
    createdAt: 0,
  });
  ds.addIps("eni-1", ips);
  return ds;
}

function setup() {
  let clock = 1_000_000;
  const ds = datastoreWith(["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"]);
  const released: string[] = [];
  const watch = new PodWatch({
    kube: {} as KubePort, // start() is not used here: events are fed by hand
    nodeName: "n1",
    ds,
    graceMs: 10_000,
    release: (a: Assignment) => {
      ds.release(a, clock);
      released.push(a.containerId);
      return Promise.resolve();
    },
    clock: { ...systemClock, now: () => clock },
  });
  const add = (c: string, name?: string, uid?: string) =>
    ds.assign(
      { netName: "n", containerId: c, ifName: "eth0" },
      name ? { k8sPodNamespace: "default", k8sPodName: name, k8sPodUid: uid } : {},
      clock,
    );
  return { ds, watch, released, add, advance: (ms: number) => clock += ms };
}

Deno.test("PodWatch: nothing is released before the first pod list", async () => {
  const t = setup();
  t.add("c1", "gone");
  t.advance(60_000);
  assert.equal(await t.watch.sweep(), 0);
});

Deno.test("PodWatch: a pod gone past the grace period is released; live and anonymous ones stay", async () => {
  const t = setup();
  t.add("c-live", "live");
  t.add("c-gone", "gone");
  t.add("c-anon");
  t.watch.onEvent({ type: "RESYNC", pods: [podInfo("live"), podInfo("gone")] });
  t.watch.onEvent({ type: "DELETED", pod: podInfo("gone") });
  assert.equal(await t.watch.sweep(), 0, "first seen gone: the grace period starts");
  t.advance(9_000);
  assert.equal(await t.watch.sweep(), 0);
  t.advance(1_000);
  assert.equal(await t.watch.sweep(), 1);
  assert.deepEqual(t.released, ["c-gone"]);
  assert.equal(t.ds.assignments().length, 2);
});

Deno.test("PodWatch: a pod that comes back in time, or a recreated pod with a new UID", async () => {
  const t = setup();
  t.add("c-back", "back");
  t.add("c-old", "recreated", "uid-old");
  t.watch.onEvent({ type: "RESYNC", pods: [podInfo("recreated", "uid-new")] });
  await t.watch.sweep();
  t.advance(5_000);
  t.watch.onEvent({ type: "ADDED", pod: podInfo("back") });
  t.advance(6_000);
  assert.equal(await t.watch.sweep(), 1);
  assert.deepEqual(t.released, ["c-old"], "same name, other UID: the old pod is gone");
});

Deno.test("PodWatch: a failing sweep is logged, counted and listed (never swallowed), and clears once it works", async () => {
  const ds = datastoreWith(["10.0.0.11"]);
  ds.assign({ netName: "n", containerId: "c1", ifName: "eth0" }, {
    k8sPodNamespace: "default",
    k8sPodName: "gone",
  }, 0);
  const metrics = new IpamdMetrics();
  const failures = new BackgroundFailures({ metrics });
  let broken = true;
  // The pod list is empty (so c1's pod is gone) and the watch idles until aborted.
  const kube = {
    listPodsOnNode: () => Promise.resolve([]),
    watchPodsOnNode: (_node: string, _on: unknown, signal: AbortSignal) =>
      new Promise<void>((r) => signal.addEventListener("abort", () => r())),
  } as unknown as KubePort;
  const watch = new PodWatch({
    kube,
    nodeName: "n1",
    ds,
    graceMs: 0,
    release: (a) => {
      if (broken) return Promise.reject(new Error("checkpoint write failed: disk full (injected)"));
      ds.release(a, Date.now());
      return Promise.resolve();
    },
    failures,
  });
  const abort = new AbortController();
  try {
    await watch.start(abort.signal, 10);
    const f = await until(
      "the sweep failure to be listed",
      () => failures.list().find((x) => x.task === "podSweep"),
    );
    assert.match(f.error, /disk full/);
    assert.ok(metrics.ipamdErr.get({ fn: "podSweep" }) >= 1);
    broken = false;
    await until("the sweep to work again", () => failures.list().length === 0);
    assert.equal(ds.assignments().length, 0, "the leaked IP is released once the sweep works");
  } finally {
    abort.abort();
  }
});
