/**
 * ipamd settings from the environment: upstream's variable names and defaults, strictly validated.
 *
 * An empty variable counts as unset (as upstream's `os.Getenv(x) == ""` checks do). A bad value throws
 * {@link ConfigError} naming the variable, its value and what it accepts; upstream logs and falls back to the
 * default instead, which hides typos.
 *
 * Booleans accept `true`/`false` and `1`/`0`, case-insensitively (upstream uses Go's `strconv.ParseBool`,
 * which also accepts `t`/`f`; we do not, to keep the set small and unambiguous).
 */
import { IPAMD_SOCKET_DEFAULT } from "../cni/api.ts";
import { parseCidr } from "../net/ipv4.ts";

export interface IpamdConfig {
  /** WARM_ENI_TARGET, default 1. Ignored when an IP target is set or in prefix mode. */
  warmEniTarget: number;
  /** WARM_IP_TARGET; unset (or 0, as upstream) is undefined. */
  warmIpTarget?: number;
  /** MINIMUM_IP_TARGET; unset (or 0, as upstream) is undefined. */
  minimumIpTarget?: number;
  /** WARM_PREFIX_TARGET; unset is undefined (the pool then uses 1, upstream's manifest default). */
  warmPrefixTarget?: number;
  /** ENABLE_PREFIX_DELEGATION, default false. */
  enablePrefixDelegation: boolean;
  /** MAX_ENI; unset or -1 (upstream's "no limit") is undefined. */
  maxEni?: number;
  /** IP_COOLDOWN_PERIOD (seconds), default 30, as milliseconds. */
  ipCooldownMs: number;
  /** AWS_VPC_ENI_MTU, default 9001, 576..9001. */
  eniMtu: number;
  /** POD_MTU, default eniMtu, 576..9001. */
  podMtu: number;
  /** AWS_VPC_K8S_CNI_EXTERNALSNAT, default false. */
  externalSnat: boolean;
  /** AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS, comma-separated CIDRs (spaces trimmed, empties skipped). */
  excludeSnatCidrs: string[];
  /** AWS_VPC_K8S_CNI_RANDOMIZESNAT, default prng (case-insensitive). */
  randomizeSnat: "prng" | "hashrandom" | "none";
  /** AWS_VPC_K8S_CNI_LOGLEVEL, default debug (upstream's DEBUG; case-insensitive). */
  logLevel: "debug" | "info" | "warn" | "error";
  /** AWS_VPC_K8S_CNI_LOG_FILE, default /var/log/aws-routed-eni/ipamd.log ("stdout" allowed). */
  logFile: string;
  /** AWS_VPC_K8S_CNI_BACKING_STORE, default /var/run/aws-node/ipam.json. */
  backingStore: string;
  /** CLUSTER_NAME, default "". */
  clusterName: string;
  /** DISABLE_INTROSPECTION, default false. */
  disableIntrospection: boolean;
  /** DISABLE_METRICS, default false. */
  disableMetrics: boolean;
  /** INTROSPECTION_BIND_ADDRESS, default 127.0.0.1:61679 (host:port). */
  introspectionBindAddress: string;
  /** METRICS_PORT (our extension), default 61678. */
  metricsPort: number;
  /** MY_NODE_NAME, default "" (the runtime requires it in `run`). */
  nodeName: string;
  /** AWS_EC2_ENDPOINT, unset is undefined. */
  ec2Endpoint?: string;
  /** AWS_VPC_K8S_CNI_VETHPREFIX, default "eni": at most 4 characters, not eth/lo/vlan. */
  vethPrefix: string;
  /** AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG, default false. */
  customNetworking: boolean;
  /** ENI_CONFIG_LABEL_DEF, default k8s.amazonaws.com/eniConfig. */
  eniConfigLabelDef: string;
  /** ENI_CONFIG_ANNOTATION_DEF, default k8s.amazonaws.com/eniConfig. */
  eniConfigAnnotationDef: string;
  /** POD_LEAK_GRACE_PERIOD (seconds, our extension), default 600, as milliseconds. */
  podLeakGraceMs: number;
  /** IPAMD_SOCKET (our extension), default /var/run/aws-node/ipamd.sock. */
  ipamdSocket: string;
  /** DISABLE_LEAKED_ENI_CLEANUP, default false. */
  disableLeakedEniCleanup: boolean;
}

