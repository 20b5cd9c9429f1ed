/**
 * The libcni driver (`tests/libcni/driver`, Go, over github.com/containernetworking/cni from go.mod) as a test
 * helper: {@linkcode ensureDriver} builds it once (cached by source hash), {@linkcode libcni} runs one verb,
 * optionally inside a "node" network namespace (via `nsenter --net`), as a libcni runtime would.
 * Also holds the small netns helpers the runtime tests share.
 * @module
 */

import { cniPluginsDir } from "../src/sim/cni_plugins.ts";
import { ensureGoProgram } from "../src/sim/go_build.ts";

/** The driver's Go module (main.go, go.mod, go.sum). */
export const DRIVER_DIR: string = new URL("../tests/libcni/driver/", import.meta.url).pathname;
const dec = new TextDecoder();

/** Verbs the driver knows: each is one libcni call (`gc` → GCNetworkList, `status` → GetStatusNetworkList). */
export type LibcniVerb =
  | "add"
  | "check"
  | "del"
  | "gc"
  | "status"
  | "version"
  | "bench-add-del"
  | "parallel-add";

/** One CNI port mapping (the `portMappings` capability). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol?: "tcp" | "udp" | "sctp";
  hostIP?: string;
}

/** Options for one driver run. */
export interface LibcniOptions {
  /** Path of the .conflist file. */
  conflist?: string;
  /** Plugin directories (default: the reference plugins, {@linkcode cniPluginsDir}). */
  binDir?: string | string[];
  /** CNI_NETNS; for the bench modes a list (one per parallel ADD). */
  netns?: string | string[];
  /** CNI_CONTAINERID; for the bench modes a prefix (`<id>-<i>`). */
  containerId?: string;
  /** CNI_IFNAME (default `eth0`). */
  ifName?: string;
  /** CNI_ARGS, as `K=V;K=V` or a record. */
  args?: string | Record<string, string>;
  portMappings?: PortMapping[];
  /** Other capability args (`runtimeConfig` for plugins that declare them), e.g. `{bandwidth: {…}}`. */
  capabilityArgs?: Record<string, unknown>;
  /** libcni's cache dir (results for CHECK/DEL); use a private one in tests. */
  cacheDir?: string;
  /** Rewrite the conflist's cniVersion. */
  cniVersion?: string;
  /** Operation count for the bench modes. */
  n?: number;
  /** gc: the runtime's valid attachments (`cni.dev/valid-attachments`). */
  validAttachments?: { containerID: string; ifname: string }[];
  /** parallel-add: DEL and retry an ADD failing with this CNI code as kubelet does (250 ms doubling to 4 s). */
  retryCode?: number;
  /** parallel-add: leave the pods added (no DEL of the batch). */
  keep?: boolean;
  /** Run the driver inside this network namespace (path or name under /var/run/netns). */
  inNetns?: string;
}

