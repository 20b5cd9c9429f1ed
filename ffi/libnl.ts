/**
 * The libnl-3 / libnl-route-3 symbol table and the lazy loader.
 *
 * Nothing is loaded at import time: {@linkcode libnl} dlopens on first call. Search order:
 * `$VPC_CNI_LIBNL_DIR`, the system sonames, then `<dir of Deno.execPath()>/aws-cni-lib/`.
 *
 * Symbols are bound lazily, one by one. `Deno.dlopen` costs ~0.15 ms per bound symbol (binding all ~120
 * took ~22 ms of every aws-cni run), while a `Deno.UnsafeFnPointer` costs nothing to make and ~3 µs per
 * call. So loading only checks one symbol per library (`dlsym` of {@linkcode SENTINELS}: a library lacking
 * it is skipped like one that does not load; resolving all ~135 up front cost ~1.3 ms of every aws-cni
 * run); the first use of a symbol resolves its address and makes an UnsafeFnPointer wrapper, and a symbol
 * called {@linkcode HOT_CALLS} times is bound for real with its own `Deno.dlopen` of the same library (a
 * fast call from then on). A plugin run binds next to nothing; ipamd's hot symbols end up fast.
 *
 * @module
 */

const P = "pointer" as const;
const B = "buffer" as const;

const NL = {
  nl_socket_alloc: { parameters: [], result: P },
  nl_socket_free: { parameters: [P], result: "void" },
  nl_connect: { parameters: [P, "i32"], result: "i32" },
  nl_geterror: { parameters: ["i32"], result: P },
  nl_addr_build: { parameters: ["i32", B, "u32"], result: P },
  nl_addr_put: { parameters: [P], result: "void" },
  nl_addr_get_family: { parameters: [P], result: "i32" },
  nl_addr_get_binary_addr: { parameters: [P], result: P },
  nl_addr_get_len: { parameters: [P], result: "u32" },
  nl_addr_get_prefixlen: { parameters: [P], result: "u32" },
  nl_addr_set_prefixlen: { parameters: [P, "i32"], result: "void" },
  nl_cache_free: { parameters: [P], result: "void" },
  nl_cache_get_first: { parameters: [P], result: P },
  nl_cache_get_next: { parameters: [P], result: P },
} as const;

