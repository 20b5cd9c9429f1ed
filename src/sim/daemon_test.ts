/** The daemon supervises one ipamd per node: in the node's namespace, with the lab's env, restarted on exit. */
import assert from "node:assert/strict";
import { rootOnly } from "../../tests/helpers/root.ts";
import { labStatus, withLab } from "../../tests/helpers/lab.ts";

function environ(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name:
    "lab daemon: ipamd per node in its namespaces with the lab's env and --ipamd-env, restarted when killed",
  ...rootOnly,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLab({ nodes: 1, ipamdEnv: { WARM_IP_TARGET: "3", LAB_TEST_MARK: "yes" } }, async (lab) => {
      const { names, stateDir } = lab;
      const pid = await until("ipamd pid", async () =>
        (await labStatus(stateDir)).nodes[0].ipamdPid ?? undefined);
      const env = environ(pid);
      assert.equal(env.MY_NODE_NAME, "node-0");
      // The standard variables, and no path overrides: ipamd runs on upstream's default paths.
      assert.equal(env.AWS_ENDPOINT_URL_EC2, "http://10.0.255.254");
      assert.equal(env.AWS_EC2_METADATA_SERVICE_ENDPOINT, "http://169.254.169.254");
      assert.equal(env.KUBECONFIG, names.kubeconfig);
      for (
        const k of [
          "IPAMD_SOCKET",
          "AWS_VPC_K8S_CNI_BACKING_STORE",
          "AWS_VPC_K8S_CNI_LOG_FILE",
          "AWS_EC2_ENDPOINT",
        ]
      ) {
        assert.equal(env[k], undefined, k);
      }
      assert.equal(env.CLUSTER_NAME, "lab");
      assert.equal(env.WARM_IP_TARGET, "3");
      assert.equal(env.LAB_TEST_MARK, "yes");
      assert.equal(
        Deno.statSync(`/proc/${pid}/ns/net`).ino,
        Deno.statSync(names.nsPath(names.nodeNs(0))).ino,
        "ipamd runs in the node's namespace",
      );
      assert.equal(
        Deno.statSync(`/proc/${pid}/ns/mnt`).ino,
        Deno.statSync(names.nodeMntns(0)).ino,
        "ipamd runs in the node's mount namespace",
      );
      const before = (await labStatus(stateDir)).nodes[0].ipamdRestarts;
      Deno.kill(pid, "SIGKILL");
      const next = await until("a restarted ipamd", async () => {
        const n = (await labStatus(stateDir)).nodes[0];
        return n.ipamdPid && n.ipamdPid !== pid ? n : undefined;
      });
      assert.equal(next.ipamdRestarts, before + 1);
    }),
});
