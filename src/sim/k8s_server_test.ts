// deno-lint-ignore-file no-explicit-any -- JSON bodies are read loosely in assertions
import assert from "node:assert/strict";
import { KubeStore } from "./k8s_store.ts";
import { createKubeHandler } from "./k8s_server.ts";
import { BASE, readEvents, setup, startWatch } from "./k8s_server_test_util.ts";

Deno.test("server: /version and discovery documents", async () => {
  const { call } = setup();
  const v = await call("GET", "/version");
  assert.equal(v.status, 200);
  assert.match(v.body.gitVersion, /^v1\.\d+/);
  assert.deepEqual((await call("GET", "/api")).body.versions, ["v1"]);
  const apis = (await call("GET", "/apis")).body;
  assert.equal(apis.kind, "APIGroupList");
  assert.ok(apis.groups.some((g: { name: string }) => g.name === "crd.k8s.amazonaws.com"));
  const core = (await call("GET", "/api/v1")).body;
  assert.equal(core.kind, "APIResourceList");
  assert.deepEqual(core.resources.map((r: { name: string }) => r.name).sort(), [
    "events",
    "nodes",
    "nodes/status",
    "pods",
    "pods/status",
  ]);
  const crd = (await call("GET", "/apis/crd.k8s.amazonaws.com/v1alpha1")).body;
  assert.equal(crd.resources[0].kind, "ENIConfig");
  assert.equal(crd.resources[0].namespaced, false);
  const nf = await call("GET", "/api/v1/frobs");
  assert.equal(nf.status, 404);
  assert.equal(nf.body.kind, "Status");
});

Deno.test("server: pods create/get/list with fieldSelector/delete and Status errors", async () => {
  const { call } = setup();
  const pod = (name: string, node: string, ns?: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...(ns ? { namespace: ns } : {}), labels: { app: name } },
    spec: { nodeName: node, containers: [{ name: "c", image: "pause" }] },
  });
  const c1 = await call("POST", "/api/v1/namespaces/default/pods", pod("a", "n1"));
  assert.equal(c1.status, 201);
  assert.equal(c1.body.metadata.namespace, "default");
  assert.ok(c1.body.metadata.uid);
  assert.equal((await call("POST", "/api/v1/namespaces/default/pods", pod("b", "n2"))).status, 201);
  assert.equal((await call("POST", "/api/v1/namespaces/kube-system/pods", pod("c", "n1"))).status, 201);

  const dup = await call("POST", "/api/v1/namespaces/default/pods", pod("a", "n1"));
  assert.equal(dup.status, 409);
  assert.equal(dup.body.reason, "AlreadyExists");
  const wrongNs = await call("POST", "/api/v1/namespaces/default/pods", pod("d", "n1", "other"));
  assert.equal(wrongNs.status, 400);
  const noContainers = await call("POST", "/api/v1/namespaces/default/pods", {
    metadata: { name: "e" },
    spec: {},
  });
  assert.equal(noContainers.status, 422);
  assert.equal(noContainers.body.reason, "Invalid");
  assert.equal((await call("POST", "/api/v1/namespaces/default/pods", "not-an-object")).status, 400);

  const all = await call("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1");
  assert.equal(all.body.kind, "PodList");
  assert.deepEqual(all.body.items.map((p: any) => p.metadata.name).sort(), ["a", "c"]);
  const ns = await call("GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dn1");
  assert.deepEqual(ns.body.items.map((p: any) => p.metadata.name), ["a"]);
  const byName = await call("GET", "/api/v1/pods?fieldSelector=metadata.name%3Db");
  assert.deepEqual(byName.body.items.map((p: any) => p.metadata.name), ["b"]);
  const byLabel = await call("GET", "/api/v1/pods?labelSelector=app%20in%20(a,c)");
  assert.deepEqual(byLabel.body.items.map((p: any) => p.metadata.name).sort(), ["a", "c"]);
  assert.equal((await call("GET", "/api/v1/pods?fieldSelector=spec.bogus%3D1")).status, 400);
  const paged = await call("GET", "/api/v1/pods?limit=2");
  assert.equal(paged.body.items.length, 2);
  assert.ok(paged.body.metadata.continue);
  const rest = await call(
    "GET",
    `/api/v1/pods?limit=2&continue=${encodeURIComponent(paged.body.metadata.continue)}`,
  );
  assert.equal(rest.body.items.length, 1);
  assert.equal(rest.body.metadata.continue, undefined);

  const got = await call("GET", "/api/v1/namespaces/default/pods/a");
  assert.equal(got.body.spec.nodeName, "n1");
  const missing = await call("GET", "/api/v1/namespaces/default/pods/zzz");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, "NotFound");
  assert.equal(missing.body.details.name, "zzz");

  const del = await call("DELETE", "/api/v1/namespaces/default/pods/a");
  assert.equal(del.status, 200);
  assert.equal(del.body.kind, "Pod");
  assert.equal((await call("GET", "/api/v1/namespaces/default/pods/a")).status, 404);
  assert.equal((await call("DELETE", "/api/v1/namespaces/default/pods/a")).status, 404);
  assert.equal((await call("POST", "/api/v1/pods", pod("x", "n1"))).status, 405);
  assert.equal((await call("PUT", "/api/v1/namespaces/default/pods")).status, 405);
});

