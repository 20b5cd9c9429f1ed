/**
 * ipamd's effective settings as environment variables again (`/v1/ipamd-env-settings`).
 * @module
 */
import type { IpamdConfig } from "./config.ts";

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
    ADDITIONAL_ENI_TAGS: JSON.stringify(c.additionalEniTags),
    AWS_MANAGE_ENIS_NON_SCHEDULABLE: String(c.manageEnisNonSchedulable),
    MANAGE_UNTAGGED_ENI: String(c.manageUntaggedEni),
    AWS_VPC_CNI_NODE_PORT_SUPPORT: String(c.nodePortSupport),
    AWS_VPC_K8S_CNI_CONNMARK: `0x${c.connmark.toString(16)}`,
    AWS_EXTERNAL_SERVICE_CIDRS: c.externalServiceCidrs.join(","),
    DISABLE_NETWORK_RESOURCE_PROVISIONING: String(c.disableEniProvisioning),
    ENABLE_IMDS_ONLY_MODE: String(c.imdsOnly),
    ANNOTATE_POD_IP: String(c.annotatePodIp),
    CLUSTER_ENDPOINT: c.clusterEndpoint ?? "",
    ENABLE_BANDWIDTH_PLUGIN: String(c.enableBandwidthPlugin),
    ENABLE_IPv4: String(c.enableIpv4),
    ENABLE_IPv6: String(c.enableIpv6),
    ENABLE_V4_EGRESS: String(c.enableV4Egress),
  };
}
