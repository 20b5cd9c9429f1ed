/**
 * A list/watch filter (namespace, field and label selectors) and how a stored change looks through it: an
 * object that starts matching arrives as ADDED, one that stops matching as DELETED.
 */

import { type Collection, COLLECTIONS, type KubeObject, type WatchEvent } from "./k8s_collections.ts";
import {
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from "./k8s_store_selector.ts";
import { badRequest } from "./k8s_status.ts";

/** A parsed filter. */
export interface Filter {
  namespace?: string;
  fields: FieldRequirement[];
  labels: LabelRequirement[];
}

/** One stored change, with the object before it (for MODIFIED and DELETED). */
export interface Change {
  type: WatchEvent["type"];
  object: KubeObject;
  prev?: KubeObject;
}

/** Parses a filter for a collection (400 BadRequest on a bad selector or unsupported field label). */
export function parseFilter(
  collection: Collection,
  o: { namespace?: string; fieldSelector?: string; labelSelector?: string },
): Filter {
  try {
    return {
      namespace: COLLECTIONS[collection].namespaced && o.namespace ? o.namespace : undefined,
      fields: parseFieldSelector(o.fieldSelector, COLLECTIONS[collection].fieldLabels),
      labels: parseLabelSelector(o.labelSelector),
    };
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

/** Whether an object passes the filter. */
export function matchesFilter(o: KubeObject, f: Filter): boolean {
  if (f.namespace !== undefined && o.metadata.namespace !== f.namespace) return false;
  return matchesFields(o, f.fields) && matchesLabels(o.metadata.labels, f.labels);
}

/** The event a watcher with this filter sees for a change, or undefined when it sees none. */
export function projectChange(h: Change, f: Filter): WatchEvent | undefined {
  const now = matchesFilter(h.object, f);
  if (h.type === "ADDED") return now ? { type: "ADDED", object: h.object } : undefined;
  if (h.type === "DELETED") return now ? { type: "DELETED", object: h.object } : undefined;
  const before = h.prev !== undefined && matchesFilter(h.prev, f);
  if (before && now) return { type: "MODIFIED", object: h.object };
  if (!before && now) return { type: "ADDED", object: h.object };
  if (before && !now) return { type: "DELETED", object: h.object };
  return undefined;
}
