/**
 * `10-aws.conflist`, as upstream's aws-node writes it: aws-cni, then (IPv6 mode) egress-cni, then the meta
 * plugins installed beside them: portmap, and bandwidth when ENABLE_BANDWIDTH_PLUGIN=true. Pure.
 * @module
 */
import { IPAMD_SOCKET_DEFAULT } from "../cni/api.ts";
import { ConfigError, type IpamdConfig } from "./config.ts";
import { EGRESS_V4_SUBNET } from "./ipv6_mode.ts";

/** The conflist file name (upstream's). */
export const CONFLIST_NAME = "10-aws.conflist";

/** Where egress-cni keeps its host-local-style IPAM state in IPv6 mode (upstream's). */
export const EGRESS_V4_DATA_DIR = "/run/cni/v6pd/egress-v4-ipam";

/**
 * The `10-aws.conflist` for these settings: aws-cni, then (IPv6 mode) egress-cni, then portmap when installed,
 * then bandwidth with ENABLE_BANDWIDTH_PLUGIN=true (its `bandwidth` capability takes the runtime's
 * `kubernetes.io/ingress-bandwidth` / `egress-bandwidth` values, as upstream's conflist).
 * IPv6 mode needs `nodeIp`, the node's primary IPv4, which egress-cni SNATs pods' IPv4 traffic to, and takes
 * `iptablesBackend`, the backend ipamd's rules are in (ours: egress-cni puts its SNAT there instead of running
 * the host's `iptables`, which may be the other backend; upstream's egress-cni has no such key).
 */
export function renderConflist(
  c: IpamdConfig,
  o: {
    cniVersion?: string;
    withPortmap: boolean;
    env: Record<string, string | undefined>;
    nodeIp?: string;
    iptablesBackend?: "legacy" | "nft";
  },
): Record<string, unknown> {
  const level = o.env.AWS_VPC_K8S_PLUGIN_LOG_LEVEL?.trim() || "DEBUG";
  if (!["debug", "info", "warn", "warning", "error"].includes(level.toLowerCase())) {
    throw new ConfigError("AWS_VPC_K8S_PLUGIN_LOG_LEVEL", level, "one of DEBUG, INFO, WARN, ERROR");
  }
  const plugins: Record<string, unknown>[] = [{
    name: "aws-cni",
    type: "aws-cni",
    vethPrefix: c.vethPrefix,
    mtu: String(c.podMtu),
    pluginLogFile: o.env.AWS_VPC_K8S_PLUGIN_LOG_FILE?.trim() || "/var/log/aws-routed-eni/plugin.log",
    pluginLogLevel: level,
    ...(c.ipamdSocket !== IPAMD_SOCKET_DEFAULT ? { ipamdSocket: c.ipamdSocket } : {}),
  }];
  if (c.enableIpv6) {
    if (!o.nodeIp) throw new Error("IPv6 mode: egress-cni needs the node's IPv4 address (nodeIp)");
    plugins.push({
      name: "egress-cni",
      type: "egress-cni",
      mtu: String(c.podMtu),
      enabled: String(c.enableV4Egress),
      randomizeSNAT: c.randomizeSnat,
      nodeIP: o.nodeIp,
      ...(o.iptablesBackend ? { iptablesBackend: o.iptablesBackend } : {}),
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: EGRESS_V4_SUBNET }]],
        routes: [{ dst: "0.0.0.0/0" }],
        dataDir: EGRESS_V4_DATA_DIR,
      },
      pluginLogFile: o.env.AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE?.trim() ||
        "/var/log/aws-routed-eni/egress-v4-plugin.log",
      pluginLogLevel: level,
    });
  }
  if (o.withPortmap) plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
  if (c.enableBandwidthPlugin) plugins.push({ type: "bandwidth", capabilities: { bandwidth: true } });
  return { cniVersion: o.cniVersion ?? "0.4.0", name: "aws-cni", plugins };
}
