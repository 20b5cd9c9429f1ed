/**
 * Pods and Nodes as the API server sends them (raw JSON), read into the port's `PodInfo` and `NodeInfo`.
 * @module
 */
import type { NodeInfo, PodInfo } from "./port.ts";

// deno-lint-ignore no-explicit-any -- raw JSON objects from the API server
export type Raw = any;

/** Converts a Pod (typed or raw JSON) to `PodInfo`. */
export function toPodInfo(p: Raw): PodInfo {
  const info: PodInfo = {
    namespace: p?.metadata?.namespace ?? "",
    name: p?.metadata?.name ?? "",
    uid: p?.metadata?.uid ?? "",
    nodeName: p?.spec?.nodeName ?? "",
    deleting: p?.metadata?.deletionTimestamp !== undefined && p?.metadata?.deletionTimestamp !== null,
  };
  if (p?.status?.podIP) info.podIp = p.status.podIP;
  if (p?.status?.phase) info.phase = p.status.phase;
  return info;
}

/** Converts a Node (typed or raw JSON) to `NodeInfo`. */
export function toNodeInfo(n: Raw): NodeInfo {
  const taints: Raw[] = Array.isArray(n?.spec?.taints) ? n.spec.taints : [];
  const info: NodeInfo = {
    name: n?.metadata?.name ?? "",
    labels: { ...(n?.metadata?.labels ?? {}) },
    annotations: { ...(n?.metadata?.annotations ?? {}) },
    unschedulable: n?.spec?.unschedulable === true ||
      taints.some((t) => t?.key === "node.kubernetes.io/unschedulable" && t?.effect === "NoSchedule"),
  };
  if (n?.spec?.providerID) info.providerId = n.spec.providerID;
  return info;
}

/** What of a Node ipamd reacts to (labels, annotations, providerID, unschedulable), as one comparable string. */
export function nodeChangeKey(info: NodeInfo): string {
  return JSON.stringify([
    sortedEntries(info.labels),
    sortedEntries(info.annotations),
    info.providerId ?? null,
    info.unschedulable,
  ]);
}

function sortedEntries(m: Record<string, string>): [string, string][] {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