Deno.test("server: pod status via PUT and PATCH on /status", async () => {
  const { call, store } = setup();
  store.createPod({ namespace: "default", name: "p", nodeName: "n1" });
  const cur = (await call("GET", "/api/v1/namespaces/default/pods/p")).body;
  cur.status = { phase: "Running", podIP: "10.0.0.7" };
  const put = await call("PUT", "/api/v1/namespaces/default/pods/p/status", cur);
  assert.equal(put.status, 200);
  assert.equal(put.body.status.podIP, "10.0.0.7");
  const stale = await call("PUT", "/api/v1/namespaces/default/pods/p/status", cur);
  assert.equal(stale.status, 409, "resourceVersion precondition");
  const patched = await call(
    "PATCH",
    "/api/v1/namespaces/default/pods/p/status",
    { status: { podIP: "10.0.0.8" } },
    "application/strategic-merge-patch+json",
  );
  assert.equal(patched.body.status.podIP, "10.0.0.8");
  assert.equal(patched.body.status.phase, "Running");
  assert.equal((store.getPod("default", "p")!.status as { podIP: string }).podIP, "10.0.0.8");
  const wrongName = await call("PUT", "/api/v1/namespaces/default/pods/p", {
    ...cur,
    metadata: { name: "q" },
  });
  assert.equal(wrongName.status, 400);
});

Deno.test("server: node PATCH with merge, strategic-merge and json-patch; 415 otherwise", async () => {
  const { call, store } = setup();
  store.addNode("n1", { labels: { a: "1" } });
  const m = await call(
    "PATCH",
    "/api/v1/nodes/n1",
    { metadata: { labels: { b: "2" } } },
    "application/merge-patch+json",
  );
  assert.equal(m.status, 200);
  assert.equal(m.body.metadata.labels.a, "1");
  assert.equal(m.body.metadata.labels.b, "2");
  const s = await call(
    "PATCH",
    "/api/v1/nodes/n1",
    { metadata: { labels: { a: null }, annotations: { x: "y" } } },
    "application/strategic-merge-patch+json",
  );
  assert.equal(s.body.metadata.labels.a, undefined);
  assert.equal(s.body.metadata.annotations.x, "y");
  const j = await call(
    "PATCH",
    "/api/v1/nodes/n1",
    [{ op: "add", path: "/metadata/labels/k8s.amazonaws.com~1eniConfig", value: "az1" }],
    "application/json-patch+json",
  );
  assert.equal(j.body.metadata.labels["k8s.amazonaws.com/eniConfig"], "az1");
  const badOp = await call(
    "PATCH",
    "/api/v1/nodes/n1",
    [{ op: "replace", path: "/metadata/nope", value: 1 }],
    "application/json-patch+json",
  );
  assert.equal(badOp.status, 422);
  const yaml = await call("PATCH", "/api/v1/nodes/n1", {}, "application/apply-patch+yaml");
  assert.equal(yaml.status, 415);
  const rename = await call(
    "PATCH",
    "/api/v1/nodes/n1",
    { metadata: { name: "n2" } },
    "application/merge-patch+json",
  );
  assert.equal(rename.status, 422);
  assert.equal((await call("PATCH", "/api/v1/nodes/none", {}, "application/merge-patch+json")).status, 404);
  const list = await call("GET", "/api/v1/nodes");
  assert.equal(list.body.kind, "NodeList");
  assert.equal(list.body.items.length, 1);
  assert.equal(list.body.metadata.resourceVersion, store.resourceVersion);
});

