/**
 * A lab node can run any node agent: each node has its own `/var/run/aws-node` and `/var/log/aws-routed-eni`
 * (a mount namespace per node, entered by the agent and by the runtime), the lab's endpoints come in the
 * standard variables, and the init container's host set-up is done. Proven with our own ipamd on its default
 * paths on two nodes at once (the project builds and ships no other project's agent).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_DIR } from "../src/sim/daemon_launch.ts";
import { mountsUnder, nodeEnterArgv } from "../src/sim/node_mntns.ts";
import { podAdd, resultIp } from "../src/sim/runtime_pod.ts";
import { type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { until } from "../harness/poll.ts";
import { rootOnly } from "./helpers/root.ts";

/** Runs argv as node i (its network and mount namespaces). */
async function asNode(lab: TestLab, i: number, argv: string[]): Promise<{ code: number; out: string }> {
  const full = [...nodeEnterArgv(lab.names, i), ...argv];
  const r = await new Deno.Command(full[0], { args: full.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** The conflist `ipamd install` writes by default: no socket or log path, so the plugin uses upstream's. */
const DEFAULT_PATHS_CONFLIST = {
  cniVersion: "0.4.0",
  name: "aws-cni",
  plugins: [
    { type: "aws-cni", name: "aws-cni", vethPrefix: "eni", mtu: "9001", pluginLogLevel: "DEBUG" },
    { type: "portmap", capabilities: { portMappings: true }, snat: true },
  ],
};

Deno.test({
  name: "node agents: our ipamd on its default paths on two nodes at once, each in its own mount namespace",
  ...rootOnly,
}, async () => {
  let stateDir = "";
  await withLab({
    nodes: 2,
    instanceType: "m5.large",
    // Node 1 runs an agent given by command line (here ours again), with a conflist on default paths.
    nodeAgents: {
      "1": {
        argv: [
          Deno.execPath(),
          "run",
          "-A",
          "--config",
          join(REPO_DIR, "deno.json"),
          join(REPO_DIR, "src/ipamd/main.ts"),
          "run",
        ],
        conflist: DEFAULT_PATHS_CONFLIST,
      },
    },
  }, async (lab) => {
    stateDir = lab.stateDir;
    assert.deepEqual(lab.status.nodes.map((n) => n.agent), ["ipamd", "custom"]);
    for (const i of [0, 1]) await waitIpamdReady(lab, i);
    const inodes: string[] = [];
    for (const i of [0, 1]) {
      // Inside the node: upstream's socket path; on the host: the node's own directory.
      const r = await asNode(lab, i, ["stat", "-c", "%i", "/var/run/aws-node/ipamd.sock"]);
      assert.equal(r.code, 0, `node ${i}: /var/run/aws-node/ipamd.sock: ${r.out}`);
      assert.equal(r.out.trim(), String(Deno.statSync(lab.names.ipamdSocket(i)).ino));
      inodes.push(r.out.trim());
      const log = await asNode(lab, i, ["test", "-s", "/var/log/aws-routed-eni/ipamd.log"]);
      assert.equal(log.code, 0, `node ${i} logs to /var/log/aws-routed-eni/ipamd.log`);
      const rp = await asNode(lab, i, ["cat", "/proc/sys/net/ipv4/conf/eth0/rp_filter"]);
      assert.equal(
        rp.out.trim(),
        "2",
        `node ${i}: rp_filter=2 on the primary link, as the init container sets`,
      );
    }
    assert.notEqual(inodes[0], inodes[1], "two sockets, one per node");
    // The runtime enters the node too: pods on both nodes get addresses; node 1's plugin found ipamd on the
    // default socket path and logged to the default log path.
    const pods = [
      await podAdd(lab.names, "agent-a", { node: 0 }),
      await podAdd(lab.names, "agent-b", { node: 1 }),
    ];
    const ips = pods.map((p) => resultIp(p.result));
    assert.ok(ips.every((ip) => ip?.startsWith("10.0.")), `pod IPs: ${ips}`);
    assert.notEqual(ips[0], ips[1]);
    assert.ok(Deno.statSync(lab.names.pluginLog(1)).size > 0, "node 1's plugin.log, from the default path");
  });
  assert.deepEqual(mountsUnder(stateDir), [], "lab down removed every mount");
});

Deno.test({
  name:
    "node agents: another agent gets the standard variables, a private /var/run/aws-node, and is ended at down",
  ...rootOnly,
}, async () => {
  let stateDir = "";
  let agentPid = 0;
  await withLab({
    nodes: 2,
    instanceType: "m5.large",
    nodeAgents: {
      "0": {
        argv: [
          "sh",
          "-c",
          "env > /var/run/aws-node/agent.env; echo $$ > /var/log/aws-routed-eni/agent.pid; exec sleep 3600",
        ],
        env: { AGENT_MARK: "other-agent" },
      },
    },
  }, async (lab) => {
    stateDir = lab.stateDir;
    const envFile = join(lab.names.nodeRunDir(0), "agent.env");
    const text = await until("the agent's env file", () => {
      try {
        return Deno.readTextFileSync(envFile);
      } catch {
        return undefined;
      }
    }, 60_000);
    const env = Object.fromEntries(
      text.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    assert.equal(env.AWS_ENDPOINT_URL_EC2, "http://10.0.255.254");
    assert.equal(env.AWS_EC2_METADATA_SERVICE_ENDPOINT, "http://169.254.169.254");
    assert.equal(env.KUBECONFIG, lab.status.kubeconfig);
    assert.equal(env.MY_NODE_NAME, "node-0");
    assert.equal(env.AGENT_MARK, "other-agent");
    agentPid = Number(Deno.readTextFileSync(join(lab.names.nodeLogDir(0), "agent.pid")).trim());
    // Private to node 0: neither node 1 nor the host sees the file at the in-node path.
    assert.notEqual((await asNode(lab, 1, ["test", "-e", "/var/run/aws-node/agent.env"])).code, 0);
    assert.equal((await asNode(lab, 0, ["test", "-e", "/var/run/aws-node/agent.env"])).code, 0);
    let onHost = true;
    try {
      Deno.statSync("/var/run/aws-node/agent.env");
    } catch {
      onHost = false;
    }
    assert.equal(onHost, false, "the host's /var/run/aws-node is untouched");
    await waitIpamdReady(lab, 1);
  });
  assert.deepEqual(mountsUnder(stateDir), [], "lab down removed every mount");
  let alive = true;
  try {
    Deno.statSync(`/proc/${agentPid}`);
  } catch {
    alive = false;
  }
  assert.ok(agentPid > 0 && !alive, "lab down ended the agent");
});