const ROUTE = {
  // links
  rtnl_link_alloc: { parameters: [], result: P },
  rtnl_link_put: { parameters: [P], result: "void" },
  rtnl_link_alloc_cache: { parameters: [P, "i32", B], result: "i32" },
  rtnl_link_get_kernel: { parameters: [P, "i32", B, B], result: "i32" },
  rtnl_link_add: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_link_change: { parameters: [P, P, P, "i32"], result: "i32" },
  rtnl_link_delete: { parameters: [P, P], result: "i32" },
  rtnl_link_set_name: { parameters: [P, B], result: "void" },
  rtnl_link_get_name: { parameters: [P], result: P },
  rtnl_link_set_ifindex: { parameters: [P, "i32"], result: "void" },
  rtnl_link_get_ifindex: { parameters: [P], result: "i32" },
  rtnl_link_set_mtu: { parameters: [P, "u32"], result: "void" },
  rtnl_link_get_mtu: { parameters: [P], result: "u32" },
  rtnl_link_set_addr: { parameters: [P, P], result: "void" },
  rtnl_link_get_addr: { parameters: [P], result: P },
  rtnl_link_set_flags: { parameters: [P, "u32"], result: "void" },
  rtnl_link_unset_flags: { parameters: [P, "u32"], result: "void" },
  rtnl_link_get_flags: { parameters: [P], result: "u32" },
  rtnl_link_get_type: { parameters: [P], result: P },
  rtnl_link_set_ns_fd: { parameters: [P, "i32"], result: "void" },
  rtnl_link_veth_alloc: { parameters: [], result: P },
  rtnl_link_veth_get_peer: { parameters: [P], result: P },
  // addresses
  rtnl_addr_alloc: { parameters: [], result: P },
  rtnl_addr_put: { parameters: [P], result: "void" },
  rtnl_addr_alloc_cache: { parameters: [P, B], result: "i32" },
  rtnl_addr_add: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_addr_delete: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_addr_set_ifindex: { parameters: [P, "i32"], result: "void" },
  rtnl_addr_get_ifindex: { parameters: [P], result: "i32" },
  rtnl_addr_set_family: { parameters: [P, "i32"], result: "void" },
  rtnl_addr_get_family: { parameters: [P], result: "i32" },
  rtnl_addr_set_prefixlen: { parameters: [P, "i32"], result: "void" },
  rtnl_addr_get_prefixlen: { parameters: [P], result: "i32" },
  rtnl_addr_set_scope: { parameters: [P, "i32"], result: "void" },
  rtnl_addr_get_scope: { parameters: [P], result: "i32" },
  rtnl_addr_set_local: { parameters: [P, P], result: "i32" },
  rtnl_addr_get_local: { parameters: [P], result: P },
  rtnl_addr_set_flags: { parameters: [P, "u32"], result: "void" },
  rtnl_addr_get_flags: { parameters: [P], result: "u32" },
  // routes
  rtnl_route_alloc: { parameters: [], result: P },
  rtnl_route_put: { parameters: [P], result: "void" },
  rtnl_route_alloc_cache: { parameters: [P, "i32", "i32", B], result: "i32" },
  rtnl_route_add: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_route_delete: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_route_set_table: { parameters: [P, "u32"], result: "void" },
  rtnl_route_get_table: { parameters: [P], result: "u32" },
  rtnl_route_set_scope: { parameters: [P, "u8"], result: "void" },
  rtnl_route_get_scope: { parameters: [P], result: "u8" },
  rtnl_route_set_protocol: { parameters: [P, "u8"], result: "void" },
  rtnl_route_get_protocol: { parameters: [P], result: "u8" },
  rtnl_route_set_priority: { parameters: [P, "u32"], result: "void" },
  rtnl_route_get_priority: { parameters: [P], result: "u32" },
  rtnl_route_set_family: { parameters: [P, "u8"], result: "i32" },
  rtnl_route_get_family: { parameters: [P], result: "u8" },
  rtnl_route_set_type: { parameters: [P, "u8"], result: "i32" },
  rtnl_route_get_type: { parameters: [P], result: "u8" },
  rtnl_route_set_dst: { parameters: [P, P], result: "i32" },
  rtnl_route_get_dst: { parameters: [P], result: P },
  rtnl_route_set_pref_src: { parameters: [P, P], result: "i32" },
  rtnl_route_get_pref_src: { parameters: [P], result: P },
  rtnl_route_add_nexthop: { parameters: [P, P], result: "void" },
  rtnl_route_get_nnexthops: { parameters: [P], result: "i32" },
  rtnl_route_nexthop_n: { parameters: [P, "i32"], result: P },
  rtnl_route_nh_alloc: { parameters: [], result: P },
  rtnl_route_nh_set_ifindex: { parameters: [P, "i32"], result: "void" },
  rtnl_route_nh_get_ifindex: { parameters: [P], result: "i32" },
  rtnl_route_nh_set_gateway: { parameters: [P, P], result: "void" },
  rtnl_route_nh_get_gateway: { parameters: [P], result: P },
  rtnl_route_nh_set_flags: { parameters: [P, "u32"], result: "void" },
  rtnl_route_nh_get_flags: { parameters: [P], result: "u32" },
  // rules
  rtnl_rule_alloc: { parameters: [], result: P },
  rtnl_rule_put: { parameters: [P], result: "void" },
  rtnl_rule_alloc_cache: { parameters: [P, "i32", B], result: "i32" },
  rtnl_rule_add: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_rule_delete: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_rule_set_family: { parameters: [P, "i32"], result: "void" },
  rtnl_rule_get_family: { parameters: [P], result: "i32" },
  rtnl_rule_set_prio: { parameters: [P, "u32"], result: "void" },
  rtnl_rule_get_prio: { parameters: [P], result: "u32" },
  rtnl_rule_set_mark: { parameters: [P, "u32"], result: "void" },
  rtnl_rule_get_mark: { parameters: [P], result: "u32" },
  rtnl_rule_set_mask: { parameters: [P, "u32"], result: "void" },
  rtnl_rule_get_mask: { parameters: [P], result: "u32" },
  rtnl_rule_set_table: { parameters: [P, "u32"], result: "void" },
  rtnl_rule_get_table: { parameters: [P], result: "u32" },
  rtnl_rule_set_src: { parameters: [P, P], result: "i32" },
  rtnl_rule_get_src: { parameters: [P], result: P },
  rtnl_rule_set_dst: { parameters: [P, P], result: "i32" },
  rtnl_rule_get_dst: { parameters: [P], result: P },
  rtnl_rule_set_action: { parameters: [P, "u8"], result: "void" },
  rtnl_rule_get_action: { parameters: [P], result: "u8" },
  rtnl_rule_set_iif: { parameters: [P, B], result: "i32" },
  rtnl_rule_get_iif: { parameters: [P], result: P },
  // neighbours
  rtnl_neigh_alloc: { parameters: [], result: P },
  rtnl_neigh_put: { parameters: [P], result: "void" },
  rtnl_neigh_alloc_cache: { parameters: [P, B], result: "i32" },
  rtnl_neigh_add: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_neigh_delete: { parameters: [P, P, "i32"], result: "i32" },
  rtnl_neigh_set_ifindex: { parameters: [P, "i32"], result: "void" },
  rtnl_neigh_get_ifindex: { parameters: [P], result: "i32" },
  rtnl_neigh_set_dst: { parameters: [P, P], result: "i32" },
  rtnl_neigh_get_dst: { parameters: [P], result: P },
  rtnl_neigh_set_lladdr: { parameters: [P, P], result: "void" },
  rtnl_neigh_get_lladdr: { parameters: [P], result: P },
  rtnl_neigh_set_state: { parameters: [P, "i32"], result: "void" },
  rtnl_neigh_get_state: { parameters: [P], result: "i32" },
  rtnl_neigh_set_family: { parameters: [P, "i32"], result: "void" },
  rtnl_neigh_get_family: { parameters: [P], result: "i32" },
} as const;

