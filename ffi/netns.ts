/**
 * Network namespace handles and {@linkcode withNetns}.
 *
 * @module
 */

import { CLONE_NEWNET, cstr, errno, libc, O_RDONLY_CLOEXEC, osError } from "./libc.ts";

const NETNS_DIR = "/var/run/netns";

/** Closes the descriptor of a Netns that was dropped without close(). */
const unclosed = new FinalizationRegistry<number>((fd) => libc().close(fd));

/** An open file descriptor on a network namespace (`/var/run/netns/x`, `/proc/<pid>/ns/net`). */
export class Netns {
  #fd: number;
  /** The path the handle was opened from. */
  readonly path: string;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.path = path;
    unclosed.register(this, fd, this);
  }

  /**
   * Open a namespace by path. A bare name (no `/`) means `/var/run/netns/<name>`.
   * Throws `Deno.errors.NotFound` when the path does not exist.
   */
  static open(path: string): Netns {
    if (typeof path !== "string" || path === "") throw new TypeError("Netns.open: empty path");
    const p = path.includes("/") ? path : `${NETNS_DIR}/${path}`;
    const fd = libc().open(cstr(p), O_RDONLY_CLOEXEC);
    if (fd < 0) {
      const e = errno();
      if (e === 2) throw new Deno.errors.NotFound(`Netns.open ${p}: no such namespace`);
      throw osError(`Netns.open ${p}`, e);
    }
    return new Netns(fd, p);
  }

  /** The calling thread's current namespace (`/proc/thread-self/ns/net`). */
  static current(): Netns {
    return Netns.open("/proc/thread-self/ns/net");
  }

  /** The OS file descriptor (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  /** The namespace's inode number: equal inodes mean the same namespace. */
  get inode(): number {
    this.#check();
    return Deno.statSync(`/proc/self/fd/${this.#fd}`).ino ?? 0;
  }

  /** Close the descriptor; idempotent. */
  close(): void {
    if (this.#fd >= 0) {
      unclosed.unregister(this);
      libc().close(this.#fd);
    }
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check() {
    if (this.#fd < 0) throw new Error(`Netns ${this.path} is closed`);
  }
}

/**
 * Run `fn` with the calling OS thread switched into `ns`, always switching back to
 * the thread's previous namespace (even when `fn` throws). `fn` must be synchronous:
 * a returned Promise is rejected with a TypeError (its work would run elsewhere).
 */
export function withNetns<T>(ns: Netns, fn: () => T): T {
  if (ns.fd < 0) throw new Error(`withNetns: Netns ${ns.path} is closed`);
  const c = libc();
  const saved = c.open(cstr("/proc/thread-self/ns/net"), O_RDONLY_CLOEXEC);
  if (saved < 0) throw osError("withNetns: open /proc/thread-self/ns/net", errno());
  if (c.setns(ns.fd, CLONE_NEWNET) !== 0) {
    const e = errno();
    c.close(saved);
    throw osError(`withNetns: setns ${ns.path}`, e);
  }
  let result: T;
  try {
    result = fn();
  } finally {
    const rc = c.setns(saved, CLONE_NEWNET);
    const e = rc === 0 ? 0 : errno();
    c.close(saved);
    if (rc !== 0) {
      // The main thread is stuck in a foreign namespace: nothing sane can follow.
      console.error(`withNetns: cannot switch back to the original namespace: errno ${e}; aborting`);
      Deno.exit(70);
    }
  }
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new TypeError("withNetns: fn must be synchronous (it returned a Promise)");
  }
  return result;
}

/** `ns` as a handle: a Netns is used as is, a string is opened (and `owned` says to close it). */
export function toNetns(ns: Netns | string): { ns: Netns; owned: boolean } {
  return typeof ns === "string" ? { ns: Netns.open(ns), owned: true } : { ns, owned: false };
}