/** A bad environment value; the message names the variable, its value and what it accepts. */
export class ConfigError extends Error {
  /** The offending variable. */
  readonly variable: string;
  constructor(variable: string, value: string, accepts: string) {
    super(`${variable}=${JSON.stringify(value)}: expected ${accepts}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase();
  if (s === "true" || s === "1") return true;
  if (s === "false" || s === "0") return false;
  throw new ConfigError(name, v, "true or false (or 1/0)");
}

function int(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  const s = v.trim();
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
    const what = max === Number.MAX_SAFE_INTEGER
      ? `a whole number ≥ ${min}`
      : `a whole number from ${min} to ${max}`;
    throw new ConfigError(name, v, what);
  }
  return n;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], dflt: T): T {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase() as T;
  if (!values.includes(s)) throw new ConfigError(name, v, `one of ${values.join(", ")}`);
  return s;
}

function str(env: Env, name: string, dflt: string): string {
  return raw(env, name)?.trim() ?? dflt;
}

const MTU_MIN = 576, MTU_MAX = 9001;

/** Reads ipamd's settings from `env` (e.g. `Deno.env.toObject()`); throws {@link ConfigError}. */
export function loadConfig(env: Env): IpamdConfig {
  const zeroIsUnset = (n: number | undefined) => n === 0 ? undefined : n;

  const maxEniRaw = raw(env, "MAX_ENI");
  let maxEni: number | undefined;
  if (maxEniRaw !== undefined && maxEniRaw.trim() !== "-1") {
    const n = int(env, "MAX_ENI", 1);
    if (n === undefined) {
      throw new ConfigError("MAX_ENI", maxEniRaw, "a whole number ≥ 1, or -1 for no limit");
    }
    maxEni = n;
  }

  const cidrsRaw = raw(env, "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS") ?? "";
  const excludeSnatCidrs = cidrsRaw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const c of excludeSnatCidrs) {
    let ok = c.includes("/");
    try {
      parseCidr(c);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ConfigError(
        "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
        cidrsRaw,
        `comma-separated IPv4 CIDRs like 10.1.0.0/16 ("${c}" is not one)`,
      );
    }
  }

  const vethRaw = raw(env, "AWS_VPC_K8S_CNI_VETHPREFIX");
  const vethPrefix = vethRaw === undefined ? "eni" : vethRaw.trim();
  if (
    vethRaw !== undefined &&
    (vethPrefix.length > 4 || ["eth", "lo", "vlan"].includes(vethPrefix) ||
      !/^[A-Za-z0-9_.-]+$/.test(vethPrefix))
  ) {
    throw new ConfigError(
      "AWS_VPC_K8S_CNI_VETHPREFIX",
      vethRaw,
      "at most 4 interface-name characters (letters, digits, _ . -), not eth, lo or vlan",
    );
  }

  const bind = str(env, "INTROSPECTION_BIND_ADDRESS", "127.0.0.1:61679");
  const bm = bind.match(/^(.*):(\d{1,5})$/);
  if (!bm || Number(bm[2]) < 1 || Number(bm[2]) > 65535) {
    throw new ConfigError(
      "INTROSPECTION_BIND_ADDRESS",
      env["INTROSPECTION_BIND_ADDRESS"] ?? "",
      "host:port with a port from 1 to 65535",
    );
  }

  const eniMtu = int(env, "AWS_VPC_ENI_MTU", MTU_MIN, MTU_MAX) ?? 9001;
  return {
    warmEniTarget: int(env, "WARM_ENI_TARGET", 0) ?? 1,
    warmIpTarget: zeroIsUnset(int(env, "WARM_IP_TARGET", 0)),
    minimumIpTarget: zeroIsUnset(int(env, "MINIMUM_IP_TARGET", 0)),
    warmPrefixTarget: int(env, "WARM_PREFIX_TARGET", 0),
    enablePrefixDelegation: bool(env, "ENABLE_PREFIX_DELEGATION", false),
    maxEni,
    ipCooldownMs: (int(env, "IP_COOLDOWN_PERIOD", 0) ?? 30) * 1000,
    eniMtu,
    podMtu: int(env, "POD_MTU", MTU_MIN, MTU_MAX) ?? eniMtu,
    externalSnat: bool(env, "AWS_VPC_K8S_CNI_EXTERNALSNAT", false),
    excludeSnatCidrs,
    randomizeSnat: oneOf(
      env,
      "AWS_VPC_K8S_CNI_RANDOMIZESNAT",
      ["prng", "hashrandom", "none"] as const,
      "prng",
    ),
    logLevel: oneOf(env, "AWS_VPC_K8S_CNI_LOGLEVEL", ["debug", "info", "warn", "error"] as const, "debug"),
    logFile: str(env, "AWS_VPC_K8S_CNI_LOG_FILE", "/var/log/aws-routed-eni/ipamd.log"),
    backingStore: str(env, "AWS_VPC_K8S_CNI_BACKING_STORE", "/var/run/aws-node/ipam.json"),
    clusterName: str(env, "CLUSTER_NAME", ""),
    disableIntrospection: bool(env, "DISABLE_INTROSPECTION", false),
    disableMetrics: bool(env, "DISABLE_METRICS", false),
    introspectionBindAddress: bind,
    metricsPort: int(env, "METRICS_PORT", 1, 65535) ?? 61678,
    nodeName: str(env, "MY_NODE_NAME", ""),
    ec2Endpoint: raw(env, "AWS_EC2_ENDPOINT")?.trim(),
    vethPrefix,
    customNetworking: bool(env, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", false),
    eniConfigLabelDef: str(env, "ENI_CONFIG_LABEL_DEF", "k8s.amazonaws.com/eniConfig"),
    eniConfigAnnotationDef: str(env, "ENI_CONFIG_ANNOTATION_DEF", "k8s.amazonaws.com/eniConfig"),
    podLeakGraceMs: (int(env, "POD_LEAK_GRACE_PERIOD", 0) ?? 600) * 1000,
    ipamdSocket: str(env, "IPAMD_SOCKET", IPAMD_SOCKET_DEFAULT),
    disableLeakedEniCleanup: bool(env, "DISABLE_LEAKED_ENI_CLEANUP", false),
  };
}

/**
 * The effective settings keyed by environment variable name, as strings (for `/v1/ipamd-env-settings`).
 * Unset optional values are "" . `loadConfig(configSettings(c))` gives `c` back.
 */
export function configSettings(c: IpamdConfig): Record<string, string> {
  const opt = (n: number | undefined) => n === undefined ? "" : String(n);
  return {
    WARM_ENI_TARGET: String(c.warmEniTarget),
    WARM_IP_TARGET: opt(c.warmIpTarget),
    MINIMUM_IP_TARGET: opt(c.minimumIpTarget),
    WARM_PREFIX_TARGET: opt(c.warmPrefixTarget),
    ENABLE_PREFIX_DELEGATION: String(c.enablePrefixDelegation),
    MAX_ENI: c.maxEni === undefined ? "-1" : String(c.maxEni),
    IP_COOLDOWN_PERIOD: String(c.ipCooldownMs / 1000),
    AWS_VPC_ENI_MTU: String(c.eniMtu),
    POD_MTU: String(c.podMtu),
    AWS_VPC_K8S_CNI_EXTERNALSNAT: String(c.externalSnat),
    AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: c.excludeSnatCidrs.join(","),
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: c.randomizeSnat,
    AWS_VPC_K8S_CNI_LOGLEVEL: c.logLevel,
    AWS_VPC_K8S_CNI_LOG_FILE: c.logFile,
    AWS_VPC_K8S_CNI_BACKING_STORE: c.backingStore,
    CLUSTER_NAME: c.clusterName,
    DISABLE_INTROSPECTION: String(c.disableIntrospection),
    DISABLE_METRICS: String(c.disableMetrics),
    INTROSPECTION_BIND_ADDRESS: c.introspectionBindAddress,
    METRICS_PORT: String(c.metricsPort),
    MY_NODE_NAME: c.nodeName,
    AWS_EC2_ENDPOINT: c.ec2Endpoint ?? "",
    AWS_VPC_K8S_CNI_VETHPREFIX: c.vethPrefix,
    AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: String(c.customNetworking),
    ENI_CONFIG_LABEL_DEF: c.eniConfigLabelDef,
    ENI_CONFIG_ANNOTATION_DEF: c.eniConfigAnnotationDef,
    POD_LEAK_GRACE_PERIOD: String(c.podLeakGraceMs / 1000),
    IPAMD_SOCKET: c.ipamdSocket,
    DISABLE_LEAKED_ENI_CLEANUP: String(c.disableLeakedEniCleanup),
  };
}
