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
import { bool, ConfigError, type Env, int, ipTarget, oneOf, raw, str } from "./config_readers.ts";

export { ConfigError } from "./config_readers.ts";

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
  /** DISABLE_LEAKED_ENI_CLEANUP, default false (forced on when ENI provisioning is disabled). */
  disableLeakedEniCleanup: boolean;
  /** ADDITIONAL_ENI_TAGS (a JSON object), tags on every ENI ipamd creates; reserved keys refused. */
  additionalEniTags: Record<string, string>;
  /** AWS_MANAGE_ENIS_NON_SCHEDULABLE, default false: no ENI/IP growth and no ENI freeing while cordoned. */
  manageEnisNonSchedulable: boolean;
  /** MANAGE_UNTAGGED_ENI, default true: false leaves attached ENIs ipamd did not create alone. */
  manageUntaggedEni: boolean;
  /** AWS_VPC_CNI_NODE_PORT_SUPPORT, default true: the connmark rules that send NodePort replies out eth0. */
  nodePortSupport: boolean;
  /** AWS_VPC_K8S_CNI_CONNMARK, default 0x80: the connection mark (and its mask) for those rules. */
  connmark: number;
  /** AWS_EXTERNAL_SERVICE_CIDRS: IPv4 CIDRs pods reach through the main table (ip rule priority 1535). */
  externalServiceCidrs: string[];
  /** DISABLE_NETWORK_RESOURCE_PROVISIONING (or ENABLE_IMDS_ONLY_MODE): no EC2 mutation at all. */
  disableEniProvisioning: boolean;
  /** ENABLE_IMDS_ONLY_MODE, default false: ENIs and addresses from IMDS only, no EC2 call. */
  imdsOnly: boolean;
  /** ANNOTATE_POD_IP, default false: patch `vpc.amazonaws.com/pod-ips` onto the pod at ADD (and DEL). */
  annotatePodIp: boolean;
  /** CLUSTER_ENDPOINT: the API server URL to use instead of the in-cluster service address. */
  clusterEndpoint?: string;
  /** ENABLE_BANDWIDTH_PLUGIN, default false: the conflist chains `bandwidth`. */
  enableBandwidthPlugin: boolean;
  /** ENABLE_IPv4, default true (upstream's manifest): IPv4 pods. */
  enableIpv4: boolean;
  /**
   * ENABLE_IPv6, default false: IPv6 pods, each a /128 from one /80 prefix on the primary ENI. Requires
   * ENABLE_PREFIX_DELEGATION=true and ENABLE_IPv4=false; custom networking is refused (upstream's rules).
   */
  enableIpv6: boolean;
  /** ENABLE_V4_EGRESS, default true: in IPv6 mode, egress-cni gives each pod a node-local IPv4 SNATed out. */
  enableV4Egress: boolean;
}

const MTU_MIN = 576, MTU_MAX = 9001;

/** Tag keys ipamd owns or AWS reserves (upstream ignores any key containing `k8s.amazonaws.com`). */
const RESERVED_TAG = /k8s\.amazonaws\.com|^aws:/i;

/** ADDITIONAL_ENI_TAGS: a JSON object of string → string within EC2's limits, no reserved key. */
function eniTags(env: Env): Record<string, string> {
  const name = "ADDITIONAL_ENI_TAGS";
  const v = raw(env, name);
  if (v === undefined) return {};
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch {
    throw new ConfigError(name, v, 'a JSON object of tag key → value, like {"team":"net"}');
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new ConfigError(name, v, 'a JSON object of tag key → value, like {"team":"net"}');
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== "string" || k.length < 1 || k.length > 128 || val.length > 256) {
      throw new ConfigError(name, v, `string keys of 1–128 and values of 0–256 characters ("${k}" is not)`);
    }
    if (RESERVED_TAG.test(k)) {
      throw new ConfigError(
        name,
        v,
        `no reserved key: "${k}" (k8s.amazonaws.com/*, node.k8s.amazonaws.com/*, ` +
          `cluster.k8s.amazonaws.com/* and aws:* are ipamd's or AWS's)`,
      );
    }
    out[k] = val;
  }
  return out;
}

/** A comma-separated list of IPv4 CIDRs (spaces trimmed, empties skipped); any bad item is an error. */
function cidrList(env: Env, name: string): string[] {
  const all = raw(env, name) ?? "";
  const cidrs = all.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const c of cidrs) {
    let ok = c.includes("/");
    try {
      parseCidr(c);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ConfigError(name, all, `comma-separated IPv4 CIDRs like 10.1.0.0/16 ("${c}" is not one)`);
    }
  }
  return cidrs;
}

