/**
 * Every environment variable upstream amazon-vpc-cni-k8s documents (README, manifest, and the few its code
 * reads undocumented), and what vpc-cni does with each:
 *
 * - `implemented`: behaves as upstream documents it (parsed and validated in config.ts, install.ts or
 *   subnet_select.ts);
 * - `accepted`: upstream's default asks for nothing vpc-cni lacks; a set value is logged with what it means;
 * - `refused`: upstream's default is accepted (and logged), a value promising behaviour vpc-cni does not provide
 *   stops ipamd (and `ipamd install`) with a message naming the variable and why.
 *
 * Nothing is ignored silently. README.md's variable table is checked against this list (tests/manifest_test.ts).
 * @module
 */
import { ConfigError } from "./config.ts";

/** How vpc-cni treats one upstream variable. */
export type Support = "implemented" | "accepted" | "refused";

/** One upstream variable. */
export interface UpstreamVariable {
  name: string;
  /** Upstream's default ("" = unset). */
  upstreamDefault: string;
  support: Support;
  /** For `accepted` and `refused`: what a set value means here (logged at start-up). */
  note?: string;
  /** For `refused`: why a value is refused, or undefined when the value is fine. */
  refuse?: (value: string) => string | undefined;
  /** Another helper's issue implements it (the table says so). */
  owner?: string;
}

const isTrue = (v: string) => ["true", "1"].includes(v.trim().toLowerCase());

/** A boolean whose `true` promises what vpc-cni does not do. */
function refusedWhenTrue(why: string): (v: string) => string | undefined {
  return (v) => {
    const s = v.trim().toLowerCase();
    if (!["true", "false", "1", "0"].includes(s)) return "expected true or false";
    return isTrue(s) ? why : undefined;
  };
}

