/**
 * `ipamd install`: puts vpc-cni onto a node, as the DaemonSet's two containers do.
 *
 * - `ipamd install --init` (init container): copies `aws-cni`, `egress-cni` (and `portmap`, `bandwidth` when shipped) into
 *   the CNI bin dir atomically, copies libnl beside the plugins into `<bin>/aws-cni-lib/`, and sets the node
 *   sysctls (IPv6 forwarding too in IPv6 mode).
 * - `ipamd install --conflist-only [--run]` (the aws-node container): with `--run`, starts ipamd in this
 *   process; waits until ipamd answers healthy, then writes `10-aws.conflist` atomically, so the kubelet
 *   sees the network ready only once IPAM is; with `--run`, keeps running ipamd afterwards. In IPv6 mode the
 *   conflist chains `egress-cni` after `aws-cni`, as upstream's, with the node's IPv4 (IMDS) as its SNAT source.
 * - `ipamd install` alone does both, for a node set up by hand.
 *
 * Every file lands by temp file in the same dir + fsync + chmod + rename: a kubelet never executes a
 * half-written plugin nor reads a half-written conflist.
 * @module
 */
import { parseArgs } from "node:util";
import { atomicCopy, atomicWrite, baseOf, dirOf, removeStaleTemps } from "./atomic_file.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { checkUpstreamEnv } from "./config_upstream.ts";
import { CONFLIST_NAME, renderConflist } from "./conflist.ts";
import { waitHealthy } from "./health.ts";
/** The libnl sonames the ffi loader opens. */
export const LIBNL_SONAMES = ["libnl-3.so.200", "libnl-route-3.so.200"] as const;
/** The directory beside the plugin the ffi loader looks in. */
export const LIBNL_SUBDIR = "aws-cni-lib";
/**
 * The CNI reference plugins `ipamd install` copies when they are beside a compiled ipamd (the image's `/app`,
 * where the Containerfile puts the v1.10.0 ones). From source there is no default: pass `--portmap`/`--bandwidth`.
 */
export const CHAINED_PLUGINS = ["portmap", "bandwidth"] as const;

const SYSTEM_LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/lib64",
  "/usr/lib",
  "/lib",
];

const USAGE = `usage: ipamd install [--init | --conflist-only] [options]
  --init                 copy the binaries and libnl, set the sysctls; no conflist
  --conflist-only        wait for ipamd, then write the conflist; copy nothing
  --run                  start ipamd in this process first (with --conflist-only or alone) and keep it running
  --cni-bin-dir D        default $HOST_CNI_BIN_PATH, else /opt/cni/bin
  --cni-conf-dir D       default $HOST_CNI_CONFDIR_PATH, else /etc/cni/net.d
  --plugin PATH          the aws-cni to install (default: aws-cni beside this binary; from source: a launcher)
  --egress PATH          the egress-cni to install (default: egress-cni beside this binary; from source: a launcher)
  --portmap PATH         portmap to install (default: portmap beside this binary, as in the image; from source: none)
  --bandwidth PATH       bandwidth to install (default: beside this binary, as in the image; from source: none)
  --libnl-from DIR       where libnl-3.so.200 and libnl-route-3.so.200 are (default: beside, else the system)
  --primary-if NAME      the primary interface for rp_filter (default: the default route's)
  --no-sysctls           leave the sysctls alone
  --wait-healthy T       a URL (200 means healthy) or ipamd's socket (GET /v1/status); default $IPAMD_SOCKET
  --wait-timeout S       give up waiting after S seconds (default 600)
  --cni-version V        the conflist's cniVersion (default 0.4.0)`;

