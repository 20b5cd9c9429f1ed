/**
 * Small pure pieces of the lab's object store: resourceVersion parsing, list continue tokens, generated-name
 * suffixes and the deep equality that decides whether a write changed anything.
 */

import { badRequest } from "./k8s_status.ts";

/** Parses a resourceVersion (400 BadRequest when not a number). */
export function parseResourceVersion(s: string): number {
  if (!/^\d+$/.test(s)) throw badRequest(`invalid resource version: ${s}`);
  return Number(s);
}

/** The 5-character suffix `generateName` gets (the API server's alphabet: no vowels, no look-alikes). */
export function randomNameSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** A list continue token: the last key served and the list's resourceVersion. */
export function encodeContinue(key: string, rv: string): string {
  return btoa(JSON.stringify({ k: key, rv }));
}

/** Reads a continue token (400 BadRequest when malformed). */
export function decodeContinue(tok: string): { key: string; rv: string } {
  try {
    const o = JSON.parse(atob(tok));
    if (typeof o.k === "string" && typeof o.rv === "string") return { key: o.k, rv: o.rv };
  } catch {
    // fall through
  }
  throw badRequest("invalid continue token");
}

/** Structural equality of JSON values (keys whose value is undefined are ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}