/** AWS_VPC_K8S_CNI_CONNMARK: a mark from 1 to 0xffffffff, decimal or 0x-hex (upstream: Go's ParseInt base 0). */
function connmark(env: Env): number {
  const name = "AWS_VPC_K8S_CNI_CONNMARK";
  const v = raw(env, name);
  if (v === undefined) return 0x80;
  const s = v.trim();
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 0xffffffff) {
    throw new ConfigError(name, v, "a mark from 1 to 0xffffffff, decimal or 0x-hex (like 0x80)");
  }
  return n;
}

/** CLUSTER_ENDPOINT: an http(s) URL without a path. */
function clusterEndpoint(env: Env): string | undefined {
  const v = raw(env, "CLUSTER_ENDPOINT");
  if (v === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(v.trim());
  } catch { /* below */ }
  if (!u || !/^https?:$/.test(u.protocol) || (u.pathname !== "/" && u.pathname !== "")) {
    throw new ConfigError(
      "CLUSTER_ENDPOINT",
      v,
      "the API server's URL, like https://ABCD.gr7.us-west-2.eks.amazonaws.com",
    );
  }
  return v.trim().replace(/\/$/, "");
}

/** MAX_ENI: unset, 0 or lower is no limit (upstream's README). */
function maxEni(env: Env): number | undefined {
  const v = raw(env, "MAX_ENI")?.trim();
  return v !== undefined && /^-\d+$/.test(v) ? undefined : int(env, "MAX_ENI", 0) || undefined;
}

/** WARM_PREFIX_TARGET: a negative value is 0; unset is undefined. */
function warmPrefixTarget(env: Env): number | undefined {
  const v = raw(env, "WARM_PREFIX_TARGET")?.trim();
  return v !== undefined && /^-\d+$/.test(v) ? 0 : int(env, "WARM_PREFIX_TARGET", 0);
}

/** AWS_VPC_K8S_CNI_VETHPREFIX: at most 4 interface-name characters, not eth, lo or vlan; default "eni". */
function vethPrefix(env: Env): string {
  const v = raw(env, "AWS_VPC_K8S_CNI_VETHPREFIX");
  if (v === undefined) return "eni";
  const prefix = v.trim();
  if (prefix.length > 4 || ["eth", "lo", "vlan"].includes(prefix) || !/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new ConfigError(
      "AWS_VPC_K8S_CNI_VETHPREFIX",
      v,
      "at most 4 interface-name characters (letters, digits, _ . -), not eth, lo or vlan",
    );
  }
  return prefix;
}

/** INTROSPECTION_BIND_ADDRESS: host:port (port 1–65535) or unix:/path; default 127.0.0.1:61679. */
function introspectionBindAddress(env: Env): string {
  const bind = str(env, "INTROSPECTION_BIND_ADDRESS", "127.0.0.1:61679");
  const bm = bind.match(/^(.*):(\d{1,5})$/);
  if (!/^unix:\/./.test(bind) && (!bm || Number(bm[2]) < 1 || Number(bm[2]) > 65535)) {
    throw new ConfigError(
      "INTROSPECTION_BIND_ADDRESS",
      env["INTROSPECTION_BIND_ADDRESS"] ?? "",
      "host:port with a port from 1 to 65535, or unix:/path/to.sock",
    );
  }
  return bind;
}

/** AWS_VPC_K8S_CNI_LOGLEVEL, default debug; FATAL (upstream's) logs as ERROR: ipamd has nothing between. */
function logLevel(env: Env): IpamdConfig["logLevel"] {
  const level = oneOf(
    env,
    "AWS_VPC_K8S_CNI_LOGLEVEL",
    ["debug", "info", "warn", "error", "fatal"] as const,
    "debug",
  );
  return level === "fatal" ? "error" : level;
}

