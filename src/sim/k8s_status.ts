/**
 * Kubernetes `Status` failures: the error type the lab's store and API server throw, and the builders for the
 * usual reasons (NotFound, AlreadyExists, Conflict, Invalid, BadRequest) with the API server's messages.
 */

import { type Collection, type CollectionInfo, COLLECTIONS } from "./k8s_collections.ts";

/** A Kubernetes `Status` object (what the server answers on errors and some deletes). */
export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { message: string; field?: string; reason?: string }[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** A failure the API server reports as a `Status` with `code` and `reason` (NotFound, AlreadyExists, ...). */
export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: KubeStatus["details"],
  ) {
    super(message);
    this.name = "KubeStatusError";
  }

  /** The `Status` object for this failure. */
  toStatus(): KubeStatus {
    const s: KubeStatus = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** The resource name used in messages (`eniconfigs.crd.k8s.amazonaws.com` for the CRD). */
export function plural(c: Collection): string {
  return c === "eniconfigs" ? "eniconfigs.crd.k8s.amazonaws.com" : c;
}

/** The API group of a collection ("" for core). */
export function groupOf(info: CollectionInfo): string {
  return info.apiVersion.includes("/") ? info.apiVersion.split("/")[0] : "";
}

/** 400 BadRequest. */
export function badRequest(message: string): KubeStatusError {
  return new KubeStatusError(400, "BadRequest", message);
}

/** 404 NotFound for one object. */
export function notFound(collection: Collection, name: string): KubeStatusError {
  return new KubeStatusError(404, "NotFound", `${plural(collection)} "${name}" not found`, {
    name,
    group: groupOf(COLLECTIONS[collection]),
    kind: collection,
  });
}

/** 409 AlreadyExists. */
export function alreadyExists(collection: Collection, name: string): KubeStatusError {
  return new KubeStatusError(409, "AlreadyExists", `${plural(collection)} "${name}" already exists`, {
    name,
    group: groupOf(COLLECTIONS[collection]),
    kind: collection,
  });
}

/** 409 Conflict (a failed precondition). */
export function conflict(collection: Collection, name: string, why: string): KubeStatusError {
  return new KubeStatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${plural(collection)} "${name}": ${why}`,
    { name, group: groupOf(COLLECTIONS[collection]), kind: collection },
  );
}

/** 422 Invalid, naming the field. */
export function invalid(kind: string, name: string, field: string, message: string): KubeStatusError {
  return new KubeStatusError(422, "Invalid", `${kind} "${name}" is invalid: ${field}: ${message}`, {
    name,
    kind,
    causes: [{ field, message }],
  });
}