/** Upstream's variables, A–Z. */
export const UPSTREAM_VARIABLES: readonly UpstreamVariable[] = [
  { name: "ADDITIONAL_ENI_TAGS", upstreamDefault: "{}", support: "implemented" },
  { name: "ANNOTATE_POD_IP", upstreamDefault: "false", support: "implemented" },
  { name: "AWS_EC2_ENDPOINT", upstreamDefault: "", support: "implemented" },
  { name: "AWS_EXTERNAL_SERVICE_CIDRS", upstreamDefault: "", support: "implemented" },
  { name: "AWS_MANAGE_ENIS_NON_SCHEDULABLE", upstreamDefault: "false", support: "implemented" },
  { name: "AWS_VPC_CNI_NODE_PORT_SUPPORT", upstreamDefault: "true", support: "implemented" },
  { name: "AWS_VPC_ENI_MTU", upstreamDefault: "9001", support: "implemented" },
  {
    name: "AWS_VPC_K8S_CNI_BACKING_STORE",
    upstreamDefault: "/var/run/aws-node/ipam.json",
    support: "implemented",
  },
  {
    name: "AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER",
    upstreamDefault: "true",
    support: "accepted",
    note: "deprecated upstream since v1.12.1 and a no-op there too: the init container always sets " +
      "rp_filter=2 (loose) on the primary interface",
  },
  { name: "AWS_VPC_K8S_CNI_CONNMARK", upstreamDefault: "0x80", support: "implemented" },
  { name: "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", upstreamDefault: "false", support: "implemented" },
  { name: "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", upstreamDefault: "", support: "implemented" },
  { name: "AWS_VPC_K8S_CNI_EXTERNALSNAT", upstreamDefault: "false", support: "implemented" },
  { name: "AWS_VPC_K8S_CNI_LOGLEVEL", upstreamDefault: "DEBUG", support: "implemented" },
  {
    name: "AWS_VPC_K8S_CNI_LOG_FILE",
    upstreamDefault: "/host/var/log/aws-routed-eni/ipamd.log",
    support: "implemented",
  },
  { name: "AWS_VPC_K8S_CNI_RANDOMIZESNAT", upstreamDefault: "prng", support: "implemented" },
  { name: "AWS_VPC_K8S_CNI_VETHPREFIX", upstreamDefault: "eni", support: "implemented" },
  {
    name: "AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE",
    upstreamDefault: "/var/log/aws-routed-eni/egress-v4-plugin.log",
    support: "implemented",
  },
  {
    name: "AWS_VPC_K8S_EGRESS_V6_PLUGIN_LOG_FILE",
    upstreamDefault: "/var/log/aws-routed-eni/egress-v6-plugin.log",
    support: "accepted",
    note: "only used with ENABLE_V6_EGRESS=true, which is refused",
  },
  {
    name: "AWS_VPC_K8S_PLUGIN_LOG_FILE",
    upstreamDefault: "/var/log/aws-routed-eni/plugin.log",
    support: "implemented",
  },
  { name: "AWS_VPC_K8S_PLUGIN_LOG_LEVEL", upstreamDefault: "DEBUG", support: "implemented" },
  { name: "CLUSTER_ENDPOINT", upstreamDefault: "", support: "implemented" },
  { name: "CLUSTER_NAME", upstreamDefault: "", support: "implemented" },
  { name: "DISABLE_INTROSPECTION", upstreamDefault: "false", support: "implemented" },
  { name: "DISABLE_LEAKED_ENI_CLEANUP", upstreamDefault: "false", support: "implemented" },
  { name: "DISABLE_METRICS", upstreamDefault: "false", support: "implemented" },
  { name: "DISABLE_NETWORK_RESOURCE_PROVISIONING", upstreamDefault: "false", support: "implemented" },
  {
    name: "DISABLE_POD_V6",
    upstreamDefault: "false",
    support: "refused",
    note: "false: pods keep the IPv6 sysctls the runtime gives them, as upstream's default",
    refuse: refusedWhenTrue("the tuning plugin that disables IPv6 inside pods is not chained by vpc-cni"),
  },
  { name: "DISABLE_TCP_EARLY_DEMUX", upstreamDefault: "false", support: "implemented" },
  { name: "ENABLE_BANDWIDTH_PLUGIN", upstreamDefault: "false", support: "implemented" },
  { name: "ENABLE_IMDS_ONLY_MODE", upstreamDefault: "false", support: "implemented" },
  { name: "ENABLE_IPv4", upstreamDefault: "true", support: "implemented" },
  { name: "ENABLE_IPv6", upstreamDefault: "false", support: "implemented" },
  {
    name: "ENABLE_MULTI_NIC",
    upstreamDefault: "false",
    support: "refused",
    note: "false: ENIs on network card 0 only, as upstream's default",
    refuse: refusedWhenTrue("vpc-cni manages network card 0 only; multi-NIC pods are not supported"),
  },
  {
    name: "ENABLE_NFTABLES",
    upstreamDefault: "false",
    support: "accepted",
    note:
      "deprecated upstream since v1.13.2; the iptables backend (legacy or nft) is detected from the rules " +
      "already on the node, as upstream's image does",
  },
  {
    name: "ENABLE_POD_ENI",
    upstreamDefault: "false",
    support: "refused",
    note: "false: no security groups for pods, as upstream's default",
    refuse: refusedWhenTrue("security groups for pods (trunk and branch ENIs) are not implemented"),
  },
  { name: "ENABLE_PREFIX_DELEGATION", upstreamDefault: "false", support: "implemented" },
  { name: "ENABLE_SUBNET_DISCOVERY", upstreamDefault: "true", support: "implemented" },
  { name: "ENABLE_V4_EGRESS", upstreamDefault: "true", support: "implemented" },
  {
    name: "ENABLE_V6_EGRESS",
    upstreamDefault: "false",
    support: "refused",
    note: "false: IPv4 pods get no IPv6 egress interface, as upstream's default",
    refuse: refusedWhenTrue(
      "IPv6 egress for IPv4 pods is not supported (egress-cni gives IPv6 clusters' pods IPv4 egress only)",
    ),
  },
  {
    name: "ENI_CONFIG_ANNOTATION_DEF",
    upstreamDefault: "k8s.amazonaws.com/eniConfig",
    support: "implemented",
  },
  { name: "ENI_CONFIG_LABEL_DEF", upstreamDefault: "k8s.amazonaws.com/eniConfig", support: "implemented" },
  { name: "HOST_CNI_BIN_PATH", upstreamDefault: "/host/opt/cni/bin", support: "implemented" },
  { name: "HOST_CNI_CONFDIR_PATH", upstreamDefault: "/host/etc/cni/net.d", support: "implemented" },
  { name: "INTROSPECTION_BIND_ADDRESS", upstreamDefault: "127.0.0.1:61679", support: "implemented" },
  { name: "IP_COOLDOWN_PERIOD", upstreamDefault: "30", support: "implemented" },
  { name: "MANAGE_UNTAGGED_ENI", upstreamDefault: "true", support: "implemented" },
  { name: "MAX_ENI", upstreamDefault: "", support: "implemented" },
  { name: "MINIMUM_IP_TARGET", upstreamDefault: "", support: "implemented" },
  { name: "MY_NODE_NAME", upstreamDefault: "", support: "implemented" },
  {
    name: "MY_POD_NAME",
    upstreamDefault: "",
    support: "accepted",
    note: "informational (upstream's manifest sets it from metadata.name); ipamd does not need it",
  },
  {
    name: "NETWORK_POLICY_ENFORCING_MODE",
    upstreamDefault: "standard",
    support: "refused",
    note: "standard (or none): no policy agent runs, so pods are reachable until a NetworkPolicy agent " +
      "enforces one, which is what standard mode means with no policies",
    refuse: (v) => {
      const s = v.trim().toLowerCase();
      if (s === "standard" || s === "none") return undefined;
      if (s === "strict") {
        return "strict mode denies pod traffic until a policy agent allows it, and vpc-cni runs no policy agent";
      }
      return "expected standard, strict or none";
    },
  },
  { name: "POD_MTU", upstreamDefault: "9001", support: "implemented" },
  {
    name: "POD_SECURITY_GROUP_ENFORCING_MODE",
    upstreamDefault: "strict",
    support: "accepted",
    note: "only applies with ENABLE_POD_ENI=true, which vpc-cni refuses",
  },
  {
    name: "VPC_CNI_VERSION",
    upstreamDefault: "",
    support: "accepted",
    note:
      "informational (upstream's manifest sets the image version); ipamd reports its own in awscni_build_info",
  },
  {
    name: "VPC_ID",
    upstreamDefault: "",
    support: "accepted",
    note: "informational (upstream's manifest may set it); ipamd reads the VPC from IMDS",
  },
  { name: "WARM_ENI_TARGET", upstreamDefault: "1", support: "implemented" },
  { name: "WARM_IP_TARGET", upstreamDefault: "", support: "implemented" },
  { name: "WARM_PREFIX_TARGET", upstreamDefault: "", support: "implemented" },
];

/**
 * Checks the upstream variables that vpc-cni accepts or refuses: throws {@link ConfigError} for a refused value;
 * returns one line per accepted variable that is set, saying what it means here (for the start-up log).
 * Implemented variables are validated where they are parsed. Pure.
 */
export function checkUpstreamEnv(env: Record<string, string | undefined>): string[] {
  const notes: string[] = [];
  for (const v of UPSTREAM_VARIABLES) {
    if (v.support === "implemented") continue;
    const value = env[v.name];
    if (value === undefined || value.trim() === "") continue;
    const why = v.refuse?.(value);
    if (why !== undefined) throw new ConfigError(v.name, value, `a value vpc-cni supports: ${why}`);
    notes.push(`${v.name}=${JSON.stringify(value)}: ${v.note}`);
  }
  return notes;
}
