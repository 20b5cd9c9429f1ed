/**
 * The lab's Kubernetes store: the generic object store (k8s_object_store.ts) plus what the lab itself does
 * to each resource, as a kubelet, the scheduler or an operator would: nodes, pods, ENIConfigs and events.
 */

import type { KubeObject } from "./k8s_collections.ts";
import { kubeletNodeStatus, type NodeCapacityInput } from "./k8s_node_status.ts";
import { KubeObjectStore } from "./k8s_object_store.ts";

/** Label/annotation changes: a `null` value removes the key. */
export type MapPatch = Record<string, string | null>;

/** The store with the lab's per-resource helpers. */
export class KubeStore extends KubeObjectStore {
  /** Adds a Ready node, as its kubelet registers it. */
  addNode(
    name: string,
    o: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      providerID?: string;
      internalIP?: string;
      /** What the kubelet reports as capacity (`--max-pods`, vCPUs); none when unset. */
      capacity?: NodeCapacityInput;
    } = {},
  ): KubeObject {
    const status = kubeletNodeStatus(name, {
      internalIP: o.internalIP,
      now: this.timestamp(),
      capacity: o.capacity,
    });
    return this.create("nodes", {
      metadata: {
        name,
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...(o.labels ?? {}) },
        annotations: { ...(o.annotations ?? {}) },
      },
      spec: o.providerID ? { providerID: o.providerID } : {},
      status,
    });
  }

  /** Changes a node's labels/annotations (`null` removes a key). */
  patchNode(name: string, p: { labels?: MapPatch; annotations?: MapPatch }): KubeObject {
    return this.patch("nodes", undefined, name, (n) => {
      n.metadata.labels = applyMapPatch(n.metadata.labels, p.labels);
      n.metadata.annotations = applyMapPatch(n.metadata.annotations, p.annotations);
      return n;
    });
  }

  /** Removes a node. */
  deleteNode(name: string): KubeObject {
    return this.delete("nodes", undefined, name).object;
  }

  /** Creates a Pending pod scheduled on `nodeName`. */
  createPod(
    o: {
      namespace: string;
      name: string;
      nodeName: string;
      uid?: string;
      labels?: Record<string, string>;
      hostNetwork?: boolean;
    },
  ): KubeObject {
    return this.create("pods", {
      metadata: { name: o.name, namespace: o.namespace, labels: o.labels ?? {} },
      spec: {
        nodeName: o.nodeName,
        containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }],
        ...(o.hostNetwork ? { hostNetwork: true } : {}),
      },
      status: { phase: "Pending" },
    }, { uid: o.uid });
  }

  /** Sets (or clears, with undefined) a pod's IP and its phase (default Running when set, Pending when cleared). */
  setPodIp(namespace: string, name: string, ip: string | undefined, phase?: string): KubeObject {
    return this.patch("pods", namespace, name, (p) => {
      const st = { ...((p.status as Record<string, unknown>) ?? {}) };
      if (ip) {
        st.podIP = ip;
        st.podIPs = [{ ip }];
      } else {
        delete st.podIP;
        delete st.podIPs;
      }
      st.phase = phase ?? (ip ? "Running" : "Pending");
      p.status = st;
      return p;
    }, { subresource: "status" });
  }

  /** Deletes a pod; `graceful` only marks it (deletionTimestamp) as the API server does for a running pod. */
  deletePod(namespace: string, name: string, o: { graceful?: boolean } = {}): KubeObject {
    return this.delete("pods", namespace, name, { graceful: o.graceful }).object;
  }

  /** Creates or replaces an ENIConfig. */
  putEniConfig(name: string, spec: { subnet: string; securityGroups?: string[] }): KubeObject {
    const body = { subnet: spec.subnet, securityGroups: [...(spec.securityGroups ?? [])] };
    const cur = this.get("eniconfigs", undefined, name);
    if (!cur) return this.create("eniconfigs", { metadata: { name }, spec: body });
    return this.update("eniconfigs", { ...cur, spec: body });
  }

  /** Deletes an ENIConfig (404 if absent). */
  deleteEniConfig(name: string): KubeObject {
    return this.delete("eniconfigs", undefined, name).object;
  }

  /** Records a core/v1 Event. */
  createEvent(
    o: {
      namespace?: string;
      involvedObject: { kind: string; name: string; namespace?: string; uid?: string; apiVersion?: string };
      reason: string;
      message: string;
      type?: "Normal" | "Warning";
      source?: { component?: string; host?: string };
    },
  ): KubeObject {
    const ts = this.timestamp();
    return this.create("events", {
      metadata: { generateName: `${o.involvedObject.name}.`, namespace: o.namespace ?? "default" },
      involvedObject: o.involvedObject,
      reason: o.reason,
      message: o.message,
      type: o.type ?? "Normal",
      source: o.source ?? {},
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
    });
  }

  /** A node, or undefined. */
  getNode(name: string): KubeObject | undefined {
    return this.get("nodes", undefined, name);
  }

  /** All nodes. */
  listNodes(): KubeObject[] {
    return this.list("nodes").items;
  }

  /** A pod, or undefined. */
  getPod(namespace: string, name: string): KubeObject | undefined {
    return this.get("pods", namespace, name);
  }

  /** Pods, optionally only those on a node and/or in a namespace. */
  listPods(o: { nodeName?: string; namespace?: string } = {}): KubeObject[] {
    return this.list("pods", {
      namespace: o.namespace,
      fieldSelector: o.nodeName !== undefined ? `spec.nodeName=${o.nodeName}` : undefined,
    }).items;
  }

  /** An ENIConfig, or undefined. */
  getEniConfig(name: string): KubeObject | undefined {
    return this.get("eniconfigs", undefined, name);
  }

  /** All ENIConfigs. */
  listEniConfigs(): KubeObject[] {
    return this.list("eniconfigs").items;
  }

  /** Events, optionally about one object and/or with one reason. */
  listEvents(o: { involvedName?: string; reason?: string; namespace?: string } = {}): KubeObject[] {
    const sel: string[] = [];
    if (o.involvedName !== undefined) sel.push(`involvedObject.name=${o.involvedName}`);
    if (o.reason !== undefined) sel.push(`reason=${o.reason}`);
    return this.list("events", { namespace: o.namespace, fieldSelector: sel.join(",") }).items;
  }
}

/** Applies a label/annotation patch (`null` removes). */
export function applyMapPatch(
  cur: Record<string, string> | undefined,
  p: MapPatch | undefined,
): Record<string, string> {
  const out = { ...(cur ?? {}) };
  for (const [k, v] of Object.entries(p ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}
