/**
 * sysctl through /proc/sys, optionally inside another network namespace.
 *
 * @module
 */

import { type Netns, withNetns } from "./netns.ts";

function path(key: string): string {
  if (typeof key !== "string" || key === "") throw new TypeError("sysctl: empty key");
  const k = key.startsWith("/proc/sys/") ? key.slice("/proc/sys/".length) : key;
  if (k.startsWith("/") || k.split("/").some((p) => p === "" || p === "." || p === "..")) {
    throw new TypeError(`sysctl: invalid key ${JSON.stringify(key)}`);
  }
  return `/proc/sys/${k}`;
}

/**
 * Write `value` to `/proc/sys/<key>` (key like `net/ipv4/conf/eth0/rp_filter`). With `ns`,
 * the file is opened while the calling thread is in that namespace.
 */
export function sysctlWrite(key: string, value: string, ns?: Netns): void {
  const p = path(key);
  const write = () => Deno.writeTextFileSync(p, value.endsWith("\n") ? value : value + "\n");
  ns ? withNetns(ns, write) : write();
}

/** Read `/proc/sys/<key>` (trimmed), optionally inside `ns`. */
export function sysctlRead(key: string, ns?: Netns): string {
  const p = path(key);
  const read = () => Deno.readTextFileSync(p).trim();
  return ns ? withNetns(ns, read) : read();
}
