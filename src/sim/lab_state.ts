/** The lab's files: `lab.json` (the config given to `up`), pod records, and small JSON/pid helpers. */
import { dirname } from "node:path";
import type { LabNames } from "./naming.ts";

/** Latency presets the daemon hands to the EC2/IMDS handlers. */
export type LatencyPreset = "none" | "realistic";

/**
 * Another node agent for one node, instead of the lab's ipamd: its command line and environment (on top of
 * what the lab hands every agent: `AWS_ENDPOINT_URL_EC2`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, `KUBECONFIG`,
 * `MY_NODE_NAME`, `AWS_REGION`), and the plugin directory and conflist the node's runtime uses with it.
 */
export interface NodeAgent {
  argv: string[];
  env?: Record<string, string>;
  /** CNI_PATH for this node's pods (default `<state>/bin`). */
  cniBinDir?: string;
  /** The node's `10-aws.conflist` (default the lab's). */
  conflist?: Record<string, unknown>;
}

/** What `up` was asked for; the daemon reads it back from `<state>/lab.json`. */
export interface LabConfig {
  nodes: number;
  instanceType: string;
  latency: LatencyPreset;
  /** Raw `--faults` text, e.g. `throttle=0.2,5xx=0.05,imds-lag=2s` ("" for none). */
  faults: string;
  /** Seed of the lab's EC2 (IDs, addresses, lags) and of its fault dice; default 1. */
  seed?: number;
  /** Extra environment for every ipamd (`--ipamd-env KEY=VALUE`). */
  ipamdEnv: Record<string, string>;
  /** Whether the daemon runs ipamd on the nodes. */
  ipamd: boolean;
  /**
   * `lab up --ipv6`: a dual-stack VPC (an IPv6 /56, each subnet a /64, nodes with an IPv6 address), ipamd in
   * IPv6 mode and egress-cni chained after aws-cni.
   */
  ipv6?: boolean;
  /** The protobuf decoder for the Kubernetes API (src/sim/k8s_protobuf.ts); without it protobuf gets 415. */
  kubeProtobuf?: string;
  /** Per node index, another agent than the lab's ipamd. */
  nodeAgents?: Record<string, NodeAgent>;
  /** The repository the lab runs from (src/ipamd/main.ts, src/cni/main.ts live under it). */
  repoDir: string;
  /** The deno executable used for the daemon, ipamd and the aws-cni launcher. */
  denoPath: string;
  /** Whether `up` created the state directory (then `down` removes it). */
  createdStateDir: boolean;
  createdAt: string;
}

/** A pod the lab wired with `pod add`. */
export interface PodRecord {
  name: string;
  namespace: string;
  uid: string;
  node: number;
  netns: string;
  containerId: string;
  ifName: string;
  /** The chain's final result (the prevResult for DEL and CHECK). */
  result: Record<string, unknown>;
  podIp?: string;
  addedAt: string;
}

/** The lab has no `lab.json`: `up` never ran (or `down` already cleaned it). */
export class LabNotFoundError extends Error {
  constructor(stateDir: string) {
    super(`no lab in ${stateDir} (run \`lab up --state-dir ${stateDir}\` first)`);
    this.name = "LabNotFoundError";
  }
}

/** Whether a file or directory exists at `p`. */
export function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Reads a JSON file, or undefined when it does not exist. */
export function readJsonFile<T>(path: string): T | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Writes JSON atomically (temp file + rename), creating the parent directory. */
export function writeJsonFile(path: string, value: unknown): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp${Deno.pid}`;
  Deno.writeTextFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  Deno.renameSync(tmp, path);
}

/** Reads `lab.json`; throws LabNotFoundError when missing. */
export function readLabConfig(names: LabNames): LabConfig {
  const c = readJsonFile<LabConfig>(names.labJson);
  if (!c) throw new LabNotFoundError(names.stateDir);
  return c;
}

export function writeLabConfig(names: LabNames, c: LabConfig): void {
  writeJsonFile(names.labJson, c);
}

export function readPodRecord(names: LabNames, name: string): PodRecord | undefined {
  return readJsonFile<PodRecord>(names.podRecord(name));
}

export function writePodRecord(names: LabNames, rec: PodRecord): void {
  writeJsonFile(names.podRecord(rec.name), rec);
}

export function removePodRecord(names: LabNames, name: string): void {
  try {
    Deno.removeSync(names.podRecord(name));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Every pod record, sorted by name. */
export function listPodRecords(names: LabNames): PodRecord[] {
  const out: PodRecord[] = [];
  try {
    for (const e of Deno.readDirSync(names.podsDir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const r = readJsonFile<PodRecord>(`${names.podsDir}/${e.name}`);
      if (r) out.push(r);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The pid in a pid file, or undefined. */
export function readPid(path: string): number | undefined {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (and is not a zombie). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
