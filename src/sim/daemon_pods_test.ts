/** `lab pod add` as one lab.sock request: the daemon runs the node's chain and publishes the pod's IP. */
import assert from "node:assert/strict";
import { rootOnly } from "../../tests/helpers/root.ts";
import { withLab } from "../../tests/helpers/lab.ts";
import { labJson } from "./daemon_client.ts";
import { labPodRun } from "./daemon_pods.ts";
import { netnsExists } from "./fabric_netns.ts";
import { podDel, PodError, podList } from "./runtime_pod.ts";

Deno.test({
  name:
    "lab pod add through the daemon: one request, the pod wired with its IP in the API; duplicates refused",
  ...rootOnly,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLab({ nodes: 1 }, async (lab) => {
      const { names } = lab;
      // ipamd may still be starting: the daemon retries CNI code 11 as kubelet would.
      const recs = await Promise.all(
        ["run-a", "run-b", "run-c"].map((n) => labPodRun(names, n, { node: 0 })),
      );
      for (const r of recs) {
        assert.match(r.podIp ?? "", /^10\.0\.\d+\.\d+$/);
        assert.ok(netnsExists(r.netns), r.netns);
        const pod = await labJson<{ status: { podIP?: string } }>(names, `/lab/pods/default/${r.name}`);
        assert.equal(pod.status.podIP, r.podIp, "podIP published");
      }
      assert.equal(new Set(recs.map((r) => r.podIp)).size, 3);
      assert.deepEqual(podList(names).map((p) => p.name).sort(), ["run-a", "run-b", "run-c"]);
      await assert.rejects(labPodRun(names, "run-a", { node: 0 }), PodError);
      await assert.rejects(labPodRun(names, "run-z", { node: 7 }), PodError);
      for (const r of recs) await podDel(names, r.name);
      assert.deepEqual(podList(names), []);
    }),
});
