/**
 * `manifests/aws-k8s-cni.yaml` against the Kubernetes API schemas (tests/manifest_schema.ts): kubernetes-models,
 * apimachinery's strict decoding, and the pod-spec rules; and a broken copy that each of the three rejects.
 */
import assert from "node:assert/strict";
import {
  manifestDocuments,
  podSpecProblems,
  schemaProblems,
  strictDecodeProblems,
} from "./manifest_schema.ts";

const MANIFEST = new URL("../manifests/aws-k8s-cni.yaml", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any -- parsed YAML
type Obj = any;

Deno.test("manifest: every document is valid for the Kubernetes API (schema, strict decoding, pod-spec rules)", async () => {
  const docs = manifestDocuments(await Deno.readTextFile(MANIFEST));
  assert.deepEqual(docs.map((d) => d.kind).sort(), [
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "DaemonSet",
    "ServiceAccount",
  ]);
  assert.deepEqual(schemaProblems(docs), []);
  const strict = await strictDecodeProblems(MANIFEST);
  assert.deepEqual(strict.problems, []);
  assert.equal(strict.kinds.length, docs.length, "every document decoded into its Go type");
  assert.deepEqual(podSpecProblems(docs), []);
  // The DaemonSet's probes, volumes and security context are there to be checked.
  const pod = docs.find((d) => d.kind === "DaemonSet").spec.template.spec;
  const main = pod.containers.find((c: Obj) => c.name === "aws-node");
  assert.ok(main.livenessProbe && main.readinessProbe, "aws-node has liveness and readiness probes");
  assert.ok(pod.volumes.length > 0 && pod.volumes.every((v: Obj) => v.hostPath), "hostPath volumes");
  assert.ok(
    [...pod.initContainers, ...pod.containers].every((c: Obj) => c.securityContext),
    "every container has a securityContext",
  );
});

Deno.test("manifest: a broken copy is rejected by each check, naming the field", async () => {
  const text = await Deno.readTextFile(MANIFEST);
  const docs = manifestDocuments(text);
  const ds = docs.find((d) => d.kind === "DaemonSet");
  const main = ds.spec.template.spec.containers.find((c: Obj) => c.name === "aws-node");
  main.livenessProbe.initialDelaySeconds = "soon";
  ds.spec.template.spec.volumes[0].hostPath.type = "Folder";
  assert.match(schemaProblems(docs).join("\n"), /livenessProbe\/initialDelaySeconds must be integer/);
  assert.match(schemaProblems(docs).join("\n"), /hostPath\/type must be equal to one of the allowed values/);

  main.livenessProbe.tcpSocket = { port: 61679 };
  main.volumeMounts.push({ name: "nowhere", mountPath: "/nowhere" });
  const rules = podSpecProblems(docs).join("\n");
  assert.match(rules, /livenessProbe must have exactly one handler, has 2/);
  assert.match(rules, /volumeMount nowhere names no volume/);

  const dir = await Deno.makeTempDir({ prefix: "manifest-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, text.replace("readinessProbe:", "readinesProbe:"));
    const strict = await strictDecodeProblems(`${dir}/bad.yaml`);
    assert.match(
      strict.problems.join("\n"),
      /unknown field "spec\.template\.spec\.containers\[0\]\.readinesProbe"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