/** A failed driver run: the CNI error object the plugin (or libcni) returned. */
export class CniError extends Error {
  /** CNI error code (0 when the error came from libcni or the driver, not a plugin). */
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
  readonly exitCode: number;
  readonly stderr: string;
  constructor(
    verb: string,
    o: { code: number; msg: string; details?: string },
    exitCode: number,
    stderr: string,
  ) {
    super(`libcni ${verb}: [${o.code}] ${o.msg}${o.details ? ` (${o.details})` : ""}`);
    this.name = "CniError";
    this.code = o.code;
    this.msg = o.msg;
    this.details = o.details;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

async function run(cmd: string[], env?: Record<string, string>, cwd?: string) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

let building: Promise<{ path: string; built: boolean }> | undefined;

/**
 * Builds the driver with the Go on PATH and the committed go.mod/go.sum (libcni from the Go module proxy), into
 * the shared build cache unless a build of the same sources and Go is there; `built` says whether it was built.
 */
export function buildDriver(): Promise<{ path: string; built: boolean }> {
  building ??= ensureGoProgram({ name: "cni-driver", dir: DRIVER_DIR }).catch((e) => {
    building = undefined;
    throw e;
  });
  return building;
}

/** The driver binary's path ({@linkcode buildDriver}). */
export async function ensureDriver(): Promise<string> {
  return (await buildDriver()).path;
}

/** The path of a named namespace, or the path itself. */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes("/") ? nameOrPath : `/var/run/netns/${nameOrPath}`;
}

/** The driver's command line for `verb` with `opts` (without nsenter). */
export function driverArgs(verb: LibcniVerb, opts: LibcniOptions): string[] {
  const a: string[] = [verb];
  const list = (v: string | string[]) => Array.isArray(v) ? v : [v];
  if (opts.conflist) a.push("--conflist", opts.conflist);
  a.push("--bin-dir", list(opts.binDir ?? cniPluginsDir()).join(":"));
  if (opts.netns) a.push("--netns", list(opts.netns).join(","));
  if (opts.containerId) a.push("--container-id", opts.containerId);
  if (opts.ifName) a.push("--ifname", opts.ifName);
  if (opts.args) {
    const s = typeof opts.args === "string"
      ? opts.args
      : Object.entries(opts.args).map(([k, v]) => `${k}=${v}`).join(";");
    a.push("--args", s);
  }
  if (opts.portMappings) a.push("--port-mappings", JSON.stringify(opts.portMappings));
  if (opts.capabilityArgs) a.push("--capability-args", JSON.stringify(opts.capabilityArgs));
  if (opts.cacheDir) a.push("--cache-dir", opts.cacheDir);
  if (opts.cniVersion) a.push("--cni-version", opts.cniVersion);
  if (opts.n !== undefined) a.push("--n", String(opts.n));
  if (opts.validAttachments) a.push("--valid-attachments", JSON.stringify(opts.validAttachments));
  if (opts.retryCode) a.push("--retry-code", String(opts.retryCode));
  if (opts.keep) a.push("--keep");
  return a;
}

/**
 * Runs the driver and returns its parsed JSON answer (the CNI result for `add`, `{}` for `check`/`del`).
 * Throws {@linkcode CniError} carrying the CNI error object when the driver exits non-zero.
 */
export async function libcni<T = Record<string, unknown>>(verb: LibcniVerb, opts: LibcniOptions): Promise<T> {
  const bin = await ensureDriver();
  const args = driverArgs(verb, opts);
  const cmd = opts.inNetns
    ? ["nsenter", `--net=${netnsPath(opts.inNetns)}`, "--", bin, ...args]
    : [bin, ...args];
  const r = await run(cmd);
  if (r.code !== 0) {
    let o: { code: number; msg: string; details?: string };
    try {
      o = JSON.parse(r.stdout);
    } catch {
      o = { code: 0, msg: (r.stdout + r.stderr).trim() || `exit ${r.code}` };
    }
    throw new CniError(verb, o, r.code, r.stderr);
  }
  return JSON.parse(r.stdout) as T;
}

/** A short random hex suffix for names (namespaces, links, networks) shared with parallel tests. */
export { randomSuffix } from "./netns.ts";

/** Runs a command, throwing with its output on failure; returns stdout. */
export async function sh(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) {
    throw new Error(`${cmd.join(" ")}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Creates a named network namespace with `lo` up; returns its name. */
export async function addNetns(name: string): Promise<string> {
  await sh(["ip", "netns", "add", name]);
  await sh(["ip", "-n", name, "link", "set", "lo", "up"]);
  return name;
}

/** Deletes a named network namespace; ignores one that is already gone. */
export async function delNetns(name: string): Promise<void> {
  const r = await run(["ip", "netns", "del", name]);
  if (r.code !== 0 && !/No such file/.test(r.stderr)) {
    throw new Error(`ip netns del ${name}: ${r.stderr.trim()}`);
  }
}

/** Runs `cmd` inside namespace `ns` via `nsenter --net` (not `ip netns exec`), returning stdout. */
export function inNetns(ns: string, cmd: string[]): Promise<string> {
  return sh(["nsenter", `--net=${netnsPath(ns)}`, "--", ...cmd]);
}
