import assert from "node:assert/strict";
import type { WatchEvent } from "./k8s_collections.ts";
import { KubeStatusError } from "./k8s_status.ts";
import { KubeStore } from "./k8s_store.ts";

function statusOf(fn: () => unknown): { code: number; reason: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof KubeStatusError) return { code: e.code, reason: e.reason };
    throw e;
  }
  throw new Error("expected a KubeStatusError");
}

function fixedStore(historyLimit?: number): KubeStore {
  let n = 0;
  return new KubeStore({
    historyLimit,
    now: () => new Date("2026-11-25T19:00:00.123Z"),
    uid: () => `uid-${++n}`,
  });
}

Deno.test("store: resourceVersion increases on every write, objects carry metadata", () => {
  const s = fixedStore();
  assert.equal(s.resourceVersion, "0");
  const n = s.addNode("n1", { labels: { a: "b" }, providerID: "aws:///us-west-2a/i-1" });
  assert.equal(n.kind, "Node");
  assert.equal(n.apiVersion, "v1");
  assert.equal(n.metadata.resourceVersion, "1");
  assert.equal(n.metadata.uid, "uid-1");
  assert.equal(n.metadata.creationTimestamp, "2026-11-25T19:00:00Z");
  assert.equal(n.metadata.labels?.a, "b");
  assert.equal(n.metadata.labels?.["kubernetes.io/hostname"], "n1");
  assert.deepEqual(n.spec, { providerID: "aws:///us-west-2a/i-1" });
  const p = s.createPod({ namespace: "default", name: "p1", nodeName: "n1", uid: "given" });
  assert.equal(p.metadata.resourceVersion, "2");
  assert.equal(p.metadata.uid, "given");
  const p2 = s.setPodIp("default", "p1", "10.0.0.5");
  assert.equal(p2.metadata.resourceVersion, "3");
  assert.deepEqual(p2.status, { phase: "Running", podIP: "10.0.0.5", podIPs: [{ ip: "10.0.0.5" }] });
  assert.equal(s.resourceVersion, "3");
});

Deno.test("store: returned objects are copies", () => {
  const s = fixedStore();
  const n = s.addNode("n1");
  n.metadata.labels!.x = "y";
  assert.equal(s.getNode("n1")!.metadata.labels!.x, undefined);
});

Deno.test("store: no-op writes produce no new resourceVersion", () => {
  const s = fixedStore();
  s.addNode("n1", { labels: { a: "b" } });
  const rv = s.resourceVersion;
  s.patchNode("n1", { labels: { a: "b" } });
  assert.equal(s.resourceVersion, rv);
  s.patchNode("n1", { labels: { a: "c" } });
  assert.equal(Number(s.resourceVersion), Number(rv) + 1);
  s.patchNode("n1", { labels: { a: null } });
  assert.equal(s.getNode("n1")!.metadata.labels!.a, undefined);
});

Deno.test("store: create errors: AlreadyExists 409, Invalid 422", () => {
  const s = fixedStore();
  s.addNode("n1");
  assert.deepEqual(statusOf(() => s.addNode("n1")), { code: 409, reason: "AlreadyExists" });
  assert.deepEqual(statusOf(() => s.create("pods", { metadata: { name: "x", namespace: "d" }, spec: {} })), {
    code: 422,
    reason: "Invalid",
  });
  assert.deepEqual(statusOf(() => s.create("nodes", { metadata: { name: "Bad_Name" } })), {
    code: 422,
    reason: "Invalid",
  });
  assert.deepEqual(
    statusOf(() => s.create("pods", { metadata: { name: "x" }, spec: { containers: [{ name: "c" }] } })),
    { code: 422, reason: "Invalid" },
  );
  assert.deepEqual(statusOf(() => s.create("eniconfigs", { metadata: { name: "e" }, spec: { subnet: 5 } })), {
    code: 422,
    reason: "Invalid",
  });
  assert.deepEqual(statusOf(() => s.mustGet("pods", "d", "nope")), { code: 404, reason: "NotFound" });
  assert.deepEqual(statusOf(() => s.deletePod("d", "nope")), { code: 404, reason: "NotFound" });
  // Same name in two namespaces is fine.
  s.createPod({ namespace: "a", name: "p", nodeName: "n1" });
  s.createPod({ namespace: "b", name: "p", nodeName: "n1" });
  assert.equal(s.listPods().length, 2);
});

Deno.test("store: generateName gives a fresh name", () => {
  const s = fixedStore();
  const e1 = s.createEvent({ involvedObject: { kind: "Node", name: "n1" }, reason: "R", message: "m" });
  const e2 = s.createEvent({ involvedObject: { kind: "Node", name: "n1" }, reason: "R", message: "m" });
  assert.match(e1.metadata.name, /^n1\.[a-z0-9]{5}$/);
  assert.notEqual(e1.metadata.name, e2.metadata.name);
  assert.equal(s.listEvents({ involvedName: "n1", reason: "R" }).length, 2);
  assert.equal(s.listEvents({ involvedName: "n2" }).length, 0);
});

