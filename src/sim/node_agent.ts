/**
 * What runs on a lab node as its node agent: the lab's ipamd (from this repository, on upstream's default
 * paths) or another agent given in `lab.json` (`NodeAgent`). Every agent runs as the node (its network and
 * mount namespaces), is handed the lab's endpoints through the standard variables, and finds the host set up
 * as the aws-node init container leaves it.
 * @module
 */
import { IPAMD_V8_FLAGS } from "../ipamd/process_memory.ts";
import { join } from "node:path";
import { Netns, sysctlWrite } from "../../ffi/mod.ts";
import { initSysctls } from "../ipamd/node_sysctls.ts";
import { withoutHostCredentials } from "./iam.ts";
import type { LabConfig } from "./lab_state.ts";
import { LAB_NET, type LabNames } from "./naming.ts";
import { nodeEnterArgv } from "./node_mntns.ts";
import type { ProcessSpec } from "./supervisor.ts";

/** A lab node's primary interface (device 0), where the init container sets `rp_filter=2`. */
export const NODE_PRIMARY_IF = "eth0";

/** The environment every agent gets: the lab's endpoints in the standard variables, and who it is. */
export function agentEnv(names: LabNames, node: number): Record<string, string> {
  return {
    ...withoutHostCredentials(Deno.env.toObject()),
    MY_NODE_NAME: names.nodeName(node),
    AWS_ENDPOINT_URL_EC2: `http://${LAB_NET.ec2Ip}`,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${LAB_NET.imdsIp}`,
    KUBECONFIG: names.kubeconfig,
    AWS_REGION: LAB_NET.region,
    AWS_DEFAULT_REGION: LAB_NET.region,
    CLUSTER_NAME: "lab",
  };
}

/** The process node i runs: its own agent, or the lab's ipamd on its default paths with `--ipamd-env`. */
export function agentProcess(names: LabNames, cfg: LabConfig, node: number): ProcessSpec {
  const agent = cfg.nodeAgents?.[String(node)];
  const env = agentEnv(names, node);
  if (agent) {
    return {
      name: `agent[${names.nodeName(node)}]`,
      argv: [...nodeEnterArgv(names, node), ...agent.argv],
      env: { ...env, ...(agent.env ?? {}) },
    };
  }
  const deno = [
    cfg.denoPath,
    "run",
    "-A",
    `--v8-flags=${IPAMD_V8_FLAGS.join(",")}`,
    "--config",
    join(cfg.repoDir, "deno.json"),
  ];
  return {
    name: `ipamd[${names.nodeName(node)}]`,
    argv: [...nodeEnterArgv(names, node), ...deno, join(cfg.repoDir, "src", "ipamd", "main.ts"), "run"],
    env: { ...env, ...cfg.ipamdEnv },
  };
}

/** The aws-node init container's host set-up on node i: `rp_filter=2` on the primary link, forwarding on. */
export function initHostSetup(names: LabNames, cfg: LabConfig, node: number): void {
  const ns = Netns.open(names.nodeNs(node));
  try {
    for (const [key, value] of Object.entries(initSysctls(NODE_PRIMARY_IF, cfg.ipamdEnv))) {
      sysctlWrite(key, value, ns);
    }
  } finally {
    ns.close();
  }
}
