/**
 * The few libc calls the binding needs (open/close/setns/errno), loaded lazily.
 *
 * All calls are synchronous FFI calls: they run on the calling OS thread, which is
 * what makes `setns` meaningful. Never mark these `nonblocking`.
 *
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  unshare: { parameters: ["i32"], result: "i32" },
  mount: { parameters: ["buffer", "buffer", "buffer", "usize", "pointer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The loaded libc symbols. */
export type LibC = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** `O_RDONLY | O_CLOEXEC` */
export const O_RDONLY_CLOEXEC = 0o2000000;
/** `O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC` */
export const O_CREATE_EXCL = 0o2000000 | 0o100 | 0o200;
/** mount(2) flags */
export const MS_BIND = 4096, MS_REC = 16384, MS_SHARED = 1 << 20;
/** umount2(2) flag */
export const MNT_DETACH = 2;
/** errno values we tell apart */
export const ENOENT = 2, EEXIST = 17, EINVAL = 22;
/** `CLONE_NEWNET` */
export const CLONE_NEWNET = 0x40000000;

let table: LibC | undefined;

/**
 * libc's symbols, each bound on its first use (`Deno.dlopen` costs ~0.15 ms per symbol: binding all nine
 * up front cost every aws-cni run ~1.3 ms, when a run calls three).
 */
export function libc(): LibC {
  if (table) return table;
  const t = {} as Record<string, unknown>;
  for (const name of Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[]) {
    Object.defineProperty(t, name, {
      configurable: true,
      enumerable: true,
      get() {
        const fn = Deno.dlopen("libc.so.6", { [name]: SYMBOLS[name] }).symbols[name];
        Object.defineProperty(t, name, { value: fn, enumerable: true });
        return fn;
      },
    });
  }
  return table = t as LibC;
}

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** `strerror(code)` */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${code}`;
}

/** A NUL-terminated UTF-8 copy of `s`, for `buffer` parameters. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** An `OSError`-like failure of a libc call, with the errno name in the message. */
export function osError(what: string, code: number): Error {
  return new Error(`${what}: ${strerror(code)} (errno ${code})`);
}
