/**
 * What the lab's API server checks on every write, per resource: metadata label/annotation maps, a pod's
 * containers, an ENIConfig's spec types. Failures are 422 Invalid naming the field.
 */

import { type Collection, COLLECTIONS, type KubeObject } from "./k8s_collections.ts";
import { invalid } from "./k8s_status.ts";

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks an object's name is a lowercase RFC 1123 subdomain. */
export function validateName(kind: string, name: string): void {
  if (!NAME_RE.test(name) || name.length > 253) {
    throw invalid(kind, name, "metadata.name", "a lowercase RFC 1123 subdomain must be used");
  }
}

/** Validates an object about to be stored; drops null label/annotation maps. */
export function validateObject(collection: Collection, obj: KubeObject): void {
  const kind = COLLECTIONS[collection].kind;
  validateStringMaps(kind, obj);
  if (collection === "pods") validatePod(kind, obj);
  if (collection === "eniconfigs") validateEniConfig(kind, obj);
}

function validateStringMaps(kind: string, obj: KubeObject): void {
  for (const f of ["labels", "annotations"] as const) {
    const m = obj.metadata[f];
    if (m === undefined || m === null) {
      delete obj.metadata[f];
      continue;
    }
    if (typeof m !== "object" || Array.isArray(m) || Object.values(m).some((v) => typeof v !== "string")) {
      throw invalid(kind, obj.metadata.name, `metadata.${f}`, "must be a map of strings");
    }
  }
}

function validatePod(kind: string, obj: KubeObject): void {
  const spec = obj.spec as { containers?: unknown } | undefined;
  if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0) {
    throw invalid(kind, obj.metadata.name, "spec.containers", "Required value");
  }
}

function validateEniConfig(kind: string, obj: KubeObject): void {
  const name = obj.metadata.name;
  const spec = obj.spec as { subnet?: unknown; securityGroups?: unknown } | undefined;
  if (spec !== undefined && (typeof spec !== "object" || spec === null)) {
    throw invalid(kind, name, "spec", "must be an object");
  }
  if (spec?.subnet !== undefined && typeof spec.subnet !== "string") {
    throw invalid(kind, name, "spec.subnet", "must be of type string");
  }
  if (
    spec?.securityGroups !== undefined &&
    (!Array.isArray(spec.securityGroups) || spec.securityGroups.some((g) => typeof g !== "string"))
  ) {
    throw invalid(kind, name, "spec.securityGroups", "must be an array of strings");
  }
}
