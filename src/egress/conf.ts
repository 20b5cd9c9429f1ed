/**
 * egress-cni's network configuration: upstream's keys (`enabled`, `nodeIP`, `randomizeSNAT`, `mtu`,
 * `pluginLogFile`, `pluginLogLevel`), ours (`iptablesBackend`: legacy or nft, as ipamd detected it) and a host-local style `ipam` block (`ranges`, `routes`, `dataDir`),
 * which egress-cni serves itself (src/egress/host_local.ts) instead of running the host-local plugin.
 * Bad values are code 7 naming the key.
 * @module
 */
import { LOG_LEVELS, type LogLevel } from "../common/log_line.ts";
import { checkVersion, parseMtu } from "../cni/conf.ts";
import { parsePrevResult, type PrevResult } from "../cni/result.ts";
import { CniError, Code, type Command } from "../cni/spec.ts";
import { validateNetworkName } from "../cni/validate.ts";
import { cidrContains, intToIp, ipToInt, isIpv4, parseCidr } from "../net/ipv4.ts";

/** Upstream's defaults for the IPv4 egress of IPv6 clusters. */
export const EGRESS_DEFAULTS = {
  pluginLogFile: "/var/log/aws-routed-eni/egress-v4-plugin.log",
  pluginLogLevel: "debug" as LogLevel,
  /** host-local's default state directory. */
  dataDir: "/var/lib/cni/networks",
  mtu: 9001,
};

/** The interface egress-cni adds to the pod (upstream's name). */
export const EGRESS_IFNAME = "v4if0";

/** The host-local range egress-cni allocates from (one IPv4 range). */
export interface EgressRange {
  /** The subnet, `a.b.c.d/len` (network address). */
  subnet: string;
  prefixLen: number;
  /** First and last allocatable addresses (host-local's defaults: network+1 … broadcast−1). */
  rangeStart: string;
  rangeEnd: string;
  /** Default network+1, as host-local; never allocated. */
  gateway: string;
}

/** The parsed egress-cni configuration. */
export interface EgressConf {
  cniVersion: string;
  name: string;
  type: string;
  /** `enabled: "true"`; anything else passes the previous result through. */
  enabled: boolean;
  /** The SNAT target (the node's primary IPv4). */
  nodeIp?: string;
  /** `iptablesBackend` (ours): the backend ipamd's rules are in; unset: the host's plain `iptables`. */
  iptablesBackend?: "legacy" | "nft";
  randomizeSnat: "prng" | "hashrandom" | "none";
  mtu: number;
  range: EgressRange;
  /** Routes (destinations) the pod gets via the gateway, default `0.0.0.0/0`. */
  routes: string[];
  dataDir: string;
  pluginLogFile: string;
  pluginLogLevel: LogLevel;
  /** The previous result as sent (passed through, with our interfaces appended). */
  rawPrevResult?: Record<string, unknown>;
  prevResult?: PrevResult;
  /** GC only. */
  validAttachments?: { containerId: string; ifName: string }[];
}

function bad(msg: string): never {
  throw new CniError(Code.INVALID_CONFIG, `network config: ${msg}`);
}

const obj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function ip4(v: unknown, key: string): string {
  if (typeof v !== "string" || !isIpv4(v)) bad(`${key} ${JSON.stringify(v)} is not an IPv4 address`);
  return v;
}

/** Reads host-local's `ranges: [[{subnet, rangeStart?, rangeEnd?, gateway?}]]` (or a top-level `subnet`). */
export function parseRange(ipam: Record<string, unknown>): EgressRange {
  const sets = ipam.ranges ?? [[{ subnet: ipam.subnet }]];
  if (!Array.isArray(sets) || sets.length !== 1 || !Array.isArray(sets[0]) || sets[0].length !== 1) {
    bad("ipam.ranges must hold exactly one range set with one IPv4 range");
  }
  const r = sets[0][0];
  if (!obj(r) || typeof r.subnet !== "string" || !r.subnet.includes("/")) {
    bad("ipam.ranges[0][0].subnet is missing");
  }
  let c;
  try {
    c = parseCidr(r.subnet);
  } catch {
    bad(`ipam subnet ${JSON.stringify(r.subnet)} is not an IPv4 CIDR (IPv6 egress is not supported)`);
  }
  if (c.prefixLen > 30) bad(`ipam subnet ${r.subnet} is too small`);
  const net = ipToInt(c.network);
  const last = net + 2 ** (32 - c.prefixLen) - 1;
  const out: EgressRange = {
    subnet: `${c.network}/${c.prefixLen}`,
    prefixLen: c.prefixLen,
    rangeStart: r.rangeStart === undefined ? intToIp(net + 1) : ip4(r.rangeStart, "ipam rangeStart"),
    rangeEnd: r.rangeEnd === undefined ? intToIp(last - 1) : ip4(r.rangeEnd, "ipam rangeEnd"),
    gateway: r.gateway === undefined ? intToIp(net + 1) : ip4(r.gateway, "ipam gateway"),
  };
  for (const k of ["rangeStart", "rangeEnd", "gateway"] as const) {
    if (!cidrContains(out.subnet, out[k])) bad(`ipam ${k} ${out[k]} is outside ${out.subnet}`);
  }
  if (ipToInt(out.rangeStart) > ipToInt(out.rangeEnd)) bad("ipam rangeStart is after rangeEnd");
  return out;
}

