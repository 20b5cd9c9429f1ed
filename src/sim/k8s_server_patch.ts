/**
 * PATCH bodies as the API server applies them: JSON merge patch (RFC 7386), strategic merge patch (as a merge
 * patch: our objects carry no keyed lists that matter) and JSON patch (RFC 6902). Pure.
 */

/** A patch could not be applied (the server answers 422 for JSON patch, 400 for malformed bodies). */
export class PatchError extends Error {
  constructor(message: string, readonly code: 400 | 422 = 422) {
    super(message);
    this.name = "PatchError";
  }
}

/** The patch content types the server accepts. */
export const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
} as const;

/** Applies a patch body of content type `type` to `target`, returning a new value. */
export function applyPatch(type: string, target: unknown, patch: unknown): unknown {
  const t = type.split(";")[0].trim().toLowerCase();
  if (t === PATCH_TYPES.json) return jsonPatch(target, patch);
  if (t === PATCH_TYPES.merge) return mergePatch(target, patch);
  if (t === PATCH_TYPES.strategic) return mergePatch(target, stripDirectives(patch));
  throw new PatchError(`unsupported patch type: ${type}`, 400);
}

/** RFC 7386: objects merge recursively, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 with add, remove, replace, move, copy and test. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError("json patch must be an array of operations", 400);
  let doc = structuredClone(target);
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== "string" || typeof op.path !== "string") {
      throw new PatchError("invalid json patch operation", 400);
    }
    const path = parsePointer(op.path);
    switch (op.op) {
      case "add":
        doc = put(doc, path, structuredClone(op.value), "add");
        break;
      case "replace":
        doc = put(doc, path, structuredClone(op.value), "replace");
        break;
      case "remove":
        doc = remove(doc, path);
        break;
      case "test":
        if (JSON.stringify(get(doc, path)) !== JSON.stringify(op.value)) {
          throw new PatchError(`testing value ${op.path} failed`);
        }
        break;
      case "move":
      case "copy": {
        if (typeof op.from !== "string") throw new PatchError(`${op.op} needs "from"`, 400);
        const from = parsePointer(op.from);
        const v = structuredClone(get(doc, from));
        if (op.op === "move") doc = remove(doc, from);
        doc = put(doc, path, v, "add");
        break;
      }
      default:
        throw new PatchError(`unknown json patch operation: ${op.op}`, 400);
    }
  }
  return doc;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stripDirectives(p: unknown): unknown {
  if (Array.isArray(p)) return p.map(stripDirectives);
  if (!isObject(p)) return p;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k.startsWith("$")) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function parsePointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw new PatchError(`invalid json pointer: ${p}`, 400);
  return p.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function get(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      const i = Number(seg);
      if (!Number.isInteger(i) || i < 0 || i >= cur.length) {
        throw new PatchError(`no element at /${path.join("/")}`);
      }
      cur = cur[i];
    } else if (isObject(cur) && Object.hasOwn(cur, seg)) {
      cur = cur[seg];
    } else {
      throw new PatchError(`missing path /${path.join("/")}`);
    }
  }
  return cur;
}

function put(doc: unknown, path: string[], value: unknown, mode: "add" | "replace"): unknown {
  if (path.length === 0) return value;
  const parent = get(doc, path.slice(0, -1));
  const last = path[path.length - 1];
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (mode === "replace" && i === parent.length)) {
      throw new PatchError(`bad array index /${path.join("/")}`);
    }
    if (mode === "add") parent.splice(i, 0, value);
    else parent[i] = value;
  } else if (isObject(parent)) {
    if (mode === "replace" && !Object.hasOwn(parent, last)) {
      throw new PatchError(`replace of missing path /${path.join("/")}`);
    }
    parent[last] = value;
  } else {
    throw new PatchError(`parent of /${path.join("/")} is not a container`);
  }
  return doc;
}

function remove(doc: unknown, path: string[]): unknown {
  if (path.length === 0) throw new PatchError("cannot remove the whole document");
  const parent = get(doc, path.slice(0, -1));
  const last = path[path.length - 1];
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) {
      throw new PatchError(`no element at /${path.join("/")}`);
    }
    parent.splice(i, 1);
  } else if (isObject(parent) && Object.hasOwn(parent, last)) {
    delete parent[last];
  } else {
    throw new PatchError(`missing path /${path.join("/")}`);
  }
  return doc;
}
