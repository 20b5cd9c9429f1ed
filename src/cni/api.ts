/** The ipamd socket API shared by aws-cni and ipamd (see docs/ARCHITECTURE.md). Types only, no imports. */

export const IPAMD_SOCKET_DEFAULT = "/var/run/aws-node/ipamd.sock";
export const API_PREFIX = "/v1";

export interface AttachmentKey {
  netName: string;
  containerId: string;
  ifName: string;
}

export interface AddNetworkRequest extends AttachmentKey {
  netns?: string;
  k8sPodNamespace?: string;
  k8sPodName?: string;
  k8sPodUid?: string;
}

export interface AddNetworkReply {
  /** The pod's IPv4 address; "" in IPv6 mode. */
  ipv4: string;
  /** The pod's IPv6 address, in IPv6 mode only (one /128 from the node's /80 prefix). */
  ipv6?: string;
  deviceNumber: number;
  /** 254 (main) for the primary ENI, deviceNumber + 1 otherwise. */
  routeTable: number;
  eniId: string;
  subnetCidr: string;
  vpcCidrs: string[];
  useExternalSnat: boolean;
  mtu: number;
}

export interface DelNetworkReply {
  released: boolean;
  ipv4?: string;
  ipv6?: string;
  deviceNumber?: number;
  routeTable?: number;
}

export interface CheckNetworkReply {
  held: boolean;
  ipv4?: string;
  ipv6?: string;
  deviceNumber?: number;
  routeTable?: number;
}

export interface GcRequest {
  netName: string;
  valid: { containerId: string; ifName: string }[];
}

export interface GcReply {
  /** `ipv4` is "" for an IPv6 pod, whose address is in `ipv6`. */
  released: { containerId: string; ifName: string; ipv4: string; ipv6?: string }[];
}

export type IpamdErrorReason =
  | "max_enis_reached"
  | "subnet_exhausted"
  | "ec2_throttled"
  | "pool_growing"
  /** The pool may not grow now: the node is cordoned, or ENI provisioning is disabled. */
  | "growth_held"
  | "not_ready"
  | "bad_request"
  | "not_found"
  | "internal";

export interface IpamdErrorBody {
  error: { reason: IpamdErrorReason; message: string; retryable: boolean; retryAfterMs?: number };
}