Deno.test("server: ENIConfig CRUD and events in both API groups", async () => {
  const { call, store } = setup();
  const base = "/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs";
  const body = {
    apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
    kind: "ENIConfig",
    metadata: { name: "az1" },
    spec: { subnet: "subnet-1", securityGroups: ["sg-1"] },
  };
  assert.equal((await call("POST", base, body)).status, 201);
  assert.equal((await call("POST", base, body)).status, 409);
  const got = await call("GET", `${base}/az1`);
  assert.deepEqual(got.body.spec, body.spec);
  got.body.spec.subnet = "subnet-2";
  assert.equal((await call("PUT", `${base}/az1`, got.body)).body.spec.subnet, "subnet-2");
  assert.equal((await call("GET", base)).body.kind, "ENIConfigList");
  const del = await call("DELETE", `${base}/az1`);
  assert.equal(del.body.kind, "Status");
  assert.equal(del.body.status, "Success");
  assert.equal(store.getEniConfig("az1"), undefined);

  const ev = await call("POST", "/api/v1/namespaces/default/events", {
    metadata: { generateName: "n1." },
    involvedObject: { kind: "Node", name: "n1" },
    reason: "Started",
    message: "hello",
    type: "Normal",
  });
  assert.equal(ev.status, 201);
  const ev2 = await call("POST", "/apis/events.k8s.io/v1/namespaces/default/events", {
    metadata: { name: "n1.two" },
    regarding: { kind: "Node", name: "n1" },
    reason: "Other",
    note: "world",
    type: "Warning",
    reportingController: "aws-node",
    reportingInstance: "n1",
    action: "Test",
    eventTime: "2026-11-25T19:00:00.000000Z",
  });
  assert.equal(ev2.status, 201);
  assert.equal(ev2.body.note, "world");
  const stored = store.listEvents({ involvedName: "n1" });
  assert.deepEqual(stored.map((e) => e.message).sort(), ["hello", "world"]);
  const v1list = await call("GET", "/apis/events.k8s.io/v1/events?fieldSelector=regarding.name%3Dn1");
  assert.equal(v1list.body.items.length, 2);
  assert.ok(v1list.body.items.every((e: any) => e.regarding.name === "n1"));
});

Deno.test("server: watch streams ADDED/MODIFIED/DELETED with increasing resourceVersions", async () => {
  const { handler, store } = setup();
  store.createPod({ namespace: "d", name: "other", nodeName: "n2" });
  const rv = store.resourceVersion;
  const res = await startWatch(
    handler,
    `/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn1&resourceVersion=${rv}`,
  );
  assert.equal(res.status, 200);
  assert.equal(handler.activeWatches, 1);
  store.createPod({ namespace: "d", name: "p", nodeName: "n1" });
  store.createPod({ namespace: "d", name: "q", nodeName: "n2" });
  store.setPodIp("d", "p", "10.0.0.3");
  store.deletePod("d", "p");
  const evs = await readEvents(res, 3);
  assert.deepEqual(evs.map((e) => `${e.type}:${e.object.metadata.name}`), [
    "ADDED:p",
    "MODIFIED:p",
    "DELETED:p",
  ]);
  const rvs = evs.map((e) => Number(e.object.metadata.resourceVersion));
  assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `increasing: ${rvs}`);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(handler.activeWatches, 0, "cancelling the body ends the watch");
  assert.equal(store.watcherCount(), 0);
});

Deno.test("server: watch=1 without resourceVersion sends current objects; resume replays", async () => {
  const { handler, store } = setup();
  store.createPod({ namespace: "d", name: "a", nodeName: "n1" });
  const mark = store.resourceVersion;
  store.createPod({ namespace: "d", name: "b", nodeName: "n1" });
  const first = await readEvents(await startWatch(handler, "/api/v1/namespaces/d/pods?watch=1"), 2);
  assert.deepEqual(first.map((e) => `${e.type}:${e.object.metadata.name}`), ["ADDED:a", "ADDED:b"]);
  const resumed = await readEvents(
    await startWatch(handler, `/api/v1/pods?watch=true&resourceVersion=${mark}`),
    1,
  );
  assert.deepEqual(resumed.map((e) => `${e.type}:${e.object.metadata.name}`), ["ADDED:b"]);
  const legacy = await readEvents(await startWatch(handler, `/api/v1/watch/pods?resourceVersion=${mark}`), 1);
  assert.equal(legacy[0].object.metadata.name, "b");
});

