// deno-lint-ignore-file no-explicit-any -- Table JSON is read loosely
import assert from "node:assert/strict";
import { KubeStore } from "./k8s_store.ts";
import { humanAge, renderTable, wantsTable } from "./k8s_server_table.ts";
import { createKubeHandler } from "./k8s_server.ts";

const KUBECTL_ACCEPT =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

Deno.test("wantsTable: only when the first preference is a meta.k8s.io Table", () => {
  assert.equal(wantsTable(KUBECTL_ACCEPT), true);
  assert.equal(wantsTable("application/json"), false);
  assert.equal(wantsTable(null), false);
  assert.equal(wantsTable("application/json, application/json;as=Table;v=v1;g=meta.k8s.io"), false);
});

Deno.test("humanAge: kubectl-style durations", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
  assert.equal(humanAge(ago(5), now), "5s");
  assert.equal(humanAge(ago(119), now), "119s");
  assert.equal(humanAge(ago(312), now), "5m12s");
  assert.equal(humanAge(ago(300), now), "5m");
  assert.equal(humanAge(ago(42 * 60), now), "42m");
  assert.equal(humanAge(ago(3 * 3600 + 300), now), "3h5m");
  assert.equal(humanAge(ago(20 * 3600), now), "20h");
  assert.equal(humanAge(ago(6 * 86400), now), "6d");
  assert.equal(humanAge(undefined, now), "<unknown>");
});

Deno.test("renderTable: pods show status, IP and node; rows carry metadata", () => {
  const store = new KubeStore();
  store.createPod({ namespace: "d", name: "p", nodeName: "n1" });
  store.setPodIp("d", "p", "10.0.0.9");
  store.createPod({ namespace: "d", name: "q", nodeName: "n1" });
  store.deletePod("d", "q", { graceful: true });
  const t = renderTable("pods", store.listPods(), { resourceVersion: "3" }) as any;
  assert.equal(t.kind, "Table");
  assert.deepEqual(t.columnDefinitions.map((c: any) => [c.name, c.priority]), [
    ["Name", 0],
    ["Status", 0],
    ["Age", 0],
    ["IP", 1],
    ["Node", 1],
  ]);
  assert.deepEqual(t.rows.map((r: any) => [r.cells[0], r.cells[1], r.cells[3], r.cells[4]]), [
    ["p", "Running", "10.0.0.9", "n1"],
    ["q", "Terminating", "<none>", "n1"],
  ]);
  assert.equal(t.rows[0].object.kind, "PartialObjectMetadata");
  assert.equal(t.rows[0].object.metadata.namespace, "d");
});

Deno.test("server: list and get answer a Table when asked", async () => {
  const store = new KubeStore();
  store.addNode("n1", { internalIP: "10.0.0.10" });
  const h = createKubeHandler(store);
  const list = await (await h(new Request("http://x/api/v1/nodes", { headers: { accept: KUBECTL_ACCEPT } })))
    .json();
  assert.equal(list.kind, "Table");
  assert.deepEqual(list.rows[0].cells.slice(0, 2), ["n1", "Ready"]);
  assert.equal(list.rows[0].cells[4], "10.0.0.10");
  const one =
    await (await h(new Request("http://x/api/v1/nodes/n1", { headers: { accept: KUBECTL_ACCEPT } }))).json();
  assert.equal(one.rows.length, 1);
  const plain = await (await h(new Request("http://x/api/v1/nodes/n1"))).json();
  assert.equal(plain.kind, "Node");
});
