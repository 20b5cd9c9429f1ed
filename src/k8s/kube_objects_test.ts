import assert from "node:assert/strict";
import { nodeChangeKey, toNodeInfo, toPodInfo } from "./kube_objects.ts";

Deno.test("toPodInfo / toNodeInfo read raw JSON and tolerate gaps", () => {
  assert.deepEqual(
    toPodInfo({
      metadata: { namespace: "d", name: "p", uid: "u", deletionTimestamp: "2026-01-01T00:00:00Z" },
      spec: { nodeName: "n1" },
      status: { podIP: "10.0.0.1", phase: "Running" },
    }),
    {
      namespace: "d",
      name: "p",
      uid: "u",
      nodeName: "n1",
      podIp: "10.0.0.1",
      phase: "Running",
      deleting: true,
    },
  );
  assert.deepEqual(toPodInfo({ metadata: { name: "x" } }), {
    namespace: "",
    name: "x",
    uid: "",
    nodeName: "",
    deleting: false,
  });
  assert.deepEqual(toNodeInfo({ metadata: { name: "n" }, spec: { providerID: "aws:///az/i-1" } }), {
    name: "n",
    labels: {},
    annotations: {},
    unschedulable: false,
    providerId: "aws:///az/i-1",
  });
  // Cordoned: the flag (kubectl cordon) or the taint (the node controller's; upstream's test).
  assert.equal(toNodeInfo({ spec: { unschedulable: true } }).unschedulable, true);
  const taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };
  assert.equal(toNodeInfo({ spec: { taints: [taint] } }).unschedulable, true);
  assert.equal(toNodeInfo({ spec: { taints: [{ ...taint, effect: "NoExecute" }] } }).unschedulable, false);
});

Deno.test("nodeChangeKey: the same for the same labels in another order, different when what ipamd reads changes", () => {
  const node = toNodeInfo({ metadata: { name: "n", labels: { a: "1", b: "2" } }, spec: { providerID: "p" } });
  const reordered = toNodeInfo({
    metadata: { name: "n", labels: { b: "2", a: "1" } },
    spec: { providerID: "p" },
  });
  assert.equal(nodeChangeKey(node), nodeChangeKey(reordered));
  assert.notEqual(nodeChangeKey(node), nodeChangeKey({ ...node, unschedulable: true }));
  assert.notEqual(nodeChangeKey(node), nodeChangeKey({ ...node, annotations: { x: "y" } }));
  assert.notEqual(nodeChangeKey(node), nodeChangeKey({ ...node, providerId: undefined }));
});
