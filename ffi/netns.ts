/**
 * Network namespace handles and {@linkcode withNetns}.
 *
 * @module
 */

import {
  CLONE_NEWNET,
  cstr,
  EEXIST,
  EINVAL,
  ENOENT,
  errno,
  libc,
  MNT_DETACH,
  MS_BIND,
  MS_REC,
  MS_SHARED,
  O_CREATE_EXCL,
  O_RDONLY_CLOEXEC,
  osError,
} from "./libc.ts";

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
    const fd = libc().open(cstr(p), O_RDONLY_CLOEXEC, 0);
    if (fd < 0) {
      const e = errno();
      if (e === 2) throw new Deno.errors.NotFound(`Netns.open ${p}: no such namespace`);
      throw osError(`Netns.open ${p}`, e);
    }
    return new Netns(fd, p);
  }

  /**
   * Create a named namespace the way `ip netns add` does: a fresh network namespace
   * bind-mounted on `/var/run/netns/<name>` (the directory made a shared mount). The
   * calling thread stays in its own namespace. Throws `Deno.errors.AlreadyExists` when
   * the name is taken.
   */
  static create(name: string): Netns {
    const p = namedPath(name);
    const c = libc();
    ensureRunDir();
    const f = c.open(cstr(p), O_CREATE_EXCL, 0);
    if (f < 0) {
      const e = errno();
      if (e === EEXIST) throw new Deno.errors.AlreadyExists(`Netns.create ${name}: ${p} exists`);
      throw osError(`Netns.create ${name}: create ${p}`, e);
    }
    c.close(f);
    const saved = c.open(cstr("/proc/thread-self/ns/net"), O_RDONLY_CLOEXEC, 0);
    if (saved < 0) {
      const e = errno();
      c.unlink(cstr(p));
      throw osError("Netns.create: open /proc/thread-self/ns/net", e);
    }
    try {
      if (c.unshare(CLONE_NEWNET) !== 0) throw osError(`Netns.create ${name}: unshare`, errno());
      let rc: number, e = 0;
      try {
        rc = c.mount(cstr("/proc/thread-self/ns/net"), cstr(p), cstr("none"), BigInt(MS_BIND), null);
        if (rc !== 0) e = errno();
      } finally {
        restore(saved, `Netns.create ${name}`);
      }
      if (rc !== 0) throw osError(`Netns.create ${name}: bind-mount on ${p}`, e);
    } catch (err) {
      c.unlink(cstr(p));
      throw err;
    } finally {
      c.close(saved);
    }
    return Netns.open(p);
  }

  /**
   * Remove a named namespace like `ip netns del`: lazily unmount and unlink
   * `/var/run/netns/<name>` (the namespace lives on while something holds it).
   * Throws `Deno.errors.NotFound` when there is no such name.
   */
  static remove(name: string): void {
    const p = namedPath(name);
    const c = libc();
    if (c.umount2(cstr(p), MNT_DETACH) !== 0) {
      const e = errno();
      if (e !== EINVAL && e !== ENOENT) throw osError(`Netns.remove ${name}: umount ${p}`, e);
    }
    if (c.unlink(cstr(p)) !== 0) {
      const e = errno();
      if (e === ENOENT) throw new Deno.errors.NotFound(`Netns.remove ${name}: no such namespace`);
      throw osError(`Netns.remove ${name}: unlink ${p}`, e);
    }
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

function namedPath(name: string): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,200}$/.test(name) || name === "." || name === "..") {
    throw new TypeError(`invalid namespace name: ${JSON.stringify(name)}`);
  }
  return `${NETNS_DIR}/${name}`;
}

/** Make /var/run/netns exist and be a shared mount, as iproute2 does. */
function ensureRunDir(): void {
  Deno.mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 });
  const c = libc();
  const none = cstr("none"), dir = cstr(NETNS_DIR);
  for (let tried = false;;) {
    if (c.mount(cstr(""), dir, none, BigInt(MS_SHARED | MS_REC), null) === 0) return;
    const e = errno();
    if (e !== EINVAL || tried) throw osError(`make ${NETNS_DIR} a shared mount`, e);
    // not a mount point yet: bind it on itself, then retry
    if (c.mount(dir, dir, none, BigInt(MS_BIND | MS_REC), null) !== 0) {
      throw osError(`bind-mount ${NETNS_DIR} on itself`, errno());
    }
    tried = true;
  }
}

/** setns back to `saved`; a thread that cannot return must not run more JS. */
function restore(saved: number, what: string): void {
  if (libc().setns(saved, CLONE_NEWNET) !== 0) {
    console.error(`${what}: cannot switch back to the original namespace: errno ${errno()}; aborting`);
    Deno.exit(70);
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
  const saved = c.open(cstr("/proc/thread-self/ns/net"), O_RDONLY_CLOEXEC, 0);
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
    // The thread must not stay in a foreign namespace: restore() exits when it cannot return.
    restore(saved, "withNetns");
    c.close(saved);
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
