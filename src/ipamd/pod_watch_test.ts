import assert from "node:assert/strict";
import { systemClock } from "../common/clock.ts";
import type { KubePort, PodInfo } from "../k8s/port.ts";
import { type Assignment, Datastore } from "./datastore.ts";
import { PodWatch } from "./pod_watch.ts";

const podInfo = (name: string, uid = `uid-${name}`): PodInfo => ({
  namespace: "default",
  name,
  uid,
  nodeName: "n1",
  deleting: false,
});

function setup() {
  let clock = 1_000_000;
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
  ds.addIps("eni-1", ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"]);
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
