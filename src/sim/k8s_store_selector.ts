/**
 * Kubernetes field and label selectors: parsing and matching, as the API server understands them.
 * Pure; errors are `SelectorError` (the server answers 400 BadRequest).
 */

/** A selector string could not be parsed or names an unsupported field. */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SelectorError";
  }
}

/** One field requirement: `path=value` or `path!=value`. */
export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** One label requirement. */
export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

/**
 * Parses a field selector (`a=b,c!=d`, `==` is `=`). Every field must be in `allowed` when given,
 * as the API server rejects field labels it does not index.
 */
export function parseFieldSelector(
  s: string | null | undefined,
  allowed?: readonly string[],
): FieldRequirement[] {
  if (!s) return [];
  const out: FieldRequirement[] = [];
  for (const raw of splitTopLevel(s)) {
    const part = raw.trim();
    if (part === "") continue;
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new SelectorError(`invalid field selector: "${part}"`);
    const [, field, op, value] = m;
    if (allowed && !allowed.includes(field)) {
      throw new SelectorError(`field label not supported: ${field}`);
    }
    out.push({ field, op: op === "!=" ? "!=" : "=", value: value.trim() });
  }
  return out;
}

/** Parses a label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. */
export function parseLabelSelector(s: string | null | undefined): LabelRequirement[] {
  if (!s) return [];
  const out: LabelRequirement[] = [];
  for (const raw of splitTopLevel(s)) {
    const part = raw.trim();
    if (part === "") continue;
    let m = /^([A-Za-z0-9._\/-]+)\s+(in|notin)\s+\(([^()]*)\)$/.exec(part);
    if (m) {
      const values = m[3].split(",").map((v) => v.trim()).filter((v) => v !== "");
      out.push({ key: checkKey(m[1]), op: m[2] as "in" | "notin", values });
      continue;
    }
    m = /^([A-Za-z0-9._\/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(part);
    if (m) {
      out.push({ key: checkKey(m[1]), op: m[2] === "!=" ? "!=" : "=", value: m[3] });
      continue;
    }
    m = /^(!?)\s*([A-Za-z0-9._\/-]+)$/.exec(part);
    if (m) {
      out.push({ key: checkKey(m[2]), op: m[1] ? "!exists" : "exists" });
      continue;
    }
    throw new SelectorError(`unable to parse requirement: "${part}"`);
  }
  return out;
}

/** True when every requirement holds for `obj` (fields read by dotted path; absent reads as ""). */
export function matchesFields(obj: unknown, reqs: readonly FieldRequirement[]): boolean {
  for (const r of reqs) {
    const v = readPath(obj, r.field);
    const equal = v === r.value;
    if (r.op === "=" ? !equal : equal) return false;
  }
  return true;
}

/** True when every requirement holds for the label map. */
export function matchesLabels(
  labels: Record<string, string> | undefined,
  reqs: readonly LabelRequirement[],
): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case "=":
        if (!has || l[r.key] !== r.value) return false;
        break;
      case "!=":
        if (has && l[r.key] === r.value) return false;
        break;
      case "in":
        if (!has || !r.values.includes(l[r.key])) return false;
        break;
      case "notin":
        if (has && r.values.includes(l[r.key])) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!exists":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Reads a dotted path as the string the API server compares with ("" when absent). */
export function readPath(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return "";
  return typeof cur === "string" ? cur : String(cur);
}

function checkKey(k: string): string {
  if (k.length === 0 || k.length > 316) throw new SelectorError(`invalid label key: "${k}"`);
  return k;
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth < 0) throw new SelectorError(`unbalanced parentheses in selector: "${s}"`);
    } else if (c === "," && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new SelectorError(`unbalanced parentheses in selector: "${s}"`);
  parts.push(s.slice(start));
  return parts;
}