/** libnl-3 symbols. */
export type NlSymbols = Deno.DynamicLibrary<typeof NL>["symbols"];
/** libnl-route-3 symbols. */
export type RouteSymbols = Deno.DynamicLibrary<typeof ROUTE>["symbols"];
/** Both libraries' symbols. */
export interface Libnl {
  nl: NlSymbols;
  rt: RouteSymbols;
  /** Where the libraries were loaded from ("system" or a directory). */
  from: string;
}

/** The symbol checked when a library loads (the rest are resolved at their first call). */
export const SENTINELS = { nl: "nl_socket_alloc", route: "rtnl_link_veth_alloc" } as const;

const SONAME_NL = "libnl-3.so.200";
const SONAME_ROUTE = "libnl-route-3.so.200";

/** Calls through the slow path before a symbol gets its own fast `Deno.dlopen` binding (~break-even). */
export const HOT_CALLS = 32;

let loaded: Libnl | undefined;
/** Names of the symbols bound with `Deno.dlopen` so far (all loads), for tests and measurements. */
const fastBound = new Set<string>();

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** Candidate (label, libnl-3 path, libnl-route-3 path) triples, in search order. */
export function libnlCandidates(): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  let dir: string | undefined;
  try {
    dir = Deno.env.get("VPC_CNI_LIBNL_DIR");
  } catch { /* no env permission: skip */ }
  if (dir) out.push([dir, `${dir}/${SONAME_NL}`, `${dir}/${SONAME_ROUTE}`]);
  out.push(["system", SONAME_NL, SONAME_ROUTE]);
  const beside = `${dirname(Deno.execPath())}/aws-cni-lib`;
  out.push([beside, `${beside}/${SONAME_NL}`, `${beside}/${SONAME_ROUTE}`]);
  return out;
}

/** Load libnl-3 + libnl-route-3 (once); throws an Error naming every place tried. */
export function libnl(): Libnl {
  if (!loaded) loaded = loadLibnl(libnlCandidates());
  return loaded;
}

const RTLD_NOW = 2;
const RTLD_NOLOAD = 4;
let dl: {
  dlopen: (p: Uint8Array<ArrayBuffer>, f: number) => Deno.PointerValue;
  dlsym: (h: Deno.PointerValue, n: Uint8Array<ArrayBuffer>) => Deno.PointerValue;
} | undefined;

