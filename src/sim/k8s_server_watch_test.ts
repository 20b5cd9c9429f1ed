// deno-lint-ignore-file no-explicit-any -- JSON bodies are read loosely in assertions
import assert from "node:assert/strict";
import { readEvents, setup, startWatch } from "./k8s_server_test_util.ts";

/** What client-go's reflector sends when it lists by watching (WatchListClient). */
const WATCH_LIST =
  "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";

Deno.test("watch-list: current objects as ADDED, then the initial-events-end BOOKMARK, then changes", async () => {
  const { store, handler } = setup();
  store.createPod({ namespace: "d", name: "a", nodeName: "n1" });
  store.createPod({ namespace: "d", name: "b", nodeName: "n2" });
  store.createPod({ namespace: "d", name: "c", nodeName: "n1" });
  const snapshotRv = store.resourceVersion;
  const res = await startWatch(handler, `/api/v1/pods?${WATCH_LIST}&fieldSelector=spec.nodeName%3Dn1`);
  assert.equal(res.status, 200);
  store.createPod({ namespace: "d", name: "e", nodeName: "n1" });
  const evs = await readEvents(res, 4);
  assert.deepEqual(evs.map((e) => `${e.type} ${e.object.metadata.name ?? ""}`), [
    "ADDED a",
    "ADDED c",
    "BOOKMARK ",
    "ADDED e",
  ]);
  const bm = evs[2].object;
  assert.equal(bm.kind, "Pod");
  assert.equal(bm.apiVersion, "v1");
  assert.equal(bm.metadata.resourceVersion, snapshotRv, "the bookmark names the snapshot's resourceVersion");
  assert.deepEqual(bm.metadata.annotations, { "k8s.io/initial-events-end": "true" });
  assert.ok(Number(evs[3].object.metadata.resourceVersion) > Number(snapshotRv));
});

Deno.test("watch-list: an empty collection still ends with the bookmark; an old resourceVersion is no 410", async () => {
  const { store, handler } = setup();
  const empty = await readEvents(
    await startWatch(handler, `/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs?${WATCH_LIST}`),
    1,
  );
  assert.equal(empty[0].type, "BOOKMARK");
  assert.equal(empty[0].object.kind, "ENIConfig");
  assert.equal(empty[0].object.metadata.annotations["k8s.io/initial-events-end"], "true");

  const small = setup({});
  for (let i = 0; i < 3; i++) small.store.addNode(`n${i}`);
  // "Not older than 1": the current state qualifies, whatever the history still holds.
  const evs = await readEvents(
    await startWatch(small.handler, `/api/v1/nodes?${WATCH_LIST}&resourceVersion=1`),
    4,
  );
  assert.deepEqual(evs.map((e) => e.type), ["ADDED", "ADDED", "ADDED", "BOOKMARK"]);
  assert.equal(store.watcherCount(), 0);
});

Deno.test("watch-list: a resourceVersion newer than the store's is 504 Too large resource version", async () => {
  const { store, call } = setup();
  store.addNode("n0");
  const r = await call("GET", `/api/v1/nodes?${WATCH_LIST}&resourceVersion=99`);
  assert.equal(r.status, 504);
  assert.equal(r.body.reason, "Timeout");
  assert.match(r.body.message, /Too large resource version: 99, current: 1/);
  assert.equal(r.body.details.causes[0].reason, "ResourceVersionTooLarge");
  assert.equal(store.watcherCount(), 0);
});

Deno.test("watch-list: sendInitialEvents=false starts at the given resourceVersion with no initial objects", async () => {
  const { store, handler } = setup();
  store.addNode("n0");
  const rv = store.resourceVersion;
  const q = "watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
  const fresh = await startWatch(handler, `/api/v1/nodes?${q}`);
  const resumed = await startWatch(handler, `/api/v1/nodes?${q}&resourceVersion=${rv}`);
  store.addNode("n1");
  assert.deepEqual((await readEvents(fresh, 1)).map((e) => `${e.type} ${e.object.metadata.name}`), [
    "ADDED n1",
  ]);
  assert.deepEqual((await readEvents(resumed, 1)).map((e) => `${e.type} ${e.object.metadata.name}`), [
    "ADDED n1",
  ]);
});

Deno.test("watch-list: options are validated as the API server does (422 Invalid ListOptions)", async () => {
  const { call } = setup();
  const cases: [string, RegExp][] = [
    [
      "watch=1&sendInitialEvents=true",
      /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/,
    ],
    [
      "watch=1&resourceVersionMatch=NotOlderThan",
      /resourceVersionMatch is forbidden for watch unless sendInitialEvents/,
    ],
    ["watch=1&sendInitialEvents=true&resourceVersionMatch=Exact", /Unsupported value: "Exact"/],
    ["sendInitialEvents=true", /sendInitialEvents is forbidden for list/],
    [
      "resourceVersionMatch=NotOlderThan",
      /resourceVersionMatch is forbidden unless resourceVersion is provided/,
    ],
  ];
  for (const [q, want] of cases) {
    const r = await call("GET", `/api/v1/pods?${q}`);
    assert.equal(r.status, 422, q);
    assert.equal(r.body.kind, "Status");
    assert.equal(r.body.reason, "Invalid");
    assert.equal(r.body.details.kind, "ListOptions");
    assert.equal(r.body.details.group, "meta.k8s.io");
    assert.match(r.body.message, /^ListOptions\.meta\.k8s\.io "" is invalid: /, q);
    assert.match(r.body.message, want, q);
  }
  assert.equal(
    (await call("GET", "/api/v1/pods?resourceVersion=0&resourceVersionMatch=NotOlderThan")).status,
    200,
  );
});

Deno.test("server: a protobuf body gets 415 UnsupportedMediaType as a Status; JSON still works", async () => {
  const { store, handler, call } = setup();
  store.addNode("n0");
  const pb = new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f]); // the protobuf envelope's magic "k8s\0"
  for (const [method, path] of [["POST", "/api/v1/namespaces/default/events"], ["PUT", "/api/v1/nodes/n0"]]) {
    const res = await handler(
      new Request(`http://lab.invalid${path}`, {
        method,
        body: pb,
        headers: { "content-type": "application/vnd.kubernetes.protobuf" },
      }),
    );
    const body: any = await res.json();
    assert.equal(res.status, 415, `${method} ${path}`);
    assert.equal(body.kind, "Status");
    assert.equal(body.status, "Failure");
    assert.equal(body.reason, "UnsupportedMediaType");
    assert.equal(body.code, 415);
    assert.match(body.message, /accepted media types include: application\/json/);
  }
  const ok = await call("POST", "/api/v1/namespaces/default/events", {
    metadata: { name: "e1" },
    involvedObject: { kind: "Node", name: "n0" },
    reason: "R",
    message: "m",
  }, "application/json; charset=utf-8");
  assert.equal(ok.status, 201);
});
