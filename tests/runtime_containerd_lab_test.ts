/**
 * containerd's CRI, the path kubelet uses on EKS: Debian's containerd 1.6 (its CRI plugin, go-cni/libcni inside)
 * runs on each lab node, in the node's network and mount namespaces, reading the node's `10-aws.conflist` (aws-cni → portmap) and
 * plugin dir, and our CRI client (k8s.io/cri-api, runtime v1) asks it for pod sandboxes as kubelet would.
 * - 10 sandboxes on two nodes, started at once (containerd runs the ADDs in parallel), get VPC IPs and ping
 *   each other across nodes; ipamd recorded each pod's namespace, name and UID (containerd's CNI_ARGS).
 * - With ipamd stopped, RunPodSandbox fails with aws-cni's error (code 11, "ipamd is unreachable") in the CRI
 *   error, and leaves nothing; with ipamd back the same pod starts.
 * - StopPodSandbox + RemovePodSandbox release every IP and leave no veth, rule or route.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { ipamdGet, setIpamdRunning, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { CriError, LabContainerd } from "../harness/containerd.ts";
import { nodeLeftovers } from "./helpers/libcni_lab.ts";
import { inNetns, randomSuffix } from "../harness/libcni.ts";

interface Sandbox {
  id: string;
  node: number;
  name: string;
  uid: string;
  ip: string;
  /** The sandbox's pid: its network namespace is /proc/<pid>/ns/net (the netns mount is in the node's). */
  pid: number;
}

interface SandboxStatus {
  state: string;
  ip?: string;
  pid?: number;
  metadata: { name: string; namespace: string; uid: string };
  cniResult?: { Interfaces?: Record<string, { IPConfigs?: { IP: string }[] }> };
}

const NAMESPACE = "cri-lab";

/** RunPodSandbox, then PodSandboxStatus: a ready sandbox with a VPC IP that containerd's CNI result agrees on. */
async function startSandbox(c: LabContainerd, node: number, name: string, uid: string): Promise<Sandbox> {
  const id = await c.runPodSandbox({ name, namespace: NAMESPACE, uid });
  const st = await c.cri<SandboxStatus>("status", ["--id", id]);
  assert.equal(st.state, "SANDBOX_READY", JSON.stringify(st));
  assert.deepEqual(st.metadata, { name, namespace: NAMESPACE, uid });
  assert.match(st.ip ?? "", /^10\.0\.\d+\.\d+$/, `a VPC IP for ${name}: ${JSON.stringify(st)}`);
  assert.equal(st.cniResult?.Interfaces?.eth0?.IPConfigs?.[0]?.IP, st.ip, "containerd's CNI result");
  assert.ok(st.pid, `a sandbox process: ${JSON.stringify(st)}`);
  return { id, node, name, uid, ip: st.ip!, pid: st.pid };
}

/** ipamd's `/v1/pods` on a node: containerId → {namespace, name, uid, ipv4}. */
async function ipamdPods(lab: TestLab, node: number) {
  const r = await ipamdGet(lab, node, "/v1/pods");
  assert.equal(r.status, 200);
  type P = { containerId: string; namespace?: string; name?: string; uid?: string; ipv4: string };
  return new Map(Object.values(r.body as Record<string, P>).map((p) => [p.containerId, p]));
}

async function ping(from: Sandbox, to: Sandbox): Promise<void> {
  const out = await inNetns(`/proc/${from.pid}/ns/net`, ["busybox", "ping", "-c", "1", "-W", "5", to.ip]);
  assert.match(out, / 0% packet loss/, `${from.name} → ${to.name}`);
}

/** The plugin's log line for a failed ADD of `containerId` on node i (level error, with the CNI code). */
async function failedAdd(lab: TestLab, node: number, containerId: string): Promise<Record<string, unknown>> {
  const lines = (await Deno.readTextFile(lab.names.pluginLog(node))).split("\n").filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const hit = lines.find((l) =>
    l.cmd === "ADD" && l.containerId === containerId && l.level === "error" && typeof l.code === "number"
  );
  assert.ok(hit, `plugin.log has no failed ADD for ${containerId}`);
  return hit;
}

