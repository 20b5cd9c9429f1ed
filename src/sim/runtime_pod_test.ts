/** Pods through the lab's runtime on the whole stack: ipamd on each node, aws-cni + portmap, the fabric. */
import assert from "node:assert/strict";
import { rootOnly } from "../../tests/helpers/root.ts";
import { withLab } from "../../tests/helpers/lab.ts";
import { netnsExists } from "./fabric_netns.ts";
import { CniPluginError } from "./runtime.ts";
import { podAdd, type PodAddOptions, podCheck, podDel, PodError, podList } from "./runtime_pod.ts";
import type { LabNames } from "./naming.ts";
import type { PodRecord } from "./lab_state.ts";

/** pod add, retrying while ipamd is still starting (what kubelet does). */
async function addWhenReady(
  names: LabNames,
  name: string,
  node: number,
  portMappings?: PodAddOptions["portMappings"],
): Promise<PodRecord> {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      return await podAdd(names, name, { node, portMappings });
    } catch (e) {
      if (!(e instanceof CniPluginError) || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

Deno.test({
  name:
    "lab pods: add on two nodes, reach each other, the internet and a hostPort, check, podIP in the API, del",
  ...rootOnly,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLab({ nodes: 2 }, async (lab) => {
      const { names } = lab;
      const a = await addWhenReady(names, "pod-a", 0, [{
        hostPort: 8081,
        containerPort: 80,
        protocol: "tcp",
      }]);
      const b = await addWhenReady(names, "pod-b", 1);
      assert.match(a.podIp ?? "", /^10\.0\.\d+\.\d+$/);
      assert.notEqual(a.podIp, b.podIp);
      assert.ok(netnsExists(a.netns));
      assert.deepEqual(podList(names).map((p) => p.name), ["pod-a", "pod-b"]);
      await assert.rejects(podAdd(names, "pod-a", { node: 0 }), PodError);
      await assert.rejects(podAdd(names, "pod-c", { node: 5 }), PodError);

      const ping = await lab.inNetns(a.netns, ["busybox", "ping", "-c", "1", "-W", "3", b.podIp!]);
      assert.equal(ping.code, 0, `pod-a -> pod-b: ${ping.stdout}${ping.stderr}`);
      // Egress to the internet is SNATed to the node's primary address by ipamd's rules.
      const who = await lab.inNetns(b.netns, ["curl", "-s", "-m", "3", "http://198.51.100.2:8080/"]);
      assert.equal(who.stdout.trim(), lab.status.nodes[1].primaryIp);

      // portmap got the runtime's portMappings: node 1 reaches pod-a's port 80 at node 0's address:8081.
      const server = new Deno.Command("nsenter", {
        args: [
          `--net=${names.nsPath(a.netns)}`,
          "busybox",
          "nc",
          "-l",
          "-p",
          "80",
          "-e",
          "echo",
          "hello-pod-a",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        let got = "";
        for (let i = 0; i < 20 && !got.includes("hello-pod-a"); i++) {
          await new Promise((r) => setTimeout(r, 100));
          got =
            (await lab.inNode(1, ["busybox", "nc", "-w", "2", lab.status.nodes[0].primaryIp, "8081"])).stdout;
        }
        assert.equal(got.trim(), "hello-pod-a");
      } finally {
        try {
          server.kill("SIGKILL");
        } catch { /* done */ }
        await server.status;
      }

      const api = await (await lab.fetch("/k8s/api/v1/namespaces/default/pods/pod-a")).json();
      assert.equal(api.status.podIP, a.podIp);
      assert.equal(api.spec.nodeName, "node-0");

      await podCheck(names, "pod-a");
      await podDel(names, "pod-a");
      assert.equal(netnsExists(a.netns), false);
      assert.equal((await lab.fetch("/k8s/api/v1/namespaces/default/pods/pod-a")).status, 404);
      assert.deepEqual(podList(names).map((p) => p.name), ["pod-b"]);
      await assert.rejects(podDel(names, "pod-a"), PodError);
    }),
});