Deno.test("store: update honours resourceVersion precondition and keeps status on main resource", () => {
  const s = fixedStore();
  s.createPod({ namespace: "d", name: "p", nodeName: "n1" });
  s.setPodIp("d", "p", "10.0.0.9");
  const cur = s.getPod("d", "p")!;
  const stale = { ...cur, metadata: { ...cur.metadata, resourceVersion: "1" } };
  assert.deepEqual(statusOf(() => s.update("pods", stale)), { code: 409, reason: "Conflict" });
  const changed = structuredClone(cur);
  changed.metadata.labels = { x: "1" };
  changed.status = { phase: "Failed" };
  const out = s.update("pods", changed);
  assert.equal(out.metadata.labels!.x, "1");
  assert.equal((out.status as { phase: string }).phase, "Running", "status ignored on the main resource");
  assert.equal(out.metadata.uid, cur.metadata.uid);
  const st = s.update("pods", {
    ...out,
    metadata: { ...out.metadata, labels: {} },
    status: { phase: "Failed" },
  }, {
    subresource: "status",
  });
  assert.equal((st.status as { phase: string }).phase, "Failed");
  assert.equal(st.metadata.labels!.x, "1", "labels ignored on status");
});

Deno.test("store: list filters by namespace, fields, labels; pages with limit/continue", () => {
  const s = fixedStore();
  for (let i = 0; i < 5; i++) {
    s.createPod({
      namespace: i % 2 ? "odd" : "even",
      name: `p${i}`,
      nodeName: i < 3 ? "n1" : "n2",
      labels: { i: `${i}` },
    });
  }
  assert.deepEqual(s.listPods({ nodeName: "n1" }).map((p) => p.metadata.name), ["p0", "p2", "p1"]);
  assert.deepEqual(s.listPods({ namespace: "odd" }).map((p) => p.metadata.name), ["p1", "p3"]);
  assert.deepEqual(s.list("pods", { labelSelector: "i in (3,4)" }).items.map((p) => p.metadata.name), [
    "p4",
    "p3",
  ]);
  assert.deepEqual(
    s.list("pods", { fieldSelector: "metadata.name=p2,spec.nodeName=n1" }).items.map((p) => p.metadata.name),
    ["p2"],
  );
  assert.deepEqual(statusOf(() => s.list("pods", { fieldSelector: "spec.bogus=1" })), {
    code: 400,
    reason: "BadRequest",
  });
  const names: string[] = [];
  let cont: string | undefined;
  let pages = 0;
  do {
    const r = s.list("pods", { limit: 2, continue: cont });
    names.push(...r.items.map((p) => p.metadata.name));
    cont = r.continue;
    if (cont) assert.equal(r.remainingItemCount, 5 - names.length);
    pages++;
  } while (cont);
  assert.equal(pages, 3);
  assert.deepEqual(names, ["p0", "p2", "p4", "p1", "p3"]);
  assert.deepEqual(statusOf(() => s.list("pods", { continue: "garbage!" })), {
    code: 400,
    reason: "BadRequest",
  });
});

Deno.test("store: watch delivers ADDED/MODIFIED/DELETED in order with increasing resourceVersions", () => {
  const s = fixedStore();
  const seen: WatchEvent[] = [];
  const w = s.watch("pods", { resourceVersion: s.resourceVersion }, (e) => seen.push(e));
  s.addNode("n1"); // other collection: not delivered
  s.createPod({ namespace: "d", name: "p", nodeName: "n1" });
  s.setPodIp("d", "p", "10.0.0.5");
  s.deletePod("d", "p");
  w.close();
  s.createPod({ namespace: "d", name: "q", nodeName: "n1" });
  assert.deepEqual(seen.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
  const rvs = seen.map((e) => Number(e.object.metadata.resourceVersion));
  assert.deepEqual(rvs, [2, 3, 4]);
  assert.equal(s.watcherCount(), 0);
});

Deno.test("store: watch with unset resourceVersion starts with synthetic ADDED", () => {
  const s = fixedStore();
  s.createPod({ namespace: "d", name: "a", nodeName: "n1" });
  s.createPod({ namespace: "d", name: "b", nodeName: "n2" });
  const seen: WatchEvent[] = [];
  const w = s.watch("pods", { fieldSelector: "spec.nodeName=n1" }, (e) => seen.push(e));
  w.close();
  assert.deepEqual(seen.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "a"]]);
});

Deno.test("store: watch resume replays missed events after a resourceVersion", () => {
  const s = fixedStore();
  s.createPod({ namespace: "d", name: "a", nodeName: "n1" });
  const rv = s.resourceVersion;
  s.setPodIp("d", "a", "10.0.0.1");
  s.createPod({ namespace: "d", name: "b", nodeName: "n1" });
  s.deletePod("d", "a");
  const seen: string[] = [];
  const w = s.watch("pods", { resourceVersion: rv }, (e) => seen.push(`${e.type}:${e.object.metadata.name}`));
  s.deletePod("d", "b");
  w.close();
  assert.deepEqual(seen, ["MODIFIED:a", "ADDED:b", "DELETED:a", "DELETED:b"]);
});