Deno.test("server: too-old resourceVersion yields a 410 Expired ERROR event, then the stream ends", async () => {
  const store = new KubeStore({ historyLimit: 2 });
  const handler = createKubeHandler(store);
  for (let i = 0; i < 5; i++) store.createPod({ namespace: "d", name: `p${i}`, nodeName: "n1" });
  const res = await startWatch(handler, "/api/v1/pods?watch=true&resourceVersion=1");
  assert.equal(res.status, 200);
  const evs = await readEvents(res, 10);
  assert.equal(evs.length, 1);
  assert.equal(evs[0].type, "ERROR");
  assert.equal(evs[0].object.kind, "Status");
  assert.equal(evs[0].object.code, 410);
  assert.equal(evs[0].object.reason, "Expired");
  assert.equal(handler.activeWatches, 0);
  const bad = await handler(new Request(`${BASE}/api/v1/pods?watch=true&resourceVersion=x`));
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("server: watch honours timeoutSeconds, bookmarks, close() and request abort", async () => {
  const { handler, store } = setup({ bookmarkIntervalMs: 20 });
  store.addNode("n1");
  // timeoutSeconds ends the stream.
  const t0 = Date.now();
  const timed = await startWatch(
    handler,
    `/api/v1/nodes?watch=true&resourceVersion=${store.resourceVersion}&timeoutSeconds=0.1`,
  );
  assert.deepEqual(await readEvents(timed, 1), []);
  assert.ok(Date.now() - t0 < 2000);
  // Bookmarks carry the current resourceVersion.
  const bm = await startWatch(
    handler,
    `/api/v1/nodes?watch=true&allowWatchBookmarks=true&resourceVersion=${store.resourceVersion}`,
  );
  assert.equal(handler.bookmarksSent, 0);
  const [b] = await readEvents(bm, 1);
  assert.equal(b.type, "BOOKMARK");
  assert.equal(b.object.metadata.resourceVersion, store.resourceVersion);
  assert.equal(b.object.kind, "Node");
  assert.ok(handler.bookmarksSent >= 1, "the handler counts the bookmarks it sent");
  // close() ends every watch.
  const w = await startWatch(handler, "/api/v1/nodes?watch=true&resourceVersion=0");
  assert.equal(handler.activeWatches, 1);
  handler.close();
  assert.equal(handler.activeWatches, 0);
  const evs = await readEvents(w, 5);
  assert.deepEqual(evs.map((e) => e.type), ["ADDED"]);
  // Aborting the request ends it too.
  const ac = new AbortController();
  const aw = await startWatch(
    handler,
    `/api/v1/nodes?watch=true&resourceVersion=${store.resourceVersion}`,
    ac.signal,
  );
  assert.equal(handler.activeWatches, 1);
  ac.abort();
  assert.equal(handler.activeWatches, 0);
  assert.equal(store.watcherCount(), 0);
  await aw.body?.cancel().catch(() => {});
});

Deno.test("server: gracefulPodDeletion marks a scheduled pod instead of removing it", async () => {
  const { call, store } = setup({ gracefulPodDeletion: true });
  store.createPod({ namespace: "d", name: "p", nodeName: "n1" });
  const del = await call("DELETE", "/api/v1/namespaces/d/pods/p");
  assert.equal(del.status, 200);
  assert.ok(del.body.metadata.deletionTimestamp);
  assert.ok(store.getPod("d", "p"));
  await call("DELETE", "/api/v1/namespaces/d/pods/p?gracePeriodSeconds=0");
  assert.equal(store.getPod("d", "p"), undefined);
});

Deno.test("server: prefix is stripped", async () => {
  const store = new KubeStore();
  store.addNode("n1");
  const handler = createKubeHandler(store, { prefix: "/k8s" });
  const res = await handler(new Request(`${BASE}/k8s/api/v1/nodes/n1`));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).metadata.name, "n1");
});

Deno.test("server: the handler's signal ends open watches and later ones at once", async () => {
  const store = new KubeStore();
  const ac = new AbortController();
  const handler = createKubeHandler(store, { signal: ac.signal });
  const w = await startWatch(handler, `/api/v1/pods?watch=true&resourceVersion=${store.resourceVersion}`);
  assert.equal(handler.activeWatches, 1);
  ac.abort();
  assert.equal(handler.activeWatches, 0);
  assert.deepEqual(await readEvents(w, 1), []);
  const later = await startWatch(handler, "/api/v1/pods?watch=true");
  assert.equal(handler.activeWatches, 0);
  assert.deepEqual(await readEvents(later, 1), []);
  assert.equal(store.watcherCount(), 0);
  const list = await handler(new Request(`${BASE}/api/v1/pods`));
  assert.equal(list.status, 200, "plain requests are still served");
  await list.body?.cancel();
});

Deno.test("server: a watcher that does not read is dropped once too many events queue up", async () => {
  const store = new KubeStore();
  const handler = createKubeHandler(store, { maxQueuedEvents: 5 });
  const res = await startWatch(handler, `/api/v1/nodes?watch=true&resourceVersion=${store.resourceVersion}`);
  for (let i = 0; i < 5; i++) store.addNode(`n${i}`);
  assert.equal(handler.activeWatches, 1, "5 queued events are tolerated");
  store.addNode("n5");
  store.addNode("n6");
  assert.equal(handler.activeWatches, 0);
  assert.equal(store.watcherCount(), 0);
  const evs = await readEvents(res, 100);
  assert.ok(evs.length >= 6 && evs.length <= 7, `queued events still readable: ${evs.length}`);
});
