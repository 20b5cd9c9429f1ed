import assert from "node:assert/strict";
import type { EniConfigSpec, KubePort, NodeInfo } from "../k8s/port.ts";
import {
  ENI_CONFIG_DEFAULT,
  EniConfigError,
  eniConfigName,
  EniConfigWatcher,
  placementFor,
} from "./eni_config.ts";

const keys = {
  eniConfigLabelDef: "k8s.amazonaws.com/eniConfig",
  eniConfigAnnotationDef: "k8s.amazonaws.com/eniConfig",
};

Deno.test("eniConfigName: annotation wins over label; label next; else default", () => {
  const K = "k8s.amazonaws.com/eniConfig";
  assert.deepEqual(eniConfigName({ labels: { [K]: "lab" }, annotations: { [K]: "ann" } }, keys), {
    name: "ann",
    source: "annotation",
  });
  assert.deepEqual(eniConfigName({ labels: { [K]: "lab" }, annotations: {} }, keys), {
    name: "lab",
    source: "label",
  });
  assert.deepEqual(eniConfigName({ labels: {}, annotations: {} }, keys), {
    name: ENI_CONFIG_DEFAULT,
    source: "default",
  });
  // Empty values do not count.
  assert.deepEqual(eniConfigName({ labels: { [K]: "lab" }, annotations: { [K]: "" } }, keys).name, "lab");
  // Custom keys: ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone.
  const zone = { eniConfigLabelDef: "topology.kubernetes.io/zone", eniConfigAnnotationDef: "x/eni" };
  assert.deepEqual(
    eniConfigName({
      labels: { "topology.kubernetes.io/zone": "us-west-2a", [K]: "ignored" },
      annotations: {},
    }, zone),
    { name: "us-west-2a", source: "label" },
  );
  assert.equal(
    eniConfigName({ labels: { "topology.kubernetes.io/zone": "z" }, annotations: { "x/eni": "a" } }, zone)
      .name,
    "a",
  );
});

Deno.test("placementFor: ENIConfig groups, or the primary ENI's when it lists none", () => {
  assert.deepEqual(
    placementFor({ name: "a", subnet: "subnet-1", securityGroups: ["sg-1", "sg-2"] }, ["sg-p"]),
    {
      subnetId: "subnet-1",
      securityGroupIds: ["sg-1", "sg-2"],
      eniConfig: "a",
    },
  );
  assert.deepEqual(
    placementFor({ name: "a", subnet: "subnet-1", securityGroups: [] }, ["sg-p"]).securityGroupIds,
    [
      "sg-p",
    ],
  );
});

/** A KubePort fake with one node whose changes the test pushes. */
function fakeKube(configs: Record<string, EniConfigSpec>, node: NodeInfo) {
  let push: ((n: NodeInfo) => void) | undefined;
  const kube: Pick<KubePort, "getNode" | "getEniConfig" | "watchNode"> = {
    getNode: () => Promise.resolve(structuredClone(node)),
    getEniConfig: (name) => Promise.resolve(configs[name]),
    watchNode: (_name, onChange, signal) =>
      new Promise((resolve) => {
        push = onChange;
        onChange(structuredClone(node));
        signal.addEventListener("abort", () => resolve());
      }),
  };
  return { kube, push: (n: NodeInfo) => push!(n) };
}

const K = "k8s.amazonaws.com/eniConfig";
const node = (labels: Record<string, string>, annotations: Record<string, string> = {}): NodeInfo => ({
  name: "n1",
  labels,
  annotations,
});
const configs: Record<string, EniConfigSpec> = {
  a: { name: "a", subnet: "subnet-a", securityGroups: ["sg-a"] },
  b: { name: "b", subnet: "subnet-b", securityGroups: [] },
};

Deno.test("EniConfigWatcher: init resolves; a label change moves new ENIs; an unknown name keeps the old", async () => {
  const f = fakeKube(configs, node({ [K]: "a" }));
  const changes: string[] = [];
  const w = new EniConfigWatcher({
    kube: f.kube,
    nodeName: "n1",
    keys,
    fallbackGroups: ["sg-p"],
    onChange: (p) => changes.push(p.subnetId),
  });
  assert.deepEqual(await w.init(), { subnetId: "subnet-a", securityGroupIds: ["sg-a"], eniConfig: "a" });
  const ac = new AbortController();
  const watching = w.watch(ac.signal);
  const settle = () => new Promise((r) => setTimeout(r, 10));
  await settle();
  assert.deepEqual(changes, [], "the first (unchanged) node state is no change");
  f.push(node({ [K]: "b" }));
  await settle();
  assert.deepEqual(w.current, { subnetId: "subnet-b", securityGroupIds: ["sg-p"], eniConfig: "b" });
  f.push(node({ [K]: "missing" }));
  await settle();
  assert.equal(w.current?.subnetId, "subnet-b");
  f.push(node({ [K]: "b" }, { [K]: "a" }));
  await settle();
  assert.equal(w.current?.subnetId, "subnet-a");
  assert.deepEqual(changes, ["subnet-b", "subnet-a"]);
  assert.deepEqual(Object.keys(w.seen).sort(), ["a", "b"]);
  ac.abort();
  await watching;
});

Deno.test("EniConfigWatcher.init: no ENIConfig is an EniConfigError naming it and the node", async () => {
  const w = new EniConfigWatcher({
    kube: fakeKube(configs, node({})).kube,
    nodeName: "n1",
    keys,
    fallbackGroups: [],
  });
  await assert.rejects(
    w.init(),
    (e) => e instanceof EniConfigError && /"default"/.test(e.message) && /n1/.test(e.message),
  );
  const w2 = new EniConfigWatcher({
    kube: fakeKube({ x: { name: "x", subnet: "", securityGroups: [] } }, node({ [K]: "x" })).kube,
    nodeName: "n1",
    keys,
    fallbackGroups: [],
  });
  await assert.rejects(w2.init(), /no spec.subnet/);
});

Deno.test("EniConfigWatcher.placement: picks up an edited ENIConfig; keeps the last one when it vanishes", async () => {
  const cfgs: Record<string, EniConfigSpec> = {
    a: { name: "a", subnet: "subnet-a", securityGroups: ["sg-a"] },
  };
  const w = new EniConfigWatcher({
    kube: fakeKube(cfgs, node({ [K]: "a" })).kube,
    nodeName: "n1",
    keys,
    fallbackGroups: ["sg-p"],
  });
  assert.equal((await w.placement()).subnetId, "subnet-a", "before init: resolves");
  cfgs.a = { name: "a", subnet: "subnet-a2", securityGroups: [] };
  assert.deepEqual(await w.placement(), {
    subnetId: "subnet-a2",
    securityGroupIds: ["sg-p"],
    eniConfig: "a",
  });
  delete cfgs.a;
  assert.equal((await w.placement()).subnetId, "subnet-a2");
  assert.equal(w.current?.subnetId, "subnet-a2");
});