Deno.test("store: watch from a compacted resourceVersion is 410 Expired; bad one 400", () => {
  const s = fixedStore(3);
  s.addNode("n1");
  for (let i = 0; i < 5; i++) s.patchNode("n1", { labels: { i: `${i}` } });
  assert.equal(s.resourceVersion, "6");
  assert.equal(s.oldestResumableResourceVersion, "3");
  const err = statusOf(() => s.watch("nodes", { resourceVersion: "2" }, () => {}));
  assert.deepEqual(err, { code: 410, reason: "Expired" });
  const seen: string[] = [];
  s.watch("nodes", { resourceVersion: "3" }, (e) => seen.push(e.object.metadata.resourceVersion)).close();
  assert.deepEqual(seen, ["4", "5", "6"]);
  assert.deepEqual(statusOf(() => s.watch("nodes", { resourceVersion: "abc" }, () => {})), {
    code: 400,
    reason: "BadRequest",
  });
  assert.equal(s.watcherCount(), 0);
});

Deno.test("store: selector watch turns entering/leaving into ADDED/DELETED", () => {
  const s = fixedStore();
  s.addNode("n1", { labels: { role: "x" } });
  const seen: string[] = [];
  const w = s.watch("nodes", { resourceVersion: s.resourceVersion, labelSelector: "role=y" }, (e) => {
    seen.push(`${e.type}:${e.object.metadata.labels?.role ?? "-"}`);
  });
  s.patchNode("n1", { labels: { role: "y" } });
  s.patchNode("n1", { annotations: { a: "1" } });
  s.patchNode("n1", { labels: { role: "z" } });
  s.patchNode("n1", { labels: { role: "w" } });
  w.close();
  assert.deepEqual(seen, ["ADDED:y", "MODIFIED:y", "DELETED:z"]);
});

Deno.test("store: graceful pod delete sets deletionTimestamp then removes", () => {
  const s = fixedStore();
  s.createPod({ namespace: "d", name: "p", nodeName: "n1" });
  const seen: string[] = [];
  const w = s.watch("pods", { resourceVersion: s.resourceVersion }, (e) => seen.push(e.type));
  const marked = s.deletePod("d", "p", { graceful: true });
  assert.equal(marked.metadata.deletionTimestamp, "2026-11-25T19:00:00Z");
  assert.equal(marked.metadata.deletionGracePeriodSeconds, 30);
  s.deletePod("d", "p", { graceful: true }); // idempotent: no event
  // Updates keep the deletion mark.
  const cur = s.getPod("d", "p")!;
  s.update("pods", {
    ...cur,
    metadata: { ...cur.metadata, deletionTimestamp: undefined, labels: { z: "1" } },
  });
  assert.equal(s.getPod("d", "p")!.metadata.deletionTimestamp, "2026-11-25T19:00:00Z");
  s.deletePod("d", "p");
  w.close();
  assert.deepEqual(seen, ["MODIFIED", "MODIFIED", "DELETED"]);
  assert.equal(s.getPod("d", "p"), undefined);
});

Deno.test("store: delete preconditions (uid) give 409", () => {
  const s = fixedStore();
  s.createPod({ namespace: "d", name: "p", nodeName: "n1", uid: "u1" });
  assert.deepEqual(statusOf(() => s.delete("pods", "d", "p", { uid: "u2" })), {
    code: 409,
    reason: "Conflict",
  });
  assert.equal(s.delete("pods", "d", "p", { uid: "u1" }).removed, true);
});

Deno.test("store: ENIConfig put/replace/delete", () => {
  const s = fixedStore();
  const e = s.putEniConfig("us-west-2a", { subnet: "subnet-1", securityGroups: ["sg-1"] });
  assert.equal(e.apiVersion, "crd.k8s.amazonaws.com/v1alpha1");
  assert.equal(e.kind, "ENIConfig");
  assert.equal(e.metadata.namespace, undefined);
  const e2 = s.putEniConfig("us-west-2a", { subnet: "subnet-2" });
  assert.deepEqual(e2.spec, { subnet: "subnet-2", securityGroups: [] });
  assert.equal(e2.metadata.uid, e.metadata.uid);
  assert.equal(s.listEniConfigs().length, 1);
  s.deleteEniConfig("us-west-2a");
  assert.equal(s.getEniConfig("us-west-2a"), undefined);
});

Deno.test("store: a throwing watcher does not break writes or other watchers", () => {
  const s = fixedStore();
  let got = 0;
  const w1 = s.watch("nodes", { resourceVersion: "0" }, () => {
    throw new Error("boom");
  });
  const w2 = s.watch("nodes", { resourceVersion: s.resourceVersion }, () => got++);
  s.addNode("n1");
  w1.close();
  w2.close();
  assert.equal(got, 1);
});

Deno.test("store: KubeStatusError.toStatus is a Status object", () => {
  const e = new KubeStatusError(404, "NotFound", 'pods "x" not found', { name: "x", kind: "pods" });
  assert.deepEqual(e.toStatus(), {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: 'pods "x" not found',
    reason: "NotFound",
    details: { name: "x", kind: "pods" },
    code: 404,
  });
});
