/**
 * `ipamd support-bundle [--out FILE] [--cni-conf-dir D]`: one .tar.gz with what a support case needs, each file
 * named for what it is (upstream ships aws-cni-support.sh for this):
 *
 * - `ipamd.log`, `plugin.log` (the path the conflist gives the plugin), `ipam.json` (the checkpoint);
 * - `pool.txt` (`ipamd status`), `pool.json`, `introspection/*.json` (the socket's `/v1/enis`, `/v1/pods`, and
 *   introspection's settings and ENIConfigs when it listens), `metrics.txt`;
 * - `ip-rule.txt`, `ip-route-table-all.txt`, `ip-link.txt`, `ip-addr.txt`, `ip-neigh.txt`;
 * - `iptables-legacy-save.txt`, `iptables-nft-save.txt` (both backends);
 * - `10-aws.conflist`, `env.txt` (secrets redacted), `sysctls.txt`;
 * - `index.txt`: every file, and what could not be collected and why.
 *
 * Secrets: variables whose names look like credentials are written as `[redacted]`, and their values are
 * scrubbed from every other file too. Runs in the aws-node container (or on the node), in the node's netns.
 * @module
 */
import { parseArgs } from "node:util";
import { IPAMD_SOCKET_DEFAULT } from "../cni/api.ts";
import { CONFLIST_NAME } from "./conflist.ts";
import { renderStatus } from "./status_table.ts";
import { type TarEntry, tarGz } from "./tar_gz.ts";

/** Environment names whose values never leave the node. */
export const SECRET_ENV = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|SESSION|PRIVATE|ACCESS_KEY|AUTH/i;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What the bundle reads from; every field has upstream's default. */
export interface BundleSources {
  env: Record<string, string | undefined>;
  /** The conflist directory (default $HOST_CNI_CONFDIR_PATH, else /etc/cni/net.d). */
  cniConfDir?: string;
  /** Timeout for each socket/HTTP request and command (default 5 s). */
  timeoutMs?: number;
}

/** A collected file, or why it is missing. */
type Item = { name: string; text: string } | { name: string; missing: string };

/** `KEY=value` lines, sorted, with secret-looking names redacted. */
export function redactedEnv(env: Record<string, string | undefined>): string {
  return Object.keys(env).sort().map((k) => `${k}=${SECRET_ENV.test(k) ? "[redacted]" : env[k] ?? ""}`)
    .join("\n") + "\n";
}

/** Replaces every secret value of `env` (8 characters or more) found in `text`. */
export function scrub(text: string, env: Record<string, string | undefined>): string {
  let out = text;
  for (const [k, v] of Object.entries(env)) {
    if (SECRET_ENV.test(k) && v && v.length >= 8) out = out.replaceAll(v, "[redacted]");
  }
  return out;
}

async function readText(name: string, paths: string[]): Promise<Item> {
  const errors: string[] = [];
  for (const p of paths) {
    try {
      return { name, text: await Deno.readTextFile(p) };
    } catch (e) {
      errors.push(`${p}: ${(e as Error).message}`);
    }
  }
  return { name, missing: errors.join("; ") };
}

async function command(name: string, argv: string[], timeoutMs: number): Promise<Item> {
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    if (!out.success) {
      return { name, missing: `${argv.join(" ")}: exit ${out.code}: ${dec.decode(out.stderr).trim()}` };
    }
    return { name, text: dec.decode(out.stdout) };
  } catch (e) {
    return { name, missing: `${argv.join(" ")}: ${(e as Error).message}` };
  }
}

async function getText(name: string, url: string, o: { socket?: string; timeoutMs: number }): Promise<Item> {
  const client = o.socket
    ? Deno.createHttpClient({ proxy: { transport: "unix", path: o.socket } })
    : undefined;
  try {
    const r = await fetch(url, { client, signal: AbortSignal.timeout(o.timeoutMs) });
    const text = await r.text();
    return r.ok ? { name, text } : { name, missing: `${url}: HTTP ${r.status}: ${text.slice(0, 200)}` };
  } catch (e) {
    return { name, missing: `${o.socket ? `${o.socket} ` : ""}${url}: ${(e as Error).message}` };
  } finally {
    client?.close();
  }
}

/** The node's IPv4 and IPv6 networking sysctls that matter to pods, `key = value` per line. */
async function sysctls(): Promise<Item> {
  const lines: string[] = [];
  const read = async (key: string) => {
    try {
      lines.push(`${key.replaceAll("/", ".")} = ${(await Deno.readTextFile(`/proc/sys/${key}`)).trim()}`);
    } catch { /* absent on this kernel */ }
  };
  for (const k of ["net/ipv4/ip_forward", "net/ipv4/tcp_early_demux", "net/ipv4/conf/all/rp_filter"]) {
    await read(k);
  }
  try {
    for await (const e of Deno.readDir("/proc/sys/net/ipv4/conf")) {
      if (e.name === "all") continue;
      for (const f of ["rp_filter", "forwarding", "proxy_arp"]) await read(`net/ipv4/conf/${e.name}/${f}`);
    }
  } catch (e) {
    return { name: "sysctls.txt", missing: (e as Error).message };
  }
  for (const k of ["net/ipv6/conf/all/forwarding", "net/ipv6/conf/all/disable_ipv6"]) await read(k);
  return { name: "sysctls.txt", text: lines.sort().join("\n") + "\n" };
}

