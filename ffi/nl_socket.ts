/**
 * {@linkcode NlSocket}: the plumbing every object kind shares — one libnl `nl_sock`
 * (NETLINK_ROUTE) connected inside a namespace, error checking, scoped release of libnl
 * objects, address conversion and cache walks. The kind modules (`link.ts`, `addr.ts`,
 * `route.ts`, `rule.ts`, `neigh.ts`) are functions over it; {@linkcode Netlink} is the
 * public face.
 *
 * @module
 */

import { NetlinkError } from "./errors.ts";
import { type Libnl, libnl } from "./libnl.ts";
import { type Netns, toNetns, withNetns } from "./netns.ts";
import { type Family, formatIp } from "./parse.ts";

/** A non-null libnl object pointer. */
export type Ptr = Deno.PointerObject;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_LLC = 26;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const RT_TABLE_MAIN = 254;
const NETLINK_ROUTE = 0;

/** The AF_* number of an address family. */
export function afOf(family: Family): number {
  return family === 6 ? AF_INET6 : AF_INET;
}

/** The address family of an AF_* number (undefined for anything but AF_INET / AF_INET6). */
export function familyOf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** Collects release callbacks; runs them in reverse order. */
export class Releaser {
  #fns: Array<() => void> = [];
  defer(fn: () => void) {
    this.#fns.push(fn);
  }
  run() {
    for (let i = this.#fns.length - 1; i >= 0; i--) this.#fns[i]();
    this.#fns.length = 0;
  }
}

/** The C string at `p`, or undefined for NULL. */
export function cstring(p: Deno.PointerValue): string | undefined {
  return p ? Deno.UnsafePointerView.getCString(p) : undefined;
}

/** Frees the socket of an NlSocket that was dropped without close(). */
const unclosed = new FinalizationRegistry<{ lib: Libnl; sk: Ptr }>(({ lib, sk }) =>
  lib.nl.nl_socket_free(sk)
);

/** One NETLINK_ROUTE socket, bound at open to a network namespace, with the shared libnl plumbing. */
export class NlSocket {
  #sk: Ptr | null;
  /** The loaded libnl symbols. */
  readonly lib: Libnl;
  /** The namespace path the socket was opened in ("" for the caller's). */
  readonly nsPath: string;

  private constructor(lib: Libnl, sk: Ptr, nsPath: string) {
    this.lib = lib;
    this.#sk = sk;
    this.nsPath = nsPath;
    unclosed.register(this, { lib, sk }, this);
  }

  /** Connect a socket inside `ns` (a handle, or a path / name), or in the calling thread's namespace. */
  static open(ns?: Netns | string): NlSocket {
    const lib = libnl();
    const sk = lib.nl.nl_socket_alloc();
    if (!sk) throw new NetlinkError("nl_socket_alloc", 5, "out of memory");
    let handle: { ns: Netns; owned: boolean } | undefined;
    try {
      handle = ns === undefined ? undefined : toNetns(ns);
      const connect = () => lib.nl.nl_connect(sk, NETLINK_ROUTE);
      const rc = handle ? withNetns(handle.ns, connect) : connect();
      if (rc < 0) {
        throw new NetlinkError(`nl_connect${handle ? " in " + handle.ns.path : ""}`, -rc, errText(lib, rc));
      }
      return new NlSocket(lib, sk, handle?.ns.path ?? "");
    } catch (e) {
      lib.nl.nl_socket_free(sk);
      throw e;
    } finally {
      if (handle?.owned) handle.ns.close();
    }
  }

  /** Close the socket; idempotent. */
  close(): void {
    if (this.#sk) {
      unclosed.unregister(this);
      this.lib.nl.nl_socket_free(this.#sk);
    }
    this.#sk = null;
  }

  /** The open socket; throws once closed. */
  sock(): Ptr {
    if (!this.#sk) throw new Error("Netlink socket is closed");
    return this.#sk;
  }

  /** Throw a NetlinkError for a negative libnl return code. */
  check(op: string, rc: number): void {
    if (rc < 0) throw new NetlinkError(op, -rc, errText(this.lib, rc));
  }

  /** Run fn with a Releaser whose callbacks run when fn returns or throws. */
  scoped<T>(fn: (s: Releaser) => T): T {
    const s = new Releaser();
    try {
      return fn(s);
    } finally {
      s.run();
    }
  }

  /** An `nl_addr` released with `s`. */
  nlAddr(s: Releaser, family: number, bytes: Uint8Array<ArrayBuffer>, prefixLen?: number): Ptr {
    const a = this.lib.nl.nl_addr_build(family, bytes, bytes.length);
    if (!a) throw new NetlinkError("nl_addr_build", 5, "out of memory");
    s.defer(() => this.lib.nl.nl_addr_put(a));
    if (prefixLen !== undefined) this.lib.nl.nl_addr_set_prefixlen(a, prefixLen);
    return a;
  }

  /** The bytes and prefix length of an `nl_addr` (copied), or undefined for NULL. */
  readAddr(p: Deno.PointerValue): { bytes: Uint8Array; prefixLen: number } | undefined {
    if (!p) return undefined;
    const nl = this.lib.nl;
    const len = nl.nl_addr_get_len(p);
    const prefixLen = nl.nl_addr_get_prefixlen(p);
    const bin = nl.nl_addr_get_binary_addr(p);
    const bytes = len && bin
      ? new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(bin, len).slice(0))
      : new Uint8Array();
    return { bytes, prefixLen };
  }

  /** An IPv4 or IPv6 `nl_addr` as text, or undefined (NULL, or no address bytes). */
  ip(p: Deno.PointerValue): string | undefined {
    const a = this.readAddr(p);
    return a && (a.bytes.length === 4 || a.bytes.length === 16) ? formatIp(a.bytes) : undefined;
  }

  /** An IPv4 or IPv6 `nl_addr` as `addr/len` (an empty address reads as the family's zero), or undefined. */
  cidr(p: Deno.PointerValue, family: Family): string | undefined {
    const a = this.readAddr(p);
    if (!a) return undefined;
    const bytes = a.bytes.length === 4 || a.bytes.length === 16
      ? a.bytes
      : new Uint8Array(family === 6 ? 16 : 4);
    return `${formatIp(bytes)}/${a.prefixLen}`;
  }

  /** Allocate a cache with `alloc(out)`, visit each object, free the cache. */
  each(op: string, alloc: (out: BigUint64Array<ArrayBuffer>) => number, visit: (o: Ptr) => void): void {
    const out = new BigUint64Array(1);
    this.check(op, alloc(out));
    const cache = Deno.UnsafePointer.create(out[0]);
    if (!cache) return;
    const nl = this.lib.nl;
    try {
      for (let o = nl.nl_cache_get_first(cache); o; o = nl.nl_cache_get_next(o)) visit(o);
    } finally {
      nl.nl_cache_free(cache);
    }
  }
}

function errText(lib: Libnl, rc: number): string {
  const p = lib.nl.nl_geterror(rc < 0 ? rc : -rc);
  return p ? Deno.UnsafePointerView.getCString(p) : `libnl error ${rc}`;
}
