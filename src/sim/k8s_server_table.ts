/**
 * Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for (`Accept: ...;as=Table`), so
 * the lab's objects show their useful columns (pod IP and node, node readiness, ENIConfig subnet).
 */

import type { Collection, KubeObject } from "./k8s_collections.ts";

interface Column {
  name: string;
  type: "string" | "integer" | "date";
  format?: string;
  priority?: number;
  cell: (o: KubeObject, now: Date) => string | number;
}

// deno-lint-ignore no-explicit-any -- loose reads of object fields
type Loose = any;

const age: Column = {
  name: "Age",
  type: "string",
  cell: (o, now) => humanAge(o.metadata.creationTimestamp, now),
};
const name: Column = { name: "Name", type: "string", format: "name", cell: (o) => o.metadata.name };

const COLUMNS: Record<Collection, Column[]> = {
  pods: [
    name,
    {
      name: "Status",
      type: "string",
      cell: (o) => (o.metadata.deletionTimestamp ? "Terminating" : (o as Loose).status?.phase ?? "Pending"),
    },
    age,
    { name: "IP", type: "string", priority: 1, cell: (o) => (o as Loose).status?.podIP ?? "<none>" },
    { name: "Node", type: "string", priority: 1, cell: (o) => (o as Loose).spec?.nodeName ?? "<none>" },
  ],
  nodes: [
    name,
    {
      name: "Status",
      type: "string",
      cell: (o) => {
        const ready = ((o as Loose).status?.conditions ?? []).find((c: Loose) => c.type === "Ready");
        return ready?.status === "True" ? "Ready" : "NotReady";
      },
    },
    age,
    { name: "Version", type: "string", cell: (o) => (o as Loose).status?.nodeInfo?.kubeletVersion ?? "" },
    {
      name: "Internal-IP",
      type: "string",
      priority: 1,
      cell: (o) =>
        ((o as Loose).status?.addresses ?? []).find((a: Loose) => a.type === "InternalIP")?.address ??
          "<none>",
    },
    {
      name: "Provider-ID",
      type: "string",
      priority: 1,
      cell: (o) => (o as Loose).spec?.providerID ?? "<none>",
    },
  ],
  eniconfigs: [
    name,
    { name: "Subnet", type: "string", cell: (o) => (o as Loose).spec?.subnet ?? "" },
    {
      name: "Security-Groups",
      type: "string",
      cell: (o) => ((o as Loose).spec?.securityGroups ?? []).join(",") || "<none>",
    },
    age,
  ],
  events: [
    { name: "Last Seen", type: "string", cell: (o, now) => humanAge((o as Loose).lastTimestamp, now) },
    { name: "Type", type: "string", cell: (o) => (o as Loose).type ?? "" },
    { name: "Reason", type: "string", cell: (o) => (o as Loose).reason ?? "" },
    {
      name: "Object",
      type: "string",
      cell: (o) =>
        `${String((o as Loose).involvedObject?.kind ?? "").toLowerCase()}/${
          (o as Loose).involvedObject?.name ?? ""
        }`,
    },
    { name: "Message", type: "string", cell: (o) => (o as Loose).message ?? "" },
  ],
};

/** True when the Accept header prefers a meta.k8s.io Table. */
export function wantsTable(accept: string | null): boolean {
  if (!accept) return false;
  const first = accept.split(",")[0].toLowerCase().replaceAll(" ", "");
  return first.includes("as=table") && first.includes("g=meta.k8s.io");
}

/** Renders objects as a `meta.k8s.io/v1` Table, rows carrying PartialObjectMetadata. */
export function renderTable(
  collection: Collection,
  items: KubeObject[],
  listMeta: Record<string, unknown>,
  now = new Date(),
): Record<string, unknown> {
  const cols = COLUMNS[collection];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: "",
      priority: c.priority ?? 0,
    })),
    rows: items.map((o) => ({
      cells: cols.map((c) => c.cell(o, now)),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
    })),
  };
}

/** kubectl-style short age: 45s, 5m12s, 42m, 3h5m, 20h, 6d. */
export function humanAge(since: string | undefined, now: Date): string {
  if (!since) return "<unknown>";
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  if (Number.isNaN(s)) return "<unknown>";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