/** The plugin's log file: the conflist's `pluginLogFile`, else upstream's default (also under /host). */
function pluginLogPaths(conflist: Item, env: BundleSources["env"]): string[] {
  let path = env.AWS_VPC_K8S_PLUGIN_LOG_FILE?.trim() || "/var/log/aws-routed-eni/plugin.log";
  if ("text" in conflist) {
    try {
      const aws = JSON.parse(conflist.text).plugins?.find((p: { type?: string }) => p.type === "aws-cni");
      if (typeof aws?.pluginLogFile === "string" && aws.pluginLogFile) path = aws.pluginLogFile;
    } catch { /* a broken conflist is in the bundle as it is */ }
  }
  return [path, `/host${path}`];
}

/** Everything the bundle holds, in order. */
export async function collect(s: BundleSources): Promise<Item[]> {
  const env = s.env;
  const t = s.timeoutMs ?? 5_000;
  const socket = env.IPAMD_SOCKET?.trim() || IPAMD_SOCKET_DEFAULT;
  const confDir = s.cniConfDir ?? (env.HOST_CNI_CONFDIR_PATH?.trim() || "/etc/cni/net.d");
  const conflist = await readText(CONFLIST_NAME, [`${confDir}/${CONFLIST_NAME}`]);
  const bind = env.INTROSPECTION_BIND_ADDRESS?.trim() || "127.0.0.1:61679";
  const intro = bind.startsWith("unix:")
    ? { socket: bind.slice(5), base: "http://127.0.0.1" }
    : { base: `http://${bind.replace(/^:/, "127.0.0.1:").replace(/^0\.0\.0\.0:/, "127.0.0.1:")}` };
  const pool = await getText("pool.json", "http://127.0.0.1/v1/pool", { socket, timeoutMs: t });
  const items: Item[] = [
    await readText("ipamd.log", [
      env.AWS_VPC_K8S_CNI_LOG_FILE?.trim() || "/var/log/aws-routed-eni/ipamd.log",
    ]),
    await readText("plugin.log", pluginLogPaths(conflist, env)),
    await readText("ipam.json", [env.AWS_VPC_K8S_CNI_BACKING_STORE?.trim() || "/var/run/aws-node/ipam.json"]),
    "text" in pool ? { name: "pool.txt", text: renderStatus(JSON.parse(pool.text)) + "\n" } : pool,
    pool,
  ];
  for (const v of ["enis", "pods"]) {
    items.push(
      await getText(`introspection/${v}.json`, `http://127.0.0.1/v1/${v}`, { socket, timeoutMs: t }),
    );
  }
  for (const v of ["eni-configs", "ipamd-env-settings", "networkutils-env-settings"]) {
    items.push(await getText(`introspection/${v}.json`, `${intro.base}/v1/${v}`, { ...intro, timeoutMs: t }));
  }
  const metricsPort = env.METRICS_PORT?.trim() || "61678";
  items.push(await getText("metrics.txt", `http://127.0.0.1:${metricsPort}/metrics`, { timeoutMs: t }));
  for (
    const [name, argv] of [
      ["ip-rule.txt", ["ip", "rule", "show"]],
      ["ip-route-table-all.txt", ["ip", "route", "show", "table", "all"]],
      ["ip-link.txt", ["ip", "link", "show"]],
      ["ip-addr.txt", ["ip", "addr", "show"]],
      ["ip-neigh.txt", ["ip", "neigh", "show"]],
      ["iptables-legacy-save.txt", ["iptables-legacy-save"]],
      ["iptables-nft-save.txt", ["iptables-nft-save"]],
    ] as const
  ) items.push(await command(name, [...argv], t));
  items.push(conflist, { name: "env.txt", text: redactedEnv(env) }, await sysctls());
  return items;
}

/** The bundle: every collected file (secrets scrubbed) plus `index.txt`, as a .tar.gz. */
export async function supportBundle(s: BundleSources): Promise<{ bytes: Uint8Array; index: string }> {
  const items = await collect(s);
  const mtime = Date.now() / 1000;
  const lines = [`vpc-cni support bundle, ${new Date().toISOString()}`, ""];
  const entries: TarEntry[] = [];
  for (const it of items) {
    if ("text" in it) {
      const data = enc.encode(scrub(it.text, s.env));
      entries.push({ name: it.name, data, mtime, mode: 0o600 });
      lines.push(`${it.name.padEnd(40)} ${data.length} bytes`);
    } else lines.push(`${it.name.padEnd(40)} missing: ${scrub(it.missing, s.env)}`);
  }
  const index = lines.join("\n") + "\n";
  entries.unshift({ name: "index.txt", data: enc.encode(index), mtime, mode: 0o600 });
  return { bytes: await tarGz(entries), index };
}

/** `ipamd support-bundle`: writes the bundle (mode 0600) and prints its path; 0 even when parts are missing. */
export async function supportBundleMain(args: string[], env = Deno.env.toObject()): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { out: { type: "string" }, "cni-conf-dir": { type: "string" } },
    }));
  } catch (e) {
    console.error(
      `ipamd support-bundle: ${(e as Error).message}\nusage: ipamd support-bundle [--out FILE] ` +
        "[--cni-conf-dir D]",
    );
    return 2;
  }
  const out = values.out ??
    `/var/log/aws-routed-eni/vpc-cni-support-${new Date().toISOString().replace(/[:.]/g, "-")}.tar.gz`;
  const { bytes, index } = await supportBundle({ env, cniConfDir: values["cni-conf-dir"] });
  await Deno.writeFile(out, bytes, { mode: 0o600 });
  console.error(index.trimEnd());
  console.log(out);
  return 0;
}