/** Settings for {@link install}. */
export interface InstallOptions {
  /** Copy binaries and libnl, set sysctls (default true). */
  binaries?: boolean;
  /** Wait for ipamd and write the conflist (default true). */
  conflist?: boolean;
  cniBinDir?: string;
  cniConfDir?: string;
  /** The plugin to install; default {@link defaultSources}. */
  plugin?: PluginSource;
  /** egress-cni to install; null: none. Default {@link defaultSources}. */
  egress?: PluginSource | null;
  /** IPv6 mode: egress-cni's SNAT source (the node's primary IPv4); default IMDS `local-ipv4`, as upstream. */
  nodeIp?: string;
  /** portmap to install; null: none. Default {@link defaultSources}. */
  portmap?: string | null;
  /** bandwidth to install; null: none. Default {@link defaultSources}. */
  bandwidth?: string | null;
  /** Directory holding the libnl sonames; null: skip. Default {@link defaultSources}. */
  libnlFrom?: string | null;
  /** Set the sysctls (default true). */
  sysctls?: boolean;
  primaryIf?: string;
  /** URL or unix socket path; default the config's ipamd socket. */
  waitHealthy?: string;
  waitTimeoutMs?: number;
  pollMs?: number;
  cniVersion?: string;
  /** The environment (upstream's variable names); default `Deno.env.toObject()`. */
  env?: Record<string, string | undefined>;
  /** Aborts the health wait. */
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/** What to install as `aws-cni`: a file to copy, or script text (the from-source launcher). */
export type PluginSource = { path: string } | { script: string };

/** What {@link install} did. */
export interface InstallReport {
  installed: string[];
  sysctls: Record<string, string>;
  conflist?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Sources

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** True when this process is a `deno compile`d ipamd (not `deno run` of the source). */
export function isCompiled(execPath = Deno.execPath()): boolean {
  return !/^deno(\.exe)?$/.test(baseOf(execPath));
}

/**
 * The from-source `aws-cni`: a shell script running `src/cni/main.ts` with the deno that runs this ipamd and
 * the compiled plugin's permissions. It points `VPC_CNI_LIBNL_DIR` at `<bin>/aws-cni-lib` (unless set), as a
 * compiled plugin finds the libraries beside itself.
 */
export function launcherScript(
  denoPath: string,
  repoDir: string,
  cniBinDir: string,
  entry = "src/cni/main.ts",
): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const perms = "--allow-all"; // as compile.sh: FFI is unsandboxed, and /proc/*/ns needs it
  return `#!/bin/sh\n# vpc-cni: runs the aws-cni plugin from source (no compiled binary was built).\n` +
    `: "\${VPC_CNI_LIBNL_DIR:=${cniBinDir}/${LIBNL_SUBDIR}}"\nexport VPC_CNI_LIBNL_DIR\n` +
    `exec ${q(denoPath)} run ${perms} --no-check --config ${q(`${repoDir}/deno.json`)} ${
      q(`${repoDir}/${entry}`)
    } "$@"\n`;
}

/** The directory holding both libnl sonames: `preferred` if it has them, else the first system dir. */
export function findLibnlDir(preferred?: string): string | undefined {
  for (const d of [...(preferred ? [preferred] : []), ...SYSTEM_LIB_DIRS]) {
    if (LIBNL_SONAMES.every((n) => isFile(`${d}/${n}`))) return d;
  }
  return undefined;
}

/**
 * Default sources: beside a compiled ipamd (the image's `/app`: the plugins, the reference portmap and bandwidth,
 * libnl); from source, launchers over the source tree, no portmap or bandwidth, and the system's libnl.
 */
export function defaultSources(
  cniBinDir: string,
  execPath = Deno.execPath(),
): {
  plugin: PluginSource;
  egress: PluginSource | null;
  portmap: string | null;
  bandwidth: string | null;
  libnlFrom: string | null;
} {
  const exeDir = dirOf(execPath);
  const compiled = isCompiled(execPath);
  const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const plugin: PluginSource = compiled
    ? { path: `${exeDir}/aws-cni` }
    : { script: launcherScript(execPath, repo, cniBinDir) };
  const egress: PluginSource | null = compiled
    ? (isFile(`${exeDir}/egress-cni`) ? { path: `${exeDir}/egress-cni` } : null)
    : { script: launcherScript(execPath, repo, cniBinDir, "src/egress/main.ts") };
  const [portmap, bandwidth] = CHAINED_PLUGINS.map((name) =>
    compiled && isFile(`${exeDir}/${name}`) ? `${exeDir}/${name}` : null
  );
  const libnlFrom = findLibnlDir(`${exeDir}/${LIBNL_SUBDIR}`) ?? null;
  return { plugin, egress, portmap, bandwidth, libnlFrom };
}

// ---------------------------------------------------------------------------------------------------------
// Sysctls

/** The interface of the main table's default route (the primary ENI); throws when there is none. */
export async function primaryInterface(): Promise<string> {
  const { Netlink } = await import("../../ffi/mod.ts");
  const nl = Netlink.open();
  try {
    const def = nl.routeList().find((r) => r.dst === "default" && r.ifindex !== undefined);
    if (!def) throw new Error("no default route in the main table; pass --primary-if");
    return nl.linkByIndex(def.ifindex!).name;
  } finally {
    nl.close();
  }
}

/**
 * The init sysctls: `rp_filter=2` (loose) on the primary interface, since replies to pods on secondary ENIs
 * leave through another interface than the one the request came in on; `ip_forward=1` (pods are routed by the
 * host); `tcp_early_demux=0` when `DISABLE_TCP_EARLY_DEMUX=true`. With `ENABLE_IPv6=true`, as upstream's init:
 * IPv6 on (`all.disable_ipv6=0`), forwarded (`all.forwarding=1`), and router advertisements still accepted on
 * the primary interface (`accept_ra=2`, which forwarding would otherwise turn off).
 */
export function initSysctls(
  primaryIf: string,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {
    [`net/ipv4/conf/${primaryIf}/rp_filter`]: "2",
    "net/ipv4/ip_forward": "1",
  };
  const demux = (env.DISABLE_TCP_EARLY_DEMUX ?? "").trim().toLowerCase();
  if (demux === "true" || demux === "1") out["net/ipv4/tcp_early_demux"] = "0";
  else if (demux !== "" && demux !== "false" && demux !== "0") {
    throw new ConfigError("DISABLE_TCP_EARLY_DEMUX", env.DISABLE_TCP_EARLY_DEMUX ?? "", "true or false");
  }
  const v6 = (env.ENABLE_IPv6 ?? "").trim().toLowerCase();
  if (v6 === "true" || v6 === "1") {
    out["net/ipv6/conf/all/disable_ipv6"] = "0";
    out["net/ipv6/conf/all/forwarding"] = "1";
    out[`net/ipv6/conf/${primaryIf}/accept_ra`] = "2";
  } else if (v6 !== "" && v6 !== "false" && v6 !== "0") {
    throw new ConfigError("ENABLE_IPv6", env.ENABLE_IPv6 ?? "", "true or false");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The install

/** Runs the install steps `o` selects; throws on the first failure. */
export async function install(o: InstallOptions = {}): Promise<InstallReport> {
  const env = o.env ?? Deno.env.toObject();
  const log = o.log ?? ((m: string) => console.error(`ipamd install: ${m}`));
  // HOST_CNI_BIN_PATH / HOST_CNI_CONFDIR_PATH: upstream's knobs for the install paths (a flag wins).
  const binDir = o.cniBinDir ?? (env.HOST_CNI_BIN_PATH?.trim() || "/opt/cni/bin");
  const confDir = o.cniConfDir ?? (env.HOST_CNI_CONFDIR_PATH?.trim() || "/etc/cni/net.d");
  const config = loadConfig(env); // validates the environment before touching the node
  for (const note of checkUpstreamEnv(env)) log(note);
  const report: InstallReport = { installed: [], sysctls: {} };

  if (o.binaries ?? true) {
    const dflt = defaultSources(binDir);
    const plugin = o.plugin ?? dflt.plugin;
    const portmap = o.portmap === undefined ? dflt.portmap : o.portmap;
    const libnlFrom = o.libnlFrom === undefined ? dflt.libnlFrom : o.libnlFrom;
    await Deno.mkdir(binDir, { recursive: true });
    await removeStaleTemps(binDir);
    const egress = o.egress === undefined ? dflt.egress : o.egress;
    for (const [name, src] of [["aws-cni", plugin], ["egress-cni", egress]] as const) {
      if (!src) {
        log(`no ${name} to install`);
        continue;
      }
      const dest = `${binDir}/${name}`;
      if ("path" in src) await atomicCopy(src.path, dest);
      else await atomicWrite(dest, src.script, 0o755);
      report.installed.push(dest);
    }
    const bandwidth = o.bandwidth === undefined ? dflt.bandwidth : o.bandwidth;
    for (const [name, src] of [["portmap", portmap], ["bandwidth", bandwidth]] as const) {
      if (!src) {
        log(`no ${name} to install (the conflist chains it only if ${binDir}/${name} exists)`);
        continue;
      }
      await atomicCopy(src, `${binDir}/${name}`);
      report.installed.push(`${binDir}/${name}`);
    }
    if (libnlFrom) {
      const libDir = `${binDir}/${LIBNL_SUBDIR}`;
      await Deno.mkdir(libDir, { recursive: true });
      await removeStaleTemps(libDir);
      for (const so of LIBNL_SONAMES) {
        if (!isFile(`${libnlFrom}/${so}`)) throw new Error(`--libnl-from ${libnlFrom}: no ${so} there`);
        await atomicCopy(`${libnlFrom}/${so}`, `${libDir}/${so}`, 0o644);
        report.installed.push(`${libDir}/${so}`);
      }
    } else log("no libnl found to copy beside the plugin; the plugin will need the host's libnl");
    log(`installed ${report.installed.join(", ")}`);

    if (o.sysctls ?? true) {
      const wanted = initSysctls(o.primaryIf ?? await primaryInterface(), env);
      const { sysctlWrite } = await import("../../ffi/mod.ts");
      for (const [k, v] of Object.entries(wanted)) {
        sysctlWrite(k, v);
        report.sysctls[k] = v;
      }
      log(`sysctls: ${Object.entries(wanted).map(([k, v]) => `${k.replaceAll("/", ".")}=${v}`).join(" ")}`);
    }
  }

  if (o.conflist ?? true) {
    const target = o.waitHealthy ?? config.ipamdSocket;
    const timeoutMs = o.waitTimeoutMs ?? 600_000;
    log(`waiting for ipamd at ${target} (up to ${timeoutMs / 1000} s) before writing the conflist`);
    await waitHealthy(target, { timeoutMs, pollMs: o.pollMs, signal: o.signal, log });
    const withPortmap = isFile(`${binDir}/portmap`);
    if (config.enableBandwidthPlugin && !isFile(`${binDir}/bandwidth`)) {
      throw new ConfigError(
        "ENABLE_BANDWIDTH_PLUGIN",
        "true",
        `a bandwidth plugin in ${binDir} (none there)`,
      );
    }
    let nodeIp = o.nodeIp;
    if (config.enableIpv6 && !nodeIp) {
      if (!isFile(`${binDir}/egress-cni`)) throw new Error(`IPv6 mode: no ${binDir}/egress-cni to chain`);
      const { ImdsClient } = await import("../aws/imds.ts");
      nodeIp = await new ImdsClient().localIpv4();
    }
    const conf = renderConflist(config, { cniVersion: o.cniVersion, withPortmap, env, nodeIp });
    await Deno.mkdir(confDir, { recursive: true });
    await removeStaleTemps(confDir);
    const path = `${confDir}/${CONFLIST_NAME}`;
    await atomicWrite(path, JSON.stringify(conf, null, 2) + "\n", 0o644);
    report.conflist = path;
    log(`ipamd is healthy; wrote ${path}`);
  }
  return report;
}

/** The flags `ipamd install` accepts (node:util parseArgs, strict). */
export const INSTALL_OPTIONS = {
  init: { type: "boolean", default: false },
  "conflist-only": { type: "boolean", default: false },
  run: { type: "boolean", default: false },
  "cni-bin-dir": { type: "string" },
  "cni-conf-dir": { type: "string" },
  plugin: { type: "string" },
  egress: { type: "string" },
  portmap: { type: "string" },
  bandwidth: { type: "string" },
  "libnl-from": { type: "string" },
  "primary-if": { type: "string" },
  "no-sysctls": { type: "boolean", default: false },
  "wait-healthy": { type: "string" },
  "wait-timeout": { type: "string" },
  "cni-version": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** `ipamd install ...`: parses flags, runs {@link install} (and ipamd with `--run`); returns the exit code. */
export async function installMain(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: INSTALL_OPTIONS,
    }));
  } catch (e) {
    console.error(`ipamd install: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.init && (values["conflist-only"] || values.run)) {
    console.error(`ipamd install: --init cannot go with --conflist-only or --run\n${USAGE}`);
    return 2;
  }
  const timeout = values["wait-timeout"];
  if (timeout !== undefined && !/^\d+(\.\d+)?$/.test(timeout)) {
    console.error(`ipamd install: --wait-timeout ${timeout}: expected seconds`);
    return 2;
  }
  const env = Deno.env.toObject();
  const daemonStop = new AbortController();
  let daemon: Promise<number> | undefined;
  if (values.run) {
    const { runIpamd } = await import("./daemon_run.ts");
    daemon = runIpamd(env).finally(() => daemonStop.abort());
  }
  try {
    await install({
      binaries: !values["conflist-only"],
      conflist: !values.init,
      cniBinDir: values["cni-bin-dir"],
      cniConfDir: values["cni-conf-dir"],
      plugin: values.plugin ? { path: values.plugin } : undefined,
      egress: values.egress ? { path: values.egress } : undefined,
      portmap: values.portmap,
      bandwidth: values.bandwidth,
      libnlFrom: values["libnl-from"],
      sysctls: !values["no-sysctls"],
      primaryIf: values["primary-if"],
      waitHealthy: values["wait-healthy"],
      waitTimeoutMs: timeout !== undefined ? Number(timeout) * 1000 : undefined,
      cniVersion: values["cni-version"],
      env,
      signal: daemonStop.signal,
    });
  } catch (e) {
    if (daemon && daemonStop.signal.aborted) {
      const code = await daemon;
      console.error(`ipamd install: ipamd exited (${code}) before it was healthy; no conflist written`);
      return code === 0 ? 1 : code;
    }
    console.error(`ipamd install: ${(e as Error).message}`);
    return e instanceof ConfigError ? 1 : 2;
  }
  return daemon ? await daemon : 0;
}
