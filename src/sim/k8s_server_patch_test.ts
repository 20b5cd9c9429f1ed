import assert from "node:assert/strict";
import { applyPatch, jsonPatch, mergePatch, PatchError } from "./k8s_server_patch.ts";

Deno.test("mergePatch: RFC 7386 examples", () => {
  assert.deepEqual(mergePatch({ a: "b" }, { a: "c" }), { a: "c" });
  assert.deepEqual(mergePatch({ a: "b" }, { b: "c" }), { a: "b", b: "c" });
  assert.deepEqual(mergePatch({ a: "b" }, { a: null }), {});
  assert.deepEqual(mergePatch({ a: "b", b: "c" }, { a: null }), { b: "c" });
  assert.deepEqual(mergePatch({ a: ["b"] }, { a: "c" }), { a: "c" });
  assert.deepEqual(mergePatch({ a: "c" }, { a: ["b"] }), { a: ["b"] });
  assert.deepEqual(mergePatch({ a: { b: "c" } }, { a: { b: "d", c: null } }), { a: { b: "d" } });
  assert.deepEqual(mergePatch({ a: [{ b: "c" }] }, { a: [1] }), { a: [1] });
  assert.deepEqual(mergePatch({ e: null }, { a: 1 }), { e: null, a: 1 });
  assert.deepEqual(mergePatch([1, 2], { a: "b", c: null }), { a: "b" });
  assert.deepEqual(mergePatch({}, { a: { bb: { ccc: null } } }), { a: { bb: {} } });
});

Deno.test("mergePatch does not mutate its input", () => {
  const t = { metadata: { labels: { a: "1" } } };
  mergePatch(t, { metadata: { labels: { a: null, b: "2" } } });
  assert.deepEqual(t, { metadata: { labels: { a: "1" } } });
});

Deno.test("strategic merge patch drops $-directives and merges", () => {
  const out = applyPatch("application/strategic-merge-patch+json", { metadata: { labels: { a: "1" } } }, {
    metadata: { labels: { b: "2" }, $retainKeys: ["x"] },
  });
  assert.deepEqual(out, { metadata: { labels: { a: "1", b: "2" } } });
});

Deno.test("jsonPatch: add/replace/remove/test/move/copy, with ~1 escapes", () => {
  const doc = { metadata: { labels: { a: "1" } }, list: [1, 2] };
  const out = jsonPatch(doc, [
    { op: "add", path: "/metadata/labels/k8s.amazonaws.com~1eniConfig", value: "az1" },
    { op: "replace", path: "/metadata/labels/a", value: "2" },
    { op: "add", path: "/list/-", value: 3 },
    { op: "add", path: "/list/0", value: 0 },
    { op: "remove", path: "/list/1" },
    { op: "test", path: "/list", value: [0, 2, 3] },
    { op: "copy", from: "/metadata/labels/a", path: "/copied" },
    { op: "move", from: "/copied", path: "/moved" },
  ]);
  assert.deepEqual(out, {
    metadata: { labels: { a: "2", "k8s.amazonaws.com/eniConfig": "az1" } },
    list: [0, 2, 3],
    moved: "2",
  });
  assert.deepEqual(doc.list, [1, 2], "input untouched");
});

Deno.test("jsonPatch: failures are PatchError", () => {
  assert.throws(() => jsonPatch({}, [{ op: "replace", path: "/x", value: 1 }]), PatchError);
  assert.throws(() => jsonPatch({}, [{ op: "remove", path: "/x" }]), PatchError);
  assert.throws(() => jsonPatch({ x: 1 }, [{ op: "test", path: "/x", value: 2 }]), PatchError);
  assert.throws(() => jsonPatch({}, [{ op: "add", path: "/a/b", value: 1 }]), PatchError);
  assert.throws(() => jsonPatch({}, { op: "add" }), PatchError);
  assert.throws(() => jsonPatch({}, [{ op: "frob", path: "/a" }]), PatchError);
  assert.throws(() => applyPatch("application/apply-patch+yaml", {}, {}), PatchError);
});
