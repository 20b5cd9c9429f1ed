/**
 * The Kubernetes resources the lab serves, as data: object and watch-event shapes, and per collection its
 * kind, apiVersion, scope and the field labels its selectors may use.
 */

/** The collections the store keeps. */
export type Collection = "nodes" | "pods" | "eniconfigs" | "events";

/** Object metadata as the API server returns it. */
export interface ObjectMeta {
  name: string;
  generateName?: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  [k: string]: unknown;
}

/** Any stored object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

/** What `create` accepts: any object whose metadata may lack the server-set fields. */
export interface NewObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Partial<ObjectMeta>;
  [k: string]: unknown;
}

/** A watch event as streamed by the API server. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
}

/** What a collection is: kind, apiVersion, scope and the field labels its selectors may use. */
export interface CollectionInfo {
  kind: string;
  listKind: string;
  apiVersion: string;
  namespaced: boolean;
  fieldLabels: readonly string[];
}

/** The collections' descriptions. */
export const COLLECTIONS: Readonly<Record<Collection, CollectionInfo>> = {
  nodes: {
    kind: "Node",
    listKind: "NodeList",
    apiVersion: "v1",
    namespaced: false,
    fieldLabels: ["metadata.name", "spec.unschedulable"],
  },
  pods: {
    kind: "Pod",
    listKind: "PodList",
    apiVersion: "v1",
    namespaced: true,
    fieldLabels: [
      "metadata.name",
      "metadata.namespace",
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  },
  eniconfigs: {
    kind: "ENIConfig",
    listKind: "ENIConfigList",
    apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
    namespaced: false,
    fieldLabels: ["metadata.name", "metadata.namespace"],
  },
  events: {
    kind: "Event",
    listKind: "EventList",
    apiVersion: "v1",
    namespaced: true,
    fieldLabels: [
      "metadata.name",
      "metadata.namespace",
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type",
    ],
  },
};
