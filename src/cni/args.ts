/** The plugin's environment: CNI_* variables and the `K=V;K=V` CNI_ARGS. */
import { CniError, Code, type Command, COMMANDS } from "./spec.ts";
import { validateContainerId, validateIfName } from "./validate.ts";

/** Kubernetes pod identity from CNI_ARGS (all optional: podman sends only K8S_POD_NAME). */
export interface K8sArgs {
  podNamespace?: string;
  podName?: string;
  infraContainerId?: string;
  podUid?: string;
}

/** Everything the plugin reads from its environment. */
export interface CniEnv {
  command: Command;
  containerId: string;
  /** Empty when not given (allowed for DEL, GC, STATUS). */
  netns: string;
  ifName: string;
  path: string;
  k8s: K8sArgs;
}

const KNOWN_ARGS: Record<string, keyof K8sArgs> = {
  K8S_POD_NAMESPACE: "podNamespace",
  K8S_POD_NAME: "podName",
  K8S_POD_INFRA_CONTAINER_ID: "infraContainerId",
  K8S_POD_UID: "podUid",
};

function truthy(v: string): boolean {
  return ["1", "t", "true"].includes(v.toLowerCase());
}

/**
 * Parses CNI_ARGS (`K=V;K=V`). Unknown keys are an error (code 4) unless `IgnoreUnknown` is true,
 * as libcni's LoadArgs does.
 */
export function parseCniArgs(s: string): K8sArgs {
  const out: K8sArgs = {};
  if (s === "") return out;
  const pairs: [string, string][] = [];
  for (const item of s.split(";")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CniError(Code.INVALID_ENV, `CNI_ARGS: invalid pair "${item}"`);
    pairs.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  const ignoreUnknown = pairs.some(([k, v]) => k === "IgnoreUnknown" && truthy(v));
  for (const [k, v] of pairs) {
    if (k === "IgnoreUnknown") continue;
    const field = KNOWN_ARGS[k];
    if (field) out[field] = v;
    else if (!ignoreUnknown) throw new CniError(Code.INVALID_ENV, `CNI_ARGS: unknown key "${k}"`);
  }
  return out;
}

const REQUIRED: Record<string, readonly Command[]> = {
  CNI_CONTAINERID: ["ADD", "DEL", "CHECK"],
  CNI_NETNS: ["ADD", "CHECK"],
  CNI_IFNAME: ["ADD", "DEL", "CHECK"],
  CNI_PATH: ["ADD", "DEL", "CHECK", "GC", "STATUS"],
};

/** Reads and validates the CNI_* variables (code 4 naming the variable when one is bad or missing). */
export function parseEnv(env: Record<string, string | undefined>): CniEnv {
  const cmd = env.CNI_COMMAND;
  if (cmd === undefined || cmd === "") throw new CniError(Code.INVALID_ENV, "CNI_COMMAND is not set");
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    throw new CniError(Code.INVALID_ENV, `CNI_COMMAND "${cmd}" is unknown`, `one of ${COMMANDS.join(", ")}`);
  }
  const command = cmd as Command;
  for (const [name, cmds] of Object.entries(REQUIRED)) {
    if (cmds.includes(command) && !env[name]) {
      throw new CniError(Code.INVALID_ENV, `${name} is required for ${command} but not set`);
    }
  }
  const e: CniEnv = {
    command,
    containerId: env.CNI_CONTAINERID ?? "",
    netns: env.CNI_NETNS ?? "",
    ifName: env.CNI_IFNAME ?? "",
    path: env.CNI_PATH ?? "",
    k8s: {},
  };
  if (command === "ADD" || command === "DEL" || command === "CHECK") {
    validateContainerId(e.containerId);
    validateIfName(e.ifName);
    e.k8s = parseCniArgs(env.CNI_ARGS ?? "");
  }
  return e;
}
