/**
 * `lab up` and `lab down`: make the lab's namespaces and files, start the daemon inside the vpc namespace
 * and wait for it; tear everything down again, even when the daemon died.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fetchStatus, labJson, type LabStatus } from "./daemon_client.ts";
import { netnsAdd, netnsDel, netnsList, pidsInNetns, terminate } from "./fabric_netns.ts";
import {
  type LabConfig,
  type LatencyPreset,
  type NodeAgent,
  pidAlive,
  readJsonFile,
  readPid,
  writeLabConfig,
} from "./lab_state.ts";
import { LabNames } from "./naming.ts";
import { createNodeMountNamespaces, removeNodeMountNamespaces } from "./node_mntns.ts";
import { pluginBundles, writeBinDir, writeNodeConflists } from "./runtime_node.ts";
import { ensureCniPlugins } from "./cni_plugins.ts";
import { ensureKubeProtobuf } from "./k8s_protobuf.ts";

/** The repository this lab runs from. */
export const REPO_DIR: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** Options of `lab up`. */
export interface UpOptions {
  stateDir: string;
  nodes?: number;
  instanceType?: string;
  latency?: LatencyPreset;
  faults?: string;
  /** Seed of the lab's EC2 model and fault dice (default 1). */
  seed?: number;
  ipamdEnv?: Record<string, string>;
  /** Run ipamd on every node (default true). */
  ipamd?: boolean;
  /**
   * A dual-stack lab with ipamd in IPv6 mode (ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true
   * unless `ipamdEnv` says otherwise) and egress-cni chained after aws-cni.
   */
  ipv6?: boolean;
  /** Per node index, another agent than the lab's ipamd (see `NodeAgent`). */
  nodeAgents?: Record<string, NodeAgent>;
  /** How long to wait for the daemon (default 60 s). */
  timeoutMs?: number;
  /** The reference CNI plugins linked into `<state>/bin` (default: {@linkcode ensureCniPlugins}'s). */
  cniPluginsDir?: string;
}

/** The daemon did not come up; `log` is the tail of daemon.log. */
export class LabStartError extends Error {
  constructor(message: string, readonly log: string) {
    super(`${message}\n--- daemon.log (tail) ---\n${log}`);
    this.name = "LabStartError";
  }
}

function tail(path: string, lines = 40): string {
  try {
    return Deno.readTextFileSync(path).split("\n").slice(-lines).join("\n");
  } catch {
    return "(no daemon.log)";
  }
}

/** Whether a daemon answers on the lab's socket. */
export async function daemonAnswers(names: LabNames): Promise<LabStatus | undefined> {
  try {
    return await fetchStatus(names, 10_000);
  } catch {
    return undefined;
  }
}

/** Brings a lab up; a no-op (`already: true`) when its daemon answers. */
export async function labUp(o: UpOptions): Promise<{ already: boolean; status: LabStatus }> {
  const names = new LabNames(o.stateDir);
  const live = await daemonAnswers(names);
  if (live) return { already: true, status: live };
  if (readJsonFile(names.labJson) || netnsList(names.nsPrefix).length) {
    // A lab whose daemon died: start clean.
    await labDown(names.stateDir);
  }
  const pluginsDir = o.cniPluginsDir ?? (await ensureCniPlugins((l) => console.error(`lab: ${l}`))).dir;
  const kubeProtobuf = (await ensureKubeProtobuf()).path;
  let createdStateDir = false;
  try {
    Deno.statSync(names.stateDir);
  } catch {
    Deno.mkdirSync(names.stateDir, { recursive: true, mode: 0o755 });
    createdStateDir = true;
  }
  const cfg = labConfigOf(o, { kubeProtobuf, createdStateDir });
  try {
    await prepareLab(names, cfg, pluginsDir);
    return {
      already: false,
      status: await waitForDaemon(names, spawnDaemon(names, cfg), o.timeoutMs ?? 60_000),
    };
  } catch (e) {
    const log = tail(names.daemonLog);
    await labDown(names.stateDir);
    if (e instanceof LabStartError) throw new LabStartError(e.message.split("\n")[0], log);
    throw e;
  }
}