/** libc's dlopen/dlsym (bound once, the only eagerly bound symbols). */
function libdl() {
  if (!dl) {
    const lib = Deno.dlopen(
      "libc.so.6",
      {
        dlopen: { parameters: [B, "i32"], result: P },
        dlsym: { parameters: [P, B], result: P },
      } as const,
    );
    dl = lib.symbols;
  }
  return dl;
}

const enc = new TextEncoder();
function cz(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(s.length + 1);
  enc.encodeInto(s, b);
  return b;
}

type Defs = Record<string, Deno.ForeignFunction>;

/** A symbol's address in the library `handle`; throws the error `Deno.dlopen` would for a missing one. */
function symbolAddress(path: string, handle: Deno.PointerObject, name: string): Deno.PointerObject {
  const a = libdl().dlsym(handle, cz(name));
  if (!a) throw new Error(`Failed to register symbol ${name}: ${path}: undefined symbol: ${name}`);
  return a;
}

/**
 * Opens `path` (so a failure reads exactly like `Deno.dlopen`'s) and checks its sentinel symbol; throws when
 * the library does not load or lacks it. Returns the library and its dlopen handle.
 */
function resolve(
  path: string,
  sentinel: string,
): { lib: Deno.DynamicLibrary<Record<never, never>>; handle: Deno.PointerObject } {
  const lib = Deno.dlopen(path, {});
  try {
    // The library is loaded now: RTLD_NOLOAD only returns its handle (refcounted; kept for the process).
    const handle = libdl().dlopen(cz(path), RTLD_NOW | RTLD_NOLOAD);
    if (!handle) throw new Error(`Could not open library: ${path}: dlopen(RTLD_NOLOAD) failed`);
    symbolAddress(path, handle, sentinel);
    return { lib, handle };
  } catch (e) {
    lib.close();
    throw e;
  }
}

/**
 * The symbols object: each property starts as a stub calling through an UnsafeFnPointer (the address resolved
 * and the pointer made on the first call); on its {@linkcode HOT_CALLS}th call the stub replaces itself with a
 * fast `Deno.dlopen` binding.
 */
function lazySymbols(path: string, defs: Defs, handle: Deno.PointerObject, hot: number): object {
  type Fn = (...args: unknown[]) => unknown;
  const table: Record<string, Fn> = {};
  for (const name of Object.keys(defs)) {
    const def = defs[name];
    let calls = 0;
    let ptr: { call: Fn } | undefined;
    table[name] = (...args: unknown[]) => {
      if (++calls >= hot) {
        const f = Deno.dlopen(path, { [name]: def }).symbols[name] as Fn;
        fastBound.add(name);
        table[name] = f;
        return f(...args);
      }
      // deno-lint-ignore no-explicit-any
      ptr ??= new Deno.UnsafeFnPointer(symbolAddress(path, handle, name) as any, def) as unknown as {
        call: Fn;
      };
      return ptr.call(...args);
    };
  }
  return table;
}

/**
 * Load from the first candidate that works (no caching); throws an Error naming every place tried.
 * `hot`: the call that gets a symbol its fast binding (0 or 1: the first).
 */
export function loadLibnl(candidates: Array<[string, string, string]>, hot = HOT_CALLS): Libnl {
  const tried: string[] = [];
  for (const [from, pNl, pRoute] of candidates) {
    let nl: ReturnType<typeof resolve> | undefined;
    try {
      nl = resolve(pNl, SENTINELS.nl);
      const rt = resolve(pRoute, SENTINELS.route);
      return {
        nl: lazySymbols(pNl, NL, nl.handle, hot) as NlSymbols,
        rt: lazySymbols(pRoute, ROUTE, rt.handle, hot) as RouteSymbols,
        from,
      };
    } catch (e) {
      nl?.lib.close();
      tried.push(`${from === "system" ? "system sonames" : from}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `cannot load libnl (${SONAME_NL} + ${SONAME_ROUTE}); tried:\n  ${tried.join("\n  ")}\n` +
      `install libnl-3-200 and libnl-route-3-200, or set VPC_CNI_LIBNL_DIR`,
  );
}

/** True once the libraries are loaded (for start-up cost tests). */
export function libnlLoaded(): boolean {
  return loaded !== undefined;
}

/** The symbols bound with `Deno.dlopen` so far (hot ones), sorted; for tests and measurements. */
export function libnlFastBound(): string[] {
  return [...fastBound].sort();
}