function parseIpam(raw: Record<string, unknown>) {
  const ipam = raw.ipam;
  if (!obj(ipam)) bad("ipam is missing");
  if (ipam.type !== "host-local") {
    bad(`ipam.type ${JSON.stringify(ipam.type)}: egress-cni serves "host-local" only`);
  }
  const routes = ipam.routes === undefined ? [{ dst: "0.0.0.0/0" }] : ipam.routes;
  if (!Array.isArray(routes) || !routes.every((r) => obj(r) && typeof r.dst === "string")) {
    bad("ipam.routes must be a list of {dst}");
  }
  const dsts = routes.map((r) => (r as { dst: string }).dst);
  for (const d of dsts) {
    try {
      parseCidr(d);
    } catch {
      bad(`ipam.routes dst ${JSON.stringify(d)} is not an IPv4 CIDR`);
    }
  }
  const dataDir = ipam.dataDir ?? EGRESS_DEFAULTS.dataDir;
  if (typeof dataDir !== "string" || !dataDir.startsWith("/")) bad("ipam.dataDir must be an absolute path");
  return { range: parseRange(ipam), routes: dsts, dataDir };
}

function str(raw: Record<string, unknown>, k: string): string | undefined {
  const v = raw[k];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") bad(`${k} is not a string`);
  return v;
}

/** Parses egress-cni's config for `cmd` (version first, code 1; then the keys, code 7). */
export function parseEgressConf(raw: Record<string, unknown>, cmd: Command): EgressConf {
  const cniVersion = checkVersion(raw, cmd);
  validateNetworkName(raw.name);
  const en = raw.enabled;
  if (en !== undefined && en !== true && en !== false && en !== "true" && en !== "false") {
    bad(`enabled ${JSON.stringify(en)} is not "true" or "false"`);
  }
  const enabled = en === true || en === "true";
  const node = str(raw, "nodeIP");
  if (node !== undefined && node.includes(":")) {
    bad("nodeIP is IPv6: IPv6 egress (ENABLE_V6_EGRESS) is not supported");
  }
  const backend = str(raw, "iptablesBackend");
  if (backend !== undefined && backend !== "legacy" && backend !== "nft") {
    bad(`iptablesBackend "${backend}" is not legacy or nft`);
  }
  const rnd = (str(raw, "randomizeSNAT") ?? "prng").toLowerCase();
  if (!["prng", "hashrandom", "none"].includes(rnd)) {
    bad(`randomizeSNAT "${rnd}" is not prng, hashrandom or none`);
  }
  const level = (str(raw, "pluginLogLevel") ?? EGRESS_DEFAULTS.pluginLogLevel).toLowerCase().replace(
    /^warning$/,
    "warn",
  );
  if (!(LOG_LEVELS as readonly string[]).includes(level)) bad(`pluginLogLevel "${level}" is not a log level`);
  const conf: EgressConf = {
    cniVersion,
    name: raw.name,
    type: str(raw, "type") ?? "",
    enabled,
    nodeIp: node === undefined ? undefined : ip4(node, "nodeIP"),
    ...(backend ? { iptablesBackend: backend } : {}),
    randomizeSnat: rnd as EgressConf["randomizeSnat"],
    mtu: parseMtu(raw.mtu) ?? EGRESS_DEFAULTS.mtu,
    ...parseIpam(raw),
    pluginLogFile: str(raw, "pluginLogFile") ?? EGRESS_DEFAULTS.pluginLogFile,
    pluginLogLevel: level as LogLevel,
  };
  if (obj(raw.prevResult)) {
    conf.rawPrevResult = raw.prevResult;
    conf.prevResult = parsePrevResult(raw.prevResult);
  }
  if (cmd === "GC") conf.validAttachments = parseValid(raw);
  return conf;
}

function parseValid(raw: Record<string, unknown>): { containerId: string; ifName: string }[] {
  const v = raw["cni.dev/valid-attachments"] ?? raw["cni.dev/attachments"] ?? [];
  if (!Array.isArray(v)) bad("cni.dev/valid-attachments is not a list");
  return v.map((x, i) => {
    if (!obj(x) || typeof x.containerID !== "string" || typeof x.ifname !== "string") {
      bad(`cni.dev/valid-attachments[${i}] needs containerID and ifname`);
    }
    return { containerId: x.containerID, ifName: x.ifname };
  });
}