/** Reads ipamd's settings from `env` (e.g. `Deno.env.toObject()`); throws {@link ConfigError}. */
export function loadConfig(env: Env): IpamdConfig {
  const eniMtu = int(env, "AWS_VPC_ENI_MTU", MTU_MIN, MTU_MAX) ?? 9001;
  const imdsOnly = bool(env, "ENABLE_IMDS_ONLY_MODE", false);
  const disableEniProvisioning = imdsOnly || bool(env, "DISABLE_NETWORK_RESOURCE_PROVISIONING", false);
  const enableIpv4 = ipv4Mode(env);
  const enablePrefixDelegation = bool(env, "ENABLE_PREFIX_DELEGATION", false);
  const customNetworking = bool(env, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", false);
  if (!enableIpv4) ipv6Rules(env, enablePrefixDelegation, customNetworking);
  return {
    warmEniTarget: int(env, "WARM_ENI_TARGET", 0) ?? 1,
    warmIpTarget: ipTarget(env, "WARM_IP_TARGET"),
    minimumIpTarget: ipTarget(env, "MINIMUM_IP_TARGET"),
    warmPrefixTarget: warmPrefixTarget(env),
    enablePrefixDelegation,
    maxEni: maxEni(env),
    ipCooldownMs: (int(env, "IP_COOLDOWN_PERIOD", 0) ?? 30) * 1000,
    eniMtu,
    podMtu: int(env, "POD_MTU", MTU_MIN, MTU_MAX) ?? eniMtu,
    externalSnat: bool(env, "AWS_VPC_K8S_CNI_EXTERNALSNAT", false),
    excludeSnatCidrs: cidrList(env, "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS"),
    randomizeSnat: oneOf(
      env,
      "AWS_VPC_K8S_CNI_RANDOMIZESNAT",
      ["prng", "hashrandom", "none"] as const,
      "prng",
    ),
    logLevel: logLevel(env),
    logFile: str(env, "AWS_VPC_K8S_CNI_LOG_FILE", "/var/log/aws-routed-eni/ipamd.log"),
    backingStore: str(env, "AWS_VPC_K8S_CNI_BACKING_STORE", "/var/run/aws-node/ipam.json"),
    clusterName: str(env, "CLUSTER_NAME", ""),
    disableIntrospection: bool(env, "DISABLE_INTROSPECTION", false),
    disableMetrics: bool(env, "DISABLE_METRICS", false),
    introspectionBindAddress: introspectionBindAddress(env),
    metricsPort: int(env, "METRICS_PORT", 1, 65535) ?? 61678,
    nodeName: str(env, "MY_NODE_NAME", ""),
    ec2Endpoint: raw(env, "AWS_EC2_ENDPOINT")?.trim(),
    vethPrefix: vethPrefix(env),
    customNetworking,
    eniConfigLabelDef: str(env, "ENI_CONFIG_LABEL_DEF", "k8s.amazonaws.com/eniConfig"),
    eniConfigAnnotationDef: str(env, "ENI_CONFIG_ANNOTATION_DEF", "k8s.amazonaws.com/eniConfig"),
    podLeakGraceMs: (int(env, "POD_LEAK_GRACE_PERIOD", 0) ?? 600) * 1000,
    ipamdSocket: str(env, "IPAMD_SOCKET", IPAMD_SOCKET_DEFAULT),
    // Upstream: no leaked-ENI GC when ipamd provisions no ENIs (it would delete what it does not own).
    disableLeakedEniCleanup: disableEniProvisioning || bool(env, "DISABLE_LEAKED_ENI_CLEANUP", false),
    additionalEniTags: eniTags(env),
    manageEnisNonSchedulable: bool(env, "AWS_MANAGE_ENIS_NON_SCHEDULABLE", false),
    manageUntaggedEni: bool(env, "MANAGE_UNTAGGED_ENI", true),
    nodePortSupport: bool(env, "AWS_VPC_CNI_NODE_PORT_SUPPORT", true),
    connmark: connmark(env),
    externalServiceCidrs: cidrList(env, "AWS_EXTERNAL_SERVICE_CIDRS"),
    disableEniProvisioning,
    imdsOnly,
    annotatePodIp: bool(env, "ANNOTATE_POD_IP", false),
    clusterEndpoint: clusterEndpoint(env),
    enableBandwidthPlugin: bool(env, "ENABLE_BANDWIDTH_PLUGIN", false),
    enableIpv4,
    enableIpv6: !enableIpv4,
    enableV4Egress: bool(env, "ENABLE_V4_EGRESS", true),
  };
}

/**
 * IPv6 mode's rules (upstream's isConfigValid): pods' addresses come from a /80 prefix, so prefix delegation
 * must be on; custom networking (pods on other subnets' ENIs) is not supported.
 */
function ipv6Rules(env: Env, prefixDelegation: boolean, customNetworking: boolean): void {
  if (!prefixDelegation) {
    throw new ConfigError(
      "ENABLE_PREFIX_DELEGATION",
      env.ENABLE_PREFIX_DELEGATION ?? "",
      "true when ENABLE_IPv6=true: IPv6 pods come from a /80 prefix (IPv6 needs prefix delegation)",
    );
  }
  if (customNetworking) {
    throw new ConfigError(
      "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
      env.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG ?? "",
      "false when ENABLE_IPv6=true: custom networking is not supported in IPv6 mode",
    );
  }
}

/**
 * ENABLE_IPv4 against ENABLE_IPv6: exactly one family, as upstream's isConfigValid. ENABLE_IPv4 defaults to true
 * (upstream's manifest and README), or to false when only ENABLE_IPv6=true is set.
 */
function ipv4Mode(env: Env): boolean {
  const v6 = bool(env, "ENABLE_IPv6", false);
  const v4 = bool(env, "ENABLE_IPv4", !v6);
  if (v4 && v6) {
    throw new ConfigError(
      "ENABLE_IPv4",
      env.ENABLE_IPv4 ?? "",
      "false when ENABLE_IPv6=true: dual stack is not supported",
    );
  }
  if (!v4 && !v6) {
    throw new ConfigError(
      "ENABLE_IPv4",
      env.ENABLE_IPv4 ?? "",
      "true: IPv4 and IPv6 are both disabled, one must be on",
    );
  }
  return v4;
}
