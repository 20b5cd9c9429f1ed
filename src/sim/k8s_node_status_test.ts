// deno-lint-ignore-file no-explicit-any -- statuses are read loosely
import assert from "node:assert/strict";
import { kubeReservedCpuMillis, nodeCapacity } from "./k8s_node_status.ts";
import { KubeStore } from "./k8s_store.ts";
import { labNodeCapacity } from "./daemon_world.ts";

Deno.test("node status: capacity and allocatable pods come from --max-pods, as a kubelet sets them", () => {
  const store = new KubeStore();
  const n = store.addNode("node-0", {
    capacity: labNodeCapacity({ instanceType: "m5.large", ipamdEnv: {} }),
  });
  const st = n.status as any;
  assert.equal(st.capacity.pods, "29");
  assert.equal(st.allocatable.pods, "29");
  assert.equal(st.capacity.cpu, "2");
  assert.equal(st.allocatable.cpu, "1930m", "EKS reserves 70m of an m5.large's 2 vCPUs");
  assert.equal(st.capacity["hugepages-2Mi"], "0");
});

Deno.test("node status: the lab's max-pods follows the instance type and ipamd's prefix/custom-networking settings", () => {
  const pods = (instanceType: string, ipamdEnv: Record<string, string> = {}) =>
    labNodeCapacity({ instanceType, ipamdEnv }).maxPods;
  assert.equal(pods("m5.large"), 29);
  assert.equal(pods("t3.medium"), 17);
  assert.equal(pods("m5.large", { ENABLE_PREFIX_DELEGATION: "true" }), 110);
  assert.equal(pods("m5.large", { AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true" }), 20);
  assert.equal(pods("m5.24xlarge", { ENABLE_PREFIX_DELEGATION: "1" }), 250);
  assert.throws(() => pods("nope.large"), /unknown instance type/);
});

Deno.test("node status: kube-reserved CPU follows EKS's steps", () => {
  assert.equal(kubeReservedCpuMillis(1), 60);
  assert.equal(kubeReservedCpuMillis(2), 70);
  assert.equal(kubeReservedCpuMillis(4), 80);
  assert.equal(kubeReservedCpuMillis(8), 90);
  assert.deepEqual(nodeCapacity({ maxPods: 58, vcpus: 4 }).allocatable.cpu, "3920m");
});
