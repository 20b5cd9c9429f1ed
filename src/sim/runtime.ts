/**
 * Runs a node's CNI conflist as a container runtime does: ADD through the chain with prevResult, DEL in
 * reverse, CHECK with the cached result; every plugin executes inside the node namespace (nsenter).
 */
import { type Collected, runCollect } from "./exec.ts";
import { NETNS_DIR } from "./naming.ts";

/** A plugin answered with the CNI error object (or died without one: code 0). */
export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly code: number,
    readonly msg: string,
    readonly details = "",
  ) {
    super(`${plugin} ${command}: CNI error ${code}: ${msg}${details ? ` (${details})` : ""}`);
    this.name = "CniPluginError";
  }
}

/** One conflist as read from `net.d`. */
export interface Conflist {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: Array<Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> }>;
}

/** What one attachment needs. */
export interface Attachment {
  containerId: string;
  /** Path of the pod's namespace (empty for a DEL after the namespace is gone). */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs. */
  args: Record<string, string>;
  /** Runtime config for plugins declaring the capability (e.g. `portMappings`). */
  capabilityArgs?: Record<string, unknown>;
}

/** Where and how plugins run. */
export interface RuntimeOptions {
  /** CNI_PATH: the directory holding the plugin binaries. */
  binDir: string;
  /** Named namespace the plugins run in (the node); undefined runs them in the caller's namespace. */
  nodeNs?: string;
  /** The node's mount namespace file (src/sim/node_mntns.ts), entered with `nodeNs`. */
  nodeMntns?: string;
  /** Kill a plugin that runs longer (containerd's deadline is ~2 min). */
  timeoutMs?: number;
}

/** Renders CNI_ARGS (`K=V;K=V`). */
export function formatCniArgs(args: Record<string, string>): string {
  return Object.entries(args).map(([k, v]) => `${k}=${v}`).join(";");
}

/** The CNI_ARGS a Kubernetes runtime sends for a pod. */
export function k8sCniArgs(
  pod: { namespace: string; name: string; uid: string; containerId: string },
): Record<string, string> {
  return {
    IgnoreUnknown: "1",
    K8S_POD_NAMESPACE: pod.namespace,
    K8S_POD_NAME: pod.name,
    K8S_POD_INFRA_CONTAINER_ID: pod.containerId,
    K8S_POD_UID: pod.uid,
  };
}

/** Builds one plugin's stdin from the conflist, as libcni does. */
export function pluginConfig(
  list: Conflist,
  plugin: Conflist["plugins"][number],
  att: Attachment,
  prevResult?: Record<string, unknown>,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && att.capabilityArgs && cap in att.capabilityArgs) rc[cap] = att.capabilityArgs[cap];
  }
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

/** Executes one plugin; returns its parsed stdout (or {} when empty). */
export async function execPlugin(
  command: "ADD" | "DEL" | "CHECK" | "VERSION",
  conf: Record<string, unknown>,
  att: Attachment,
  opts: RuntimeOptions,
): Promise<Record<string, unknown>> {
  const type = String(conf.type);
  const bin = `${opts.binDir}/${type}`;
  try {
    Deno.statSync(bin);
  } catch {
    throw new CniPluginError(type, command, 0, `failed to find plugin "${type}" in path [${opts.binDir}]`);
  }
  const mnt = opts.nodeMntns ? [`--mount=${opts.nodeMntns}`] : [];
  const argv = opts.nodeNs ? ["nsenter", `--net=${NETNS_DIR}/${opts.nodeNs}`, ...mnt, "--", bin] : [bin];
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    CNI_COMMAND: command,
    CNI_CONTAINERID: att.containerId,
    CNI_NETNS: att.netns,
    CNI_IFNAME: att.ifName,
    CNI_ARGS: formatCniArgs(att.args),
    CNI_PATH: opts.binDir,
  };
  const out = await runCollect(argv, {
    env,
    clearEnv: true,
    stdin: JSON.stringify(conf),
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
  const stdout = out.stdout.trim();
  if (!out.success) throw pluginFailure(type, command, out);
  if (!stdout) return {};
  try {
    return JSON.parse(stdout);
  } catch {
    throw new CniPluginError(type, command, 0, `unparsable result: ${stdout.slice(0, 200)}`);
  }
}

/** A failed plugin's error: the CNI error JSON it printed, or how it exited. */
function pluginFailure(type: string, command: string, out: Collected): CniPluginError {
  // libcni reads the error from stdout and falls back to stderr only when stdout is empty.
  const text = out.stdout.trim() || out.stderr.trim();
  try {
    const e = JSON.parse(text);
    return new CniPluginError(
      type,
      command,
      Number(e.code ?? 0),
      String(e.msg ?? text),
      String(e.details ?? ""),
    );
  } catch {
    return new CniPluginError(
      type,
      command,
      0,
      `exited ${out.code}${out.signal ? ` (${out.signal})` : ""}: ${text}`,
    );
  }
}

/** ADD through the chain; each plugin gets the previous one's result. Returns the final result. */
export async function addNetworkList(
  list: Conflist,
  att: Attachment,
  opts: RuntimeOptions,
): Promise<Record<string, unknown>> {
  let prev: Record<string, unknown> | undefined;
  for (const p of list.plugins) {
    prev = await execPlugin("ADD", pluginConfig(list, p, att, prev), att, opts);
  }
  return prev ?? {};
}

/** DEL through the chain in reverse, each with the cached ADD result as prevResult. */
export async function delNetworkList(
  list: Conflist,
  att: Attachment,
  opts: RuntimeOptions,
  cachedResult?: Record<string, unknown>,
): Promise<void> {
  for (const p of [...list.plugins].reverse()) {
    await execPlugin("DEL", pluginConfig(list, p, att, cachedResult), att, opts);
  }
}

/** CHECK through the chain with the cached result; a no-op when the list disables CHECK. */
export async function checkNetworkList(
  list: Conflist,
  att: Attachment,
  opts: RuntimeOptions,
  cachedResult: Record<string, unknown>,
): Promise<void> {
  if (list.disableCheck) return;
  for (const p of list.plugins) {
    await execPlugin("CHECK", pluginConfig(list, p, att, cachedResult), att, opts);
  }
}

/** Reads a conflist file. */
export function readConflist(path: string): Conflist {
  const c = JSON.parse(Deno.readTextFileSync(path)) as Conflist;
  if (!c.name || !Array.isArray(c.plugins) || !c.plugins.length) {
    throw new SyntaxError(`${path}: not a CNI conflist (needs name and plugins)`);
  }
  return c;
}
