/**
 * The lab's ipamds: one per node, run inside the node's namespace with the lab's endpoints, kubeconfig and
 * per-node files in its environment, and kept running by a {@linkcode Supervisor} as a DaemonSet would.
 * @module
 */
import { join } from "node:path";
import type { LabNode } from "./daemon_world.ts";
import { withoutHostCredentials } from "./iam.ts";
import { exists, type LabConfig } from "./lab_state.ts";
import { LAB_NET, type LabNames } from "./naming.ts";
import { Supervisor } from "./supervisor.ts";

/** The environment of node `n`'s ipamd: the lab's endpoints and files, then `--ipamd-env`. */
export function ipamdEnv(names: LabNames, cfg: LabConfig, n: LabNode): Record<string, string> {
  return {
    ...withoutHostCredentials(Deno.env.toObject()),
    MY_NODE_NAME: n.name,
    AWS_EC2_ENDPOINT: `http://${LAB_NET.ec2Ip}`,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${LAB_NET.imdsIp}`,
    KUBECONFIG: names.kubeconfig,
    AWS_REGION: LAB_NET.region,
    AWS_DEFAULT_REGION: LAB_NET.region,
    AWS_EC2_METADATA_DISABLED: "false",
    CLUSTER_NAME: "lab",
    IPAMD_SOCKET: names.ipamdSocket(n.index),
    AWS_VPC_K8S_CNI_BACKING_STORE: names.backingStore(n.index),
    AWS_VPC_K8S_CNI_LOG_FILE: names.ipamdLog(n.index),
    ...cfg.ipamdEnv,
  };
}

/** The supervised ipamds (index = node index), and a note when none runs ("" when they do). */
export interface LabIpamds {
  supervisors: Supervisor[];
  note: string;
}

/** Starts one supervised ipamd per node, unless disabled or the repo has no ipamd. */
export function superviseIpamds(
  names: LabNames,
  cfg: LabConfig,
  nodes: LabNode[],
  log: (line: string) => void,
): LabIpamds {
  const ipamdMain = join(cfg.repoDir, "src", "ipamd", "main.ts");
  if (!cfg.ipamd) return { supervisors: [], note: "disabled (--no-ipamd)" };
  if (!exists(ipamdMain)) return { supervisors: [], note: `not started: ${ipamdMain} does not exist yet` };
  const supervisors = nodes.map((n) => {
    const s = new Supervisor({
      name: `ipamd[${n.name}]`,
      argv: [
        "nsenter",
        `--net=${names.nsPath(n.netns)}`,
        "--",
        cfg.denoPath,
        "run",
        "-A",
        "--config",
        join(cfg.repoDir, "deno.json"),
        ipamdMain,
        "run",
      ],
      env: ipamdEnv(names, cfg, n),
    }, { log });
    s.start();
    return s;
  });
  return { supervisors, note: "" };
}
