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
import { atomicCopy, atomicWrite, removeStaleTemps } from "./atomic_file.ts";
import { ConfigError, type IpamdConfig, loadConfig } from "./config.ts";
import { checkUpstreamEnv } from "./config_upstream.ts";
import { CONFLIST_NAME, renderConflist } from "./conflist.ts";
import { waitHealthy } from "./health.ts";
import {
  defaultSources,
  type InstallSources,
  isFile,
  LIBNL_SONAMES,
  LIBNL_SUBDIR,
  type PluginSource,
} from "./install_sources.ts";
import { initSysctls, primaryInterface } from "./node_sysctls.ts";

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

/** What {@link install} did. */
export interface InstallReport {
  installed: string[];
  sysctls: Record<string, string>;
  conflist?: string;
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
    report.installed = await copyBinaries(binDir, sourcesOf(o, binDir), log);
    log(`installed ${report.installed.join(", ")}`);
    if (o.sysctls ?? true) {
      report.sysctls = await setSysctls(o.primaryIf ?? await primaryInterface(), env, log);
    }
  }
  if (o.conflist ?? true) {
    const target = o.waitHealthy ?? config.ipamdSocket;
    const timeoutMs = o.waitTimeoutMs ?? 600_000;
    log(`waiting for ipamd at ${target} (up to ${timeoutMs / 1000} s) before writing the conflist`);
    const healthy = await waitHealthy(target, { timeoutMs, pollMs: o.pollMs, signal: o.signal, log });
    report.conflist = await writeConflist(config, binDir, confDir, o, env, iptablesBackendOf(healthy.status));
    log(`ipamd is healthy; wrote ${report.conflist}`);
  }
  return report;
}

/** The sources `o` names, the {@link defaultSources} for the rest (`null` in `o` means "none"). */
function sourcesOf(o: InstallOptions, binDir: string): InstallSources {
  const dflt = defaultSources(binDir);
  const pick = <K extends keyof InstallSources>(key: K) =>
    (o[key] === undefined ? dflt[key] : o[key]) as InstallSources[K];
  return {
    plugin: o.plugin ?? dflt.plugin,
    egress: pick("egress"),
    portmap: pick("portmap"),
    bandwidth: pick("bandwidth"),
    libnlFrom: pick("libnlFrom"),
  };
}

/** Copies the plugins, the chained reference plugins and libnl into `binDir`, each atomically; the paths written. */
async function copyBinaries(
  binDir: string,
  src: InstallSources,
  log: (m: string) => void,
): Promise<string[]> {
  const installed: string[] = [];
  await Deno.mkdir(binDir, { recursive: true });
  await removeStaleTemps(binDir);
  for (const [name, plugin] of [["aws-cni", src.plugin], ["egress-cni", src.egress]] as const) {
    if (!plugin) {
      log(`no ${name} to install`);
      continue;
    }
    const dest = `${binDir}/${name}`;
    if ("path" in plugin) await atomicCopy(plugin.path, dest);
    else await atomicWrite(dest, plugin.script, 0o755);
    installed.push(dest);
  }
  for (const [name, from] of [["portmap", src.portmap], ["bandwidth", src.bandwidth]] as const) {
    if (!from) {
      log(`no ${name} to install (the conflist chains it only if ${binDir}/${name} exists)`);
      continue;
    }
    await atomicCopy(from, `${binDir}/${name}`);
    installed.push(`${binDir}/${name}`);
  }
  if (src.libnlFrom) installed.push(...await copyLibnl(src.libnlFrom, `${binDir}/${LIBNL_SUBDIR}`));
  else log("no libnl found to copy beside the plugin; the plugin will need the host's libnl");
  return installed;
}

/** Copies both libnl sonames from `from` into `libDir`; the paths written. */
async function copyLibnl(from: string, libDir: string): Promise<string[]> {
  await Deno.mkdir(libDir, { recursive: true });
  await removeStaleTemps(libDir);
  const copied: string[] = [];
  for (const so of LIBNL_SONAMES) {
    if (!isFile(`${from}/${so}`)) throw new Error(`--libnl-from ${from}: no ${so} there`);
    await atomicCopy(`${from}/${so}`, `${libDir}/${so}`, 0o644);
    copied.push(`${libDir}/${so}`);
  }
  return copied;
}

/** Writes the {@link initSysctls}; what was set. */
async function setSysctls(
  primaryIf: string,
  env: Record<string, string | undefined>,
  log: (m: string) => void,
): Promise<Record<string, string>> {
  const wanted = initSysctls(primaryIf, env);
  const { sysctlWrite } = await import("../../ffi/mod.ts");
  for (const [key, value] of Object.entries(wanted)) sysctlWrite(key, value);
  log(`sysctls: ${Object.entries(wanted).map(([k, v]) => `${k.replaceAll("/", ".")}=${v}`).join(" ")}`);
  return wanted;
}

/** The iptables backend ipamd's status names, when it is one egress-cni knows. */
function iptablesBackendOf(status: { iptablesBackend?: string } | undefined): "legacy" | "nft" | undefined {
  const b = status?.iptablesBackend;
  return b === "legacy" || b === "nft" ? b : undefined;
}

/**
 * Renders the conflist for what `binDir` holds (and, in IPv6 mode, the iptables backend ipamd uses, for
 * egress-cni) and writes it atomically; its path.
 */
async function writeConflist(
  config: IpamdConfig,
  binDir: string,
  confDir: string,
  o: InstallOptions,
  env: Record<string, string | undefined>,
  iptablesBackend?: "legacy" | "nft",
): Promise<string> {
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
  const conf = renderConflist(config, {
    cniVersion: o.cniVersion,
    withPortmap,
    env,
    nodeIp,
    iptablesBackend,
  });
  await Deno.mkdir(confDir, { recursive: true });
  await removeStaleTemps(confDir);
  const path = `${confDir}/${CONFLIST_NAME}`;
  await atomicWrite(path, JSON.stringify(conf, null, 2) + "\n", 0o644);
  return path;
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
