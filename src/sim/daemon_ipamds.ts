/**
 * The lab's node agents: one per node (the lab's ipamd, or the node's own `NodeAgent`), run as the node
 * (src/sim/node_agent.ts) after the init container's host set-up, and kept running by a
 * {@linkcode Supervisor} as a DaemonSet would.
 * @module
 */
import { join } from "node:path";
import type { LabNode } from "./daemon_world.ts";
import { exists, type LabConfig } from "./lab_state.ts";
import type { LabNames } from "./naming.ts";
import { agentProcess, initHostSetup } from "./node_agent.ts";
import { Supervisor } from "./supervisor.ts";

/** The supervised ipamds (index = node index), and a note when none runs ("" when they do). */
export interface LabIpamds {
  supervisors: Supervisor[];
  note: string;
}

/** Starts one supervised agent per node, unless disabled or the repo has no ipamd. */
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
    initHostSetup(names, cfg, n.index);
    const s = new Supervisor(agentProcess(names, cfg, n.index), { log });
    s.start();
    return s;
  });
  return { supervisors, note: "" };
}