Deno.test({
  name:
    "containerd 1.6 CRI on two lab nodes: 10 parallel sandboxes, cross-node pings, ipamd down → 11, clean removal",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 2, latency: "none" }, async (lab) => {
      await Promise.all([waitIpamdReady(lab, 0), waitIpamdReady(lab, 1)]);
      const ctrds: LabContainerd[] = [];
      try {
        for (const n of lab.status.nodes) ctrds.push(await LabContainerd.start(n));
        for (const [i, c] of ctrds.entries()) {
          // containerd is in the node's namespaces: the same network and mount namespace inodes.
          const n = lab.status.nodes[i];
          const ns = (kind: string) => Deno.statSync(`/proc/${c.pid}/ns/${kind}`).ino;
          assert.equal(ns("net"), Deno.statSync(`/var/run/netns/${n.netns}`).ino);
          assert.equal(ns("mnt"), Deno.statSync(n.mountNamespace).ino);
        }
        const id = randomSuffix();
        // 10 RunPodSandbox calls at once, 5 per node.
        const sandboxes = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) => startSandbox(ctrds[i % 2], i % 2, `web-${i}`, `uid-${id}-${i}`),
          ),
        );
        assert.equal(new Set(sandboxes.map((s) => s.ip)).size, 10, "10 distinct IPs");

        // ipamd saw each pod's namespace, name and UID, and holds the IP the sandbox has.
        for (const node of [0, 1]) {
          const pods = await ipamdPods(lab, node);
          for (const s of sandboxes.filter((s) => s.node === node)) {
            const p = pods.get(s.id);
            assert.ok(p, `ipamd on node ${node} knows sandbox ${s.name}`);
            assert.deepEqual([p.namespace, p.name, p.uid, p.ipv4], [NAMESPACE, s.name, s.uid, s.ip]);
          }
        }

        // Every sandbox on one node pings every sandbox on the other.
        const [on0, on1] = [0, 1].map((n) => sandboxes.filter((s) => s.node === n));
        await Promise.all([
          ...on0.map(async (a) => {
            for (const b of on1) await ping(a, b);
          }),
          ...on1.map(async (a) => {
            for (const b of on0) await ping(a, b);
          }),
        ]);

        // ipamd down: the CNI error reaches the CRI caller, nothing is left; once ipamd is back it works.
        await setIpamdRunning(lab, 0, false);
        const err = await ctrds[0].runPodSandbox({
          name: "late",
          namespace: NAMESPACE,
          uid: `uid-${id}-late`,
        })
          .catch((e) => e);
        assert.ok(err instanceof CriError, `RunPodSandbox with ipamd down: ${err}`);
        assert.match(err.detail, /plugin type="aws-cni".*ipamd is unreachable/s, err.detail);
        const failedId = err.detail.match(/sandbox \\?"([0-9a-f]{64})\\?"/)?.[1];
        assert.ok(failedId, `the sandbox ID in: ${err.detail}`);
        assert.equal(
          (await failedAdd(lab, 0, failedId)).code,
          11,
          "aws-cni answered code 11 (try again later)",
        );
        const listed = await ctrds[0].cri<{ items?: unknown[] }>("list", []);
        assert.equal(listed.items?.length, 5, "the failed sandbox is gone");
        await setIpamdRunning(lab, 0, true);
        const late = await startSandbox(ctrds[0], 0, "late", `uid-${id}-late`);
        await ping(late, on1[0]);
        sandboxes.push(late);

        // Stop and remove: every IP released, no veth, rule or route left.
        await Promise.all(sandboxes.map(async (s) => {
          await ctrds[s.node].cri("stop", ["--id", s.id]);
          await ctrds[s.node].cri("remove", ["--id", s.id]);
        }));
        for (const s of sandboxes) {
          assert.deepEqual(await nodeLeftovers(lab, s.node, { ip: s.ip, containerId: s.id }), [], s.name);
        }
        for (const node of [0, 1]) {
          assert.equal((await ipamdPods(lab, node)).size, 0, `ipamd on node ${node} holds nothing`);
          const veths = await lab.inNode(node, ["ip", "-o", "link", "show", "type", "veth"]);
          assert.doesNotMatch(veths.stdout, /: eni[0-9a-f]{11}@/, `node ${node}: no pod veth left`);
        }
      } finally {
        for (const c of ctrds) await c.stop();
      }
    });
  },
});
