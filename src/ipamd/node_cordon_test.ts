import assert from "node:assert/strict";
import type { KubePort, NodeInfo } from "../k8s/port.ts";
import { CordonWatch, heldWhileCordoned, poolHold } from "./node_cordon.ts";
import { loadConfig } from "./config.ts";

const node = (unschedulable: boolean): NodeInfo => ({
  name: "n",
  labels: {},
  annotations: {},
  unschedulable,
});

Deno.test("CordonWatch: reads the node, then follows the watch; says when it changes", async () => {
  let push: (n: NodeInfo) => void = () => {};
  const kube = {
    getNode: () => Promise.resolve(node(true)),
    watchNode: (_: string, on: (n: NodeInfo) => void, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        push = on;
        signal.addEventListener("abort", () => resolve());
      }),
  } as unknown as Pick<KubePort, "getNode" | "watchNode">;
  const seen: boolean[] = [];
  const w = new CordonWatch({ kube, nodeName: "n", onChange: (c) => seen.push(c) });
  await w.init();
  assert.equal(w.cordoned, true);
  const ac = new AbortController();
  const done = w.watch(ac.signal);
  push(node(true)); // the watch's first event repeats the current state: no change
  push(node(false));
  push(node(false));
  push(node(true));
  assert.deepEqual(seen, [false, true]);
  ac.abort();
  await done;
});

Deno.test("CordonWatch: a node that cannot be read counts as schedulable", async () => {
  const kube = { getNode: () => Promise.reject(new Error("404")) } as unknown as Pick<
    KubePort,
    "getNode" | "watchNode"
  >;
  const w = new CordonWatch({ kube, nodeName: "n" });
  await w.init();
  assert.equal(w.cordoned, false);
});

Deno.test("heldWhileCordoned: growth and ENI freeing wait; returning free IPs does not", () => {
  assert.match(heldWhileCordoned({ kind: "create-enis", count: 1, ipsPerEni: 9 })!, /cordoned/);
  assert.match(heldWhileCordoned({ kind: "assign-ips", eniId: "e", count: 1 })!, /cordoned/);
  assert.match(heldWhileCordoned({ kind: "delete-eni", eniId: "e" })!, /cordoned/);
  assert.equal(heldWhileCordoned({ kind: "unassign-ips", eniId: "e", ips: ["10.0.0.9"] }), undefined);
});

Deno.test("poolHold: provisioning disabled holds every action, naming the knob; cordoned holds growth only", () => {
  const grow = { kind: "create-enis" as const, count: 1, ipsPerEni: 9 };
  const free = { kind: "unassign-ips" as const, eniId: "e", ips: ["10.0.0.9"] };
  const off = poolHold(loadConfig({ DISABLE_NETWORK_RESOURCE_PROVISIONING: "true" }), () => false);
  assert.match(off(free)!, /^DISABLE_NETWORK_RESOURCE_PROVISIONING=true/);
  const imds = poolHold(loadConfig({ ENABLE_IMDS_ONLY_MODE: "true" }), () => false);
  assert.match(imds(grow)!, /^ENABLE_IMDS_ONLY_MODE=true/);
  let cordoned = false;
  const hold = poolHold(loadConfig({}), () => cordoned);
  assert.equal(hold(grow), undefined);
  cordoned = true;
  assert.match(hold(grow)!, /cordoned/);
  assert.equal(hold(free), undefined);
});
