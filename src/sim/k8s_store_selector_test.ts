import assert from "node:assert/strict";
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  readPath,
  SelectorError,
} from "./k8s_store_selector.ts";

Deno.test("parseFieldSelector: =, ==, != and AND by comma", () => {
  assert.deepEqual(parseFieldSelector("spec.nodeName=n1,metadata.name==a, status.phase!=Failed"), [
    { field: "spec.nodeName", op: "=", value: "n1" },
    { field: "metadata.name", op: "=", value: "a" },
    { field: "status.phase", op: "!=", value: "Failed" },
  ]);
  assert.deepEqual(parseFieldSelector(""), []);
  assert.deepEqual(parseFieldSelector(undefined), []);
  assert.deepEqual(parseFieldSelector("spec.nodeName="), [{ field: "spec.nodeName", op: "=", value: "" }]);
});

Deno.test("parseFieldSelector: unsupported field and garbage are SelectorError", () => {
  assert.throws(() => parseFieldSelector("spec.bogus=x", ["spec.nodeName"]), SelectorError);
  assert.throws(() => parseFieldSelector("justaword"), SelectorError);
  assert.throws(() => parseFieldSelector("a=(b"), SelectorError);
});

Deno.test("parseLabelSelector: every operator", () => {
  assert.deepEqual(parseLabelSelector("app=web,tier!=db,env in (a, b),zone notin (z),has,!not,x==y"), [
    { key: "app", op: "=", value: "web" },
    { key: "tier", op: "!=", value: "db" },
    { key: "env", op: "in", values: ["a", "b"] },
    { key: "zone", op: "notin", values: ["z"] },
    { key: "has", op: "exists" },
    { key: "not", op: "!exists" },
    { key: "x", op: "=", value: "y" },
  ]);
  assert.deepEqual(parseLabelSelector("k8s.amazonaws.com/eniConfig=us-west-2a"), [
    { key: "k8s.amazonaws.com/eniConfig", op: "=", value: "us-west-2a" },
  ]);
  assert.throws(() => parseLabelSelector("a=b c"), SelectorError);
  assert.throws(() => parseLabelSelector("a in (b"), SelectorError);
});

Deno.test("matchesLabels: semantics of each operator", () => {
  const l = { app: "web", env: "prod" };
  const m = (s: string) => matchesLabels(l, parseLabelSelector(s));
  assert.equal(m(""), true);
  assert.equal(m("app=web"), true);
  assert.equal(m("app=db"), false);
  assert.equal(m("app!=db"), true);
  assert.equal(m("missing!=x"), true);
  assert.equal(m("env in (dev,prod)"), true);
  assert.equal(m("env in (dev)"), false);
  assert.equal(m("missing in (dev)"), false);
  assert.equal(m("env notin (prod)"), false);
  assert.equal(m("missing notin (prod)"), true);
  assert.equal(m("app"), true);
  assert.equal(m("missing"), false);
  assert.equal(m("!app"), false);
  assert.equal(m("!missing"), true);
  assert.equal(m("app=web,env=dev"), false);
  assert.equal(matchesLabels(undefined, parseLabelSelector("!x")), true);
});

Deno.test("matchesFields: dotted paths, absent reads as empty", () => {
  const pod = { metadata: { name: "p" }, spec: { nodeName: "n1", hostNetwork: true } };
  assert.equal(matchesFields(pod, parseFieldSelector("spec.nodeName=n1")), true);
  assert.equal(matchesFields(pod, parseFieldSelector("spec.nodeName=n2")), false);
  assert.equal(matchesFields(pod, parseFieldSelector("spec.nodeName!=n2")), true);
  assert.equal(matchesFields(pod, parseFieldSelector("status.podIP=")), true);
  assert.equal(matchesFields(pod, parseFieldSelector("spec.hostNetwork=true")), true);
  assert.equal(readPath(pod, "spec.nodeName.deeper"), "");
});
