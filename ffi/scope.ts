/**
 * Route and address scopes (RT_SCOPE_*) by name, and route types (RTN_*) by number.
 *
 * @module
 */

/** Route/address scope names. */
export type Scope = "universe" | "site" | "link" | "host" | "nowhere";

const SCOPES: Record<string, number> = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };

/** RT_SCOPE_NOWHERE: on a delete request, "any scope". */
export const RT_SCOPE_NOWHERE = 255;

/** RTN_* names, indexed by number. */
export const RTN_TYPES: readonly string[] = [
  "unspec",
  "unicast",
  "local",
  "broadcast",
  "anycast",
  "multicast",
  "blackhole",
  "unreachable",
  "prohibit",
  "throw",
  "nat",
  "xresolve",
];

/** The name of an RT_SCOPE_* number (user scopes fall into the nearest named band). */
export function scopeName(n: number): Scope {
  for (const [k, v] of Object.entries(SCOPES)) if (v === n) return k as Scope;
  return n < 200 ? "universe" : n < 253 ? "site" : "link";
}

/** The RT_SCOPE_* number of a name or number; TypeError / RangeError on bad input. */
export function scopeNumber(s: string | number, what: string): number {
  if (typeof s === "number") {
    if (!Number.isInteger(s) || s < 0 || s > 255) throw new RangeError(`invalid ${what}: ${s}`);
    return s;
  }
  const n = Object.hasOwn(SCOPES, s) ? SCOPES[s] : undefined;
  if (n === undefined) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  return n;
}
