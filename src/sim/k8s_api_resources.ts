/**
 * The REST resources the lab's API server serves (core/v1 nodes, pods, events; events.k8s.io/v1 events;
 * crd.k8s.amazonaws.com/v1alpha1 eniconfigs) and the conversion between a resource's version and the stored
 * shape (events.k8s.io/v1 events are stored as core/v1 events).
 */

import type { Collection, KubeObject } from "./k8s_collections.ts";
import { badRequest } from "./k8s_status.ts";

/** One served REST resource: where it lives, its names and the version objects are presented in. */
export interface Resource {
  base: string;
  plural: string;
  singular: string;
  collection: Collection;
  /** Version the objects are presented in (events.k8s.io converts). */
  apiVersion: string;
  shortNames?: string[];
}

/** Every resource the lab serves. */
export const RESOURCES: Resource[] = [
  {
    base: "/api/v1",
    plural: "nodes",
    singular: "node",
    collection: "nodes",
    apiVersion: "v1",
    shortNames: ["no"],
  },
  {
    base: "/api/v1",
    plural: "pods",
    singular: "pod",
    collection: "pods",
    apiVersion: "v1",
    shortNames: ["po"],
  },
  {
    base: "/api/v1",
    plural: "events",
    singular: "event",
    collection: "events",
    apiVersion: "v1",
    shortNames: ["ev"],
  },
  {
    base: "/apis/events.k8s.io/v1",
    plural: "events",
    singular: "event",
    collection: "events",
    apiVersion: "events.k8s.io/v1",
    shortNames: ["ev"],
  },
  {
    base: "/apis/crd.k8s.amazonaws.com/v1alpha1",
    plural: "eniconfigs",
    singular: "eniconfig",
    collection: "eniconfigs",
    apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
  },
];

/** The verbs discovery lists for every resource. */
export const VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"];

/** core/v1 Event field → events.k8s.io/v1 Event field. */
const EVENT_V1_FIELDS: readonly [core: string, eventsV1: string][] = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["reportingComponent", "reportingController"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
];

/** Presents a stored object in the resource's version (events.k8s.io/v1 events are converted). */
export function present(res: Resource, o: KubeObject): KubeObject {
  if (res.apiVersion !== "events.k8s.io/v1") return o;
  const out = renameFields(o, EVENT_V1_FIELDS.map(([core, v1]) => [core, v1])) as KubeObject;
  out.apiVersion = "events.k8s.io/v1";
  out.kind = "Event";
  return out;
}

/** Converts a request body from the resource's version to the stored (core) shape. */
export function accept(
  res: Resource,
  body: unknown,
): Record<string, unknown> & { metadata?: Record<string, unknown> } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("the request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  if (b.metadata !== undefined && (typeof b.metadata !== "object" || b.metadata === null)) {
    throw badRequest("metadata must be an object");
  }
  if (res.apiVersion !== "events.k8s.io/v1") return { ...b };
  return renameFields(b, EVENT_V1_FIELDS.map(([core, v1]) => [v1, core]));
}

/** A copy of `o` with each `from` field moved to `to` (absent fields stay absent). */
function renameFields(
  o: Record<string, unknown>,
  renames: [from: string, to: string][],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  for (const [from] of renames) delete out[from];
  for (const [from, to] of renames) if (o[from] !== undefined) out[to] = o[from];
  return out;
}

/** Rewrites an events.k8s.io/v1 field selector to the stored (core) field names. */
export function convertSelector(res: Resource, s: string | undefined): string | undefined {
  if (!s || res.apiVersion !== "events.k8s.io/v1") return s;
  return s.replaceAll("regarding.", "involvedObject.").replaceAll(
    "reportingController",
    "reportingComponent",
  );
}
