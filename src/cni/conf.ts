/** The network configuration on stdin: decoding, defaults and validation (libcni's rules + ours). */
import { LOG_LEVELS, type LogLevel } from "../common/log_line.ts";
import { IPAMD_SOCKET_DEFAULT } from "./api.ts";
import { parsePrevResult, type PrevResult } from "./result.ts";
import {
  CniError,
  Code,
  type Command,
  compareVersions,
  isSemver,
  isSupportedVersion,
  minVersionFor,
} from "./spec.ts";
import { interfaceNameProblem, validateNetworkName } from "./validate.ts";

export { LOG_LEVELS, type LogLevel };

/** Defaults (upstream's). */
export const DEFAULTS = {
  vethPrefix: "eni",
  mtu: 9001,
  pluginLogFile: "/var/log/aws-routed-eni/plugin.log",
  pluginLogLevel: "debug" as LogLevel,
  ipamdSocket: IPAMD_SOCKET_DEFAULT,
};

/** A GC attachment (`cni.dev/valid-attachments`). */
export interface Attachment {
  containerId: string;
  ifName: string;
}

/** The parsed network configuration. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  vethPrefix: string;
  /** Undefined when the config does not set it (ipamd's answer, then 9001, applies). */
  mtu?: number;
  pluginLogFile: string;
  pluginLogLevel: LogLevel;
  ipamdSocket: string;
  prevResult?: PrevResult;
  /** GC only: the attachments the runtime still uses. */
  validAttachments?: Attachment[];
}

function bad(msg: string, details = ""): never {
  throw new CniError(Code.INVALID_CONFIG, `network config: ${msg}`, details);
}

/** Decodes stdin bytes to a JSON object (code 6 when it is not one). */
export function decodeStdin(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CniError(Code.DECODE, "network config on stdin is not UTF-8");
  }
  if (text.trim() === "") throw new CniError(Code.DECODE, "network config on stdin is empty");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(Code.DECODE, "network config on stdin is not JSON", (e as Error).message);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new CniError(Code.DECODE, "network config on stdin is not a JSON object");
  }
  return v as Record<string, unknown>;
}

/** Checks the config's cniVersion is supported and has `cmd` (code 1 otherwise). */
export function checkVersion(raw: Record<string, unknown>, cmd: Command): string {
  const v = raw.cniVersion;
  if (v === undefined) throw new CniError(Code.INCOMPATIBLE_VERSION, "network config has no cniVersion");
  if (!isSemver(v) || !isSupportedVersion(v)) {
    throw new CniError(Code.INCOMPATIBLE_VERSION, `cniVersion ${JSON.stringify(v)} is not supported`);
  }
  const min = minVersionFor(cmd);
  if (compareVersions(v, min) < 0) {
    throw new CniError(Code.INCOMPATIBLE_VERSION, `config version ${v} does not allow ${cmd} (needs ${min})`);
  }
  return v;
}

function optString(raw: Record<string, unknown>, k: string): string | undefined {
  const v = raw[k];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") bad(`${k} is not a string`);
  return v;
}

/** Parses the vethPrefix value (≤ 4 chars, a valid name start, not eth/lo/vlan). */
export function parseVethPrefix(v: string | undefined): string {
  if (v === undefined) return DEFAULTS.vethPrefix;
  if ([...v].length > 4 || new TextEncoder().encode(v).length > 4) bad(`vethPrefix "${v}" is longer than 4`);
  if (["eth", "lo", "vlan"].includes(v)) bad(`vethPrefix "${v}" is reserved (eth, lo, vlan)`);
  if (interfaceNameProblem(v + "x")) bad(`vethPrefix "${v}" ${interfaceNameProblem(v + "x")}`);
  return v;
}

/** Parses `mtu` (a number or a numeric string, 576–9001). */
export function parseMtu(v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 576 || n > 9001) {
    bad(`mtu ${JSON.stringify(v)} is not an integer in 576-9001`);
  }
  return n;
}

function parseAttachments(raw: Record<string, unknown>): Attachment[] | undefined {
  const key = raw["cni.dev/valid-attachments"] !== undefined
    ? "cni.dev/valid-attachments"
    : "cni.dev/attachments";
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) bad(`${key} is not a list`);
  return v.map((x, i) => {
    if (typeof x !== "object" || x === null) bad(`${key}[${i}] is not an object`);
    const o = x as Record<string, unknown>;
    const containerId = o.containerID ?? o.containerId;
    const ifName = o.ifname ?? o.ifName;
    if (typeof containerId !== "string" || containerId === "") {
      bad(`${key}[${i}].containerID is not a string`);
    }
    if (typeof ifName !== "string" || ifName === "") bad(`${key}[${i}].ifname is not a string`);
    return { containerId, ifName };
  });
}

/**
 * Parses a decoded network config for `cmd`: version first (code 1), then the name and our keys
 * (code 7 naming the key). Unknown keys are ignored.
 */
export function parseConf(raw: Record<string, unknown>, cmd: Command): NetConf {
  const cniVersion = checkVersion(raw, cmd);
  validateNetworkName(raw.name);
  const type = optString(raw, "type") ?? "";
  const level = optString(raw, "pluginLogLevel")?.toLowerCase() ?? DEFAULTS.pluginLogLevel;
  const lvl = level === "warning" ? "warn" : level;
  if (!(LOG_LEVELS as readonly string[]).includes(lvl)) {
    bad(`pluginLogLevel "${level}" is not one of ${LOG_LEVELS.join(", ")}`);
  }
  const conf: NetConf = {
    cniVersion,
    name: raw.name,
    type,
    vethPrefix: parseVethPrefix(optString(raw, "vethPrefix")),
    mtu: parseMtu(raw.mtu),
    pluginLogFile: optString(raw, "pluginLogFile") ?? DEFAULTS.pluginLogFile,
    pluginLogLevel: lvl as LogLevel,
    ipamdSocket: optString(raw, "ipamdSocket") ?? DEFAULTS.ipamdSocket,
  };
  if (raw.prevResult !== undefined && raw.prevResult !== null) {
    conf.prevResult = parsePrevResult(raw.prevResult);
  }
  if (cmd === "GC") conf.validAttachments = parseAttachments(raw) ?? [];
  return conf;
}