/** What `lab up` records in lab.json: the options with their defaults, and where the lab runs from. */
function labConfigOf(o: UpOptions, made: { kubeProtobuf: string; createdStateDir: boolean }): LabConfig {
  return {
    nodes: o.nodes ?? 2,
    instanceType: o.instanceType ?? "m5.large",
    latency: o.latency ?? "none",
    faults: o.faults ?? "",
    seed: o.seed,
    ipamdEnv: o.ipv6
      ? { ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true", ...o.ipamdEnv }
      : o.ipamdEnv ?? {},
    ipamd: o.ipamd ?? true,
    ...(o.ipv6 ? { ipv6: true } : {}),
    nodeAgents: o.nodeAgents ?? {},
    kubeProtobuf: made.kubeProtobuf,
    repoDir: REPO_DIR,
    denoPath: Deno.execPath(),
    createdStateDir: made.createdStateDir,
    createdAt: new Date().toISOString(),
  };
}

/** The lab's files (lab.json, conflists, bin/, node and pod dirs) and namespaces (network and mount). */
async function prepareLab(names: LabNames, cfg: LabConfig, pluginsDir: string): Promise<void> {
  writeLabConfig(names, cfg);
  // A dual-stack lab's conflists name each node's IPv4 (egress-cni's SNAT source): the daemon writes them.
  if (!cfg.ipv6) writeNodeConflists(names, cfg.nodes, undefined, cfg.nodeAgents);
  writeBinDir(names, cfg.repoDir, cfg.denoPath, pluginsDir, await pluginBundles(cfg.repoDir, cfg.denoPath));
  for (let i = 0; i < cfg.nodes; i++) Deno.mkdirSync(names.nodeDir(i), { recursive: true });
  Deno.mkdirSync(names.podsDir, { recursive: true });
  const nodeNamespaces = Array.from({ length: cfg.nodes }, (_, i) => names.nodeNs(i));
  for (const ns of [names.vpcNs, names.inetNs, ...nodeNamespaces]) netnsAdd(ns);
  createNodeMountNamespaces(names, cfg.nodes);
}

/** Starts the lab daemon in the vpc namespace, detached (its own session), logging to daemon.log. */
function spawnDaemon(names: LabNames, cfg: LabConfig): Deno.ChildProcess {
  const child = new Deno.Command("setsid", {
    args: [
      "sh",
      "-c",
      'exec "$@" >>"$0" 2>&1 </dev/null',
      names.daemonLog,
      "nsenter",
      `--net=${names.nsPath(names.vpcNs)}`,
      "--",
      cfg.denoPath,
      "run",
      "-A",
      "--config",
      join(cfg.repoDir, "deno.json"),
      join(cfg.repoDir, "src", "sim", "daemon.ts"),
      "--state-dir",
      names.stateDir,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return child;
}

/** The daemon's status once it answers; {@link LabStartError} when it exits first or `timeoutMs` passes. */
async function waitForDaemon(
  names: LabNames,
  child: Deno.ChildProcess,
  timeoutMs: number,
): Promise<LabStatus> {
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = await daemonAnswers(names);
    if (st) return st;
    if (exited) {
      throw new LabStartError(`lab daemon exited with code ${exited.code}`, tail(names.daemonLog));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new LabStartError(`lab daemon did not answer within ${timeoutMs} ms`, tail(names.daemonLog));
}

const LAB_FILES = [
  "lab.sock",
  "daemon.pid",
  "kubeconfig",
  "daemon.log",
  "nodes",
  "bin",
  "pods",
  "cni-cache",
  "mntns",
];

/** Removes every namespace, process and file of the lab. Idempotent; works without a live daemon. */
export async function labDown(stateDir: string): Promise<{ namespaces: string[]; killed: number }> {
  const names = new LabNames(stateDir);
  const cfg = readJsonFile<LabConfig>(names.labJson);
  // Ask the daemon to stop its ipamds and itself; then make sure.
  const pid = readPid(names.daemonPid);
  if (pid && pidAlive(pid)) {
    try {
      await labJson(names, "/lab/shutdown", "POST", {}, 2000);
      const end = Date.now() + 5000;
      while (pidAlive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    } catch { /* dead or wedged: killed below */ }
    if (pidAlive(pid) && isOurDaemon(pid, names)) await terminate([pid]);
  }
  const namespaces = netnsList(names.nsPrefix);
  const pids = pidsInNetns(namespaces);
  await terminate(pids);
  for (const ns of namespaces) netnsDel(ns);
  removeNodeMountNamespaces(names);
  for (const f of LAB_FILES) {
    try {
      Deno.removeSync(join(names.stateDir, f), { recursive: true });
    } catch { /* absent */ }
  }
  try {
    Deno.removeSync(names.labJson);
  } catch { /* absent */ }
  if (cfg?.createdStateDir) {
    try {
      Deno.removeSync(names.stateDir);
    } catch { /* not empty or gone: leave it */ }
  }
  return { namespaces, killed: pids.length };
}

function isOurDaemon(pid: number, names: LabNames): boolean {
  try {
    const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return cmd.includes(names.stateDir) && cmd.some((a) => a.endsWith("daemon.ts"));
  } catch {
    return false;
  }
}
