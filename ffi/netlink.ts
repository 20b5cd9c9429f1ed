/**
 * {@linkcode Netlink}: one NETLINK_ROUTE socket (libnl `nl_sock`) bound to a network
 * namespace when it is opened, with typed link/address/route/rule/neighbour calls.
 *
 * Every libnl object allocated here is released before the call returns.
 *
 * @module
 */

import { NetlinkError, NLE_OBJ_NOTFOUND } from "./errors.ts";
import { cstr } from "./libc.ts";
import { type Libnl, libnl } from "./libnl.ts";
import { Netns, toNetns, withNetns } from "./netns.ts";
import {
  checkIfindex,
  checkIfName,
  checkU32,
  type Cidr4,
  formatIpv4,
  formatMac,
  isNetwork,
  parseCidr4,
  parseIpv4,
  parseMac,
} from "./parse.ts";

type Ptr = Deno.PointerObject;

const AF_INET = 2;
const AF_LLC = 26;
const NETLINK_ROUTE = 0;
const IFF_UP = 0x1;
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RTNH_F_ONLINK = 0x4;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RT_SCOPE_NOWHERE = 255;
const FR_ACT_TO_TBL = 1;
const NUD_PERMANENT = 0x80;
const RT_TABLE_MAIN = 254;

/** A link by ifindex (number) or name (string). */
export type LinkRef = number | string;

/** One network interface. `mac` is "" when the link has no hardware address. */
export interface LinkInfo {
  index: number;
  name: string;
  mac: string;
  mtu: number;
  /** IFF_UP (administratively up). */
  up: boolean;
  /** rtnl link kind ("veth", "dummy", ...) when the link has one. */
  kind?: string;
}

/** Options of {@linkcode Netlink.prototype.vethAdd}. */
export interface VethOptions {
  name: string;
  peerName: string;
  /** Create the peer directly in this namespace (a Netns or a path/name). */
  peerNs?: Netns | string;
  /** MTU of both ends. */
  mtu?: number;
  mac?: string;
  peerMac?: string;
}

/** Route/address scope names. */
export type Scope = "universe" | "site" | "link" | "host" | "nowhere";

/** One IPv4 address on a link. */
export interface AddrInfo {
  ifindex: number;
  /** The address without prefix, e.g. "10.0.0.5". */
  address: string;
  prefixLen: number;
  scope: Scope;
}

/** A route to add, replace or delete. */
export interface RouteSpec {
  /** "default" or "a.b.c.d/len" (host bits must be zero). */
  dst: string;
  gateway?: string;
  ifindex?: number;
  /** Routing table; default main (254). */
  table?: number;
  /** Default: what `ip` would pick (universe with a gateway, link without). */
  scope?: "universe" | "link" | "host";
  /** RTNH_F_ONLINK: the gateway is on-link even without a matching connected route. */
  onlink?: boolean;
  /** Preferred source address. */
  src?: string;
  /** Route metric (RTA_PRIORITY); default 0. */
  metric?: number;
}

/** A route from {@linkcode Netlink.prototype.routeList}. */
export interface RouteInfo {
  dst: string;
  gateway?: string;
  ifindex?: number;
  table: number;
  scope: Scope;
  onlink?: boolean;
  src?: string;
  metric: number;
  /** RTPROT_* number (2 kernel, 3 boot, 4 static, ...). */
  protocol: number;
  /** RTN_* type: "unicast", "local", "broadcast", ... */
  type: string;
}

/** A policy routing rule (IPv4, action "lookup table"). */
export interface RuleSpec {
  priority?: number;
  /** "a.b.c.d/len" (a bare address means /32). */
  src?: string;
  dst?: string;
  fwmark?: number;
  /** Defaults to 0xffffffff in the kernel when fwmark is given. */
  fwmask?: number;
  /** Input interface name. */
  iif?: string;
  table: number;
}

/** A rule from {@linkcode Netlink.prototype.ruleList}. */
export interface RuleInfo {
  priority: number;
  src?: string;
  dst?: string;
  fwmark?: number;
  fwmask?: number;
  iif?: string;
  table: number;
  /** FR_ACT_* number (1 = to table). */
  action: number;
}

/** A permanent neighbour entry. */
export interface NeighSpec {
  ifindex: number;
  ip: string;
  mac: string;
}

/** A neighbour from {@linkcode Netlink.prototype.neighList}. */
export interface NeighInfo {
  ifindex: number;
  ip: string;
  mac?: string;
  /** NUD_* bits (0x80 = permanent). */
  state: number;
}

const SCOPES: Record<string, number> = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const RTN_TYPES = [
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

function scopeName(n: number): Scope {
  for (const [k, v] of Object.entries(SCOPES)) if (v === n) return k as Scope;
  return n < 200 ? "universe" : n < 253 ? "site" : "link";
}

function scopeNumber(s: string | number, what: string): number {
  if (typeof s === "number") {
    if (!Number.isInteger(s) || s < 0 || s > 255) throw new RangeError(`invalid ${what}: ${s}`);
    return s;
  }
  const n = Object.hasOwn(SCOPES, s) ? SCOPES[s] : undefined;
  if (n === undefined) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  return n;
}

/** Collects release callbacks; runs them in reverse order. */
class Releaser {
  #fns: Array<() => void> = [];
  defer(fn: () => void) {
    this.#fns.push(fn);
  }
  run() {
    for (let i = this.#fns.length - 1; i >= 0; i--) this.#fns[i]();
    this.#fns.length = 0;
  }
}

function cstring(p: Deno.PointerValue): string | undefined {
  return p ? Deno.UnsafePointerView.getCString(p) : undefined;
}

/** Frees the socket of a Netlink that was dropped without close(). */
const unclosed = new FinalizationRegistry<{ lib: Libnl; sk: Ptr }>(({ lib, sk }) =>
  lib.nl.nl_socket_free(sk)
);

/** A NETLINK_ROUTE socket bound, at open, to one network namespace. */
export class Netlink {
  #sk: Ptr | null;
  #lib: Libnl;
  /** The namespace path the socket was opened in ("" for the caller's). */
  readonly nsPath: string;

  private constructor(lib: Libnl, sk: Ptr, nsPath: string) {
    this.#lib = lib;
    this.#sk = sk;
    this.nsPath = nsPath;
    unclosed.register(this, { lib, sk }, this);
  }

  /**
   * Open a socket in `ns` (a handle, or a path / name under /var/run/netns), or in the
   * calling thread's namespace. The socket keeps working in that namespace.
   */
  static open(ns?: Netns | string): Netlink {
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
      return new Netlink(lib, sk, handle?.ns.path ?? "");
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
      this.#lib.nl.nl_socket_free(this.#sk);
    }
    this.#sk = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---------- plumbing ----------

  #sock(): Ptr {
    if (!this.#sk) throw new Error("Netlink socket is closed");
    return this.#sk;
  }

  #check(op: string, rc: number): void {
    if (rc < 0) throw new NetlinkError(op, -rc, errText(this.#lib, rc));
  }

  #scoped<T>(fn: (s: Releaser) => T): T {
    const s = new Releaser();
    try {
      return fn(s);
    } finally {
      s.run();
    }
  }

  #nlAddr(s: Releaser, family: number, bytes: Uint8Array<ArrayBuffer>, prefixLen?: number): Ptr {
    const a = this.#lib.nl.nl_addr_build(family, bytes, bytes.length);
    if (!a) throw new NetlinkError("nl_addr_build", 5, "out of memory");
    s.defer(() => this.#lib.nl.nl_addr_put(a));
    if (prefixLen !== undefined) this.#lib.nl.nl_addr_set_prefixlen(a, prefixLen);
    return a;
  }

  #readAddr(p: Deno.PointerValue): { bytes: Uint8Array; prefixLen: number } | undefined {
    if (!p) return undefined;
    const nl = this.#lib.nl;
    const len = nl.nl_addr_get_len(p);
    const prefixLen = nl.nl_addr_get_prefixlen(p);
    const bin = nl.nl_addr_get_binary_addr(p);
    const bytes = len && bin
      ? new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(bin, len).slice(0))
      : new Uint8Array();
    return { bytes, prefixLen };
  }

  #ip(p: Deno.PointerValue): string | undefined {
    const a = this.#readAddr(p);
    return a && a.bytes.length === 4 ? formatIpv4(a.bytes) : undefined;
  }

  #cidr(p: Deno.PointerValue): string | undefined {
    const a = this.#readAddr(p);
    if (!a) return undefined;
    const ip = a.bytes.length === 4 ? formatIpv4(a.bytes) : "0.0.0.0";
    return `${ip}/${a.prefixLen}`;
  }

  /** Allocate a cache with `alloc(out)`, visit each object, free the cache. */
  #each(op: string, alloc: (out: BigUint64Array<ArrayBuffer>) => number, visit: (o: Ptr) => void): void {
    const out = new BigUint64Array(1);
    this.#check(op, alloc(out));
    const cache = Deno.UnsafePointer.create(out[0]);
    if (!cache) return;
    const nl = this.#lib.nl;
    try {
      for (let o = nl.nl_cache_get_first(cache); o; o = nl.nl_cache_get_next(o)) visit(o);
    } finally {
      nl.nl_cache_free(cache);
    }
  }

  #ifindex(op: string, ref: LinkRef): number {
    if (typeof ref === "number") return checkIfindex(ref);
    checkIfName(ref);
    return this.#getLink(op, 0, ref).index;
  }

  #linkInfo(l: Ptr): LinkInfo {
    const rt = this.#lib.rt;
    const addr = this.#readAddr(rt.rtnl_link_get_addr(l));
    const info: LinkInfo = {
      index: rt.rtnl_link_get_ifindex(l),
      name: cstring(rt.rtnl_link_get_name(l)) ?? "",
      mac: addr && addr.bytes.length ? formatMac(addr.bytes) : "",
      mtu: rt.rtnl_link_get_mtu(l),
      up: (rt.rtnl_link_get_flags(l) & IFF_UP) !== 0,
    };
    const kind = cstring(rt.rtnl_link_get_type(l));
    if (kind) info.kind = kind;
    return info;
  }

  #getLink(op: string, index: number, name: string | null): LinkInfo {
    const rt = this.#lib.rt;
    const out = new BigUint64Array(1);
    this.#check(op, rt.rtnl_link_get_kernel(this.#sock(), index, name === null ? null : cstr(name), out));
    const l = Deno.UnsafePointer.create(out[0]);
    if (!l) throw new NetlinkError(op, NLE_OBJ_NOTFOUND, "no such link");
    try {
      return this.#linkInfo(l);
    } finally {
      rt.rtnl_link_put(l);
    }
  }

  /** rtnl_link_change on `ref` with the attributes `set` puts on the change object. */
  #change(op: string, ref: LinkRef, set: (change: Ptr, s: Releaser) => void): void {
    const index = this.#ifindex(op, ref);
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const orig = rt.rtnl_link_alloc();
      const change = rt.rtnl_link_alloc();
      if (orig) s.defer(() => rt.rtnl_link_put(orig));
      if (change) s.defer(() => rt.rtnl_link_put(change));
      if (!orig || !change) throw new NetlinkError(op, 5, "out of memory");
      rt.rtnl_link_set_ifindex(orig, index);
      set(change, s);
      this.#check(op, rt.rtnl_link_change(this.#sock(), orig, change, 0));
    });
  }

  // ---------- links ----------

  /** All links in the socket's namespace. */
  linkList(): LinkInfo[] {
    const out: LinkInfo[] = [];
    this.#each(
      "linkList",
      (o) => this.#lib.rt.rtnl_link_alloc_cache(this.#sock(), 0, o),
      (l) => out.push(this.#linkInfo(l)),
    );
    return out;
  }

  /** The link called `name`; NetlinkError (notFound) when missing. */
  linkByName(name: string): LinkInfo {
    checkIfName(name);
    return this.#getLink(`linkByName ${name}`, 0, name);
  }

  /** The link with ifindex `index`; NetlinkError (notFound) when missing. */
  linkByIndex(index: number): LinkInfo {
    return this.#getLink(`linkByIndex ${index}`, checkIfindex(index), null);
  }

  /** The link with hardware address `mac` (case-insensitive); NetlinkError (notFound) when missing. */
  linkByMac(mac: string): LinkInfo {
    const want = formatMac(parseMac(mac));
    const l = this.linkList().find((x) => x.mac === want);
    if (!l) throw new NetlinkError(`linkByMac ${want}`, NLE_OBJ_NOTFOUND, "no link with this MAC address");
    return l;
  }

  /** The link called `name`, or undefined. */
  findLink(name: string): LinkInfo | undefined {
    try {
      return this.linkByName(name);
    } catch (e) {
      if (e instanceof NetlinkError && e.notFound) return undefined;
      throw e;
    }
  }

  /** Create a veth pair; the peer may be created directly in another namespace. Both ends start down. */
  vethAdd(o: VethOptions): void {
    checkIfName(o.name, "veth name");
    checkIfName(o.peerName, "veth peer name");
    const mac = o.mac === undefined ? undefined : parseMac(o.mac);
    const peerMac = o.peerMac === undefined ? undefined : parseMac(o.peerMac);
    if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) {
      throw new RangeError(`invalid MTU: ${o.mtu}`);
    }
    const op = `vethAdd ${o.name} peer ${o.peerName}`;
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const handle = o.peerNs === undefined ? undefined : toNetns(o.peerNs);
      if (handle?.owned) s.defer(() => handle.ns.close());
      const veth = rt.rtnl_link_veth_alloc();
      if (!veth) throw new NetlinkError(op, 5, "out of memory");
      s.defer(() => rt.rtnl_link_put(veth));
      const peer = rt.rtnl_link_veth_get_peer(veth);
      if (!peer) throw new NetlinkError(op, 5, "no veth peer");
      s.defer(() => rt.rtnl_link_put(peer));
      rt.rtnl_link_set_name(veth, cstr(o.name));
      rt.rtnl_link_set_name(peer, cstr(o.peerName));
      if (o.mtu !== undefined) {
        rt.rtnl_link_set_mtu(veth, o.mtu);
        rt.rtnl_link_set_mtu(peer, o.mtu);
      }
      if (mac) rt.rtnl_link_set_addr(veth, this.#nlAddr(s, AF_LLC, mac));
      if (peerMac) rt.rtnl_link_set_addr(peer, this.#nlAddr(s, AF_LLC, peerMac));
      if (handle) rt.rtnl_link_set_ns_fd(peer, handle.ns.fd);
      this.#check(op, rt.rtnl_link_add(this.#sock(), veth, NLM_F_CREATE | NLM_F_EXCL));
    });
  }

  /** Set IFF_UP. */
  linkSetUp(link: LinkRef): void {
    this.#change(`linkSetUp ${link}`, link, (c) => this.#lib.rt.rtnl_link_set_flags(c, IFF_UP));
  }

  /** Clear IFF_UP. */
  linkSetDown(link: LinkRef): void {
    this.#change(`linkSetDown ${link}`, link, (c) => this.#lib.rt.rtnl_link_unset_flags(c, IFF_UP));
  }

  /** Set the MTU. */
  linkSetMtu(link: LinkRef, mtu: number): void {
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RangeError(`invalid MTU: ${mtu}`);
    this.#change(`linkSetMtu ${link} ${mtu}`, link, (c) => this.#lib.rt.rtnl_link_set_mtu(c, mtu));
  }

  /** Set the hardware address. */
  linkSetMac(link: LinkRef, mac: string): void {
    const b = parseMac(mac);
    this.#change(
      `linkSetMac ${link} ${mac}`,
      link,
      (c, s) => this.#lib.rt.rtnl_link_set_addr(c, this.#nlAddr(s, AF_LLC, b)),
    );
  }

  /** Rename (the link must be down). */
  linkSetName(link: LinkRef, name: string): void {
    checkIfName(name);
    this.#change(`linkSetName ${link} ${name}`, link, (c) => this.#lib.rt.rtnl_link_set_name(c, cstr(name)));
  }

  /** Move the link into another namespace (a handle, or a path / name). */
  linkSetNs(link: LinkRef, ns: Netns | string): void {
    const op = `linkSetNs ${link} ${typeof ns === "string" ? ns : ns.path}`;
    const index = this.#ifindex(op, link);
    const handle = toNetns(ns);
    try {
      this.#change(op, index, (c) => this.#lib.rt.rtnl_link_set_ns_fd(c, handle.ns.fd));
    } finally {
      if (handle.owned) handle.ns.close();
    }
  }

  /** Delete the link (for a veth, both ends go). */
  linkDel(link: LinkRef): void {
    const op = `linkDel ${link}`;
    const index = this.#ifindex(op, link);
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const l = rt.rtnl_link_alloc();
      if (!l) throw new NetlinkError(op, 5, "out of memory");
      s.defer(() => rt.rtnl_link_put(l));
      rt.rtnl_link_set_ifindex(l, index);
      this.#check(op, rt.rtnl_link_delete(this.#sock(), l));
    });
  }

  // ---------- addresses ----------

  #addrOp(
    op: string,
    link: LinkRef,
    cidr: string,
    scope: Scope | number | undefined,
    send: (a: Ptr) => number,
  ): void {
    const c = parseCidr4(cidr, "address");
    const sc = scope === undefined ? undefined : scopeNumber(scope, "scope");
    const index = this.#ifindex(op, link);
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const a = rt.rtnl_addr_alloc();
      if (!a) throw new NetlinkError(op, 5, "out of memory");
      s.defer(() => rt.rtnl_addr_put(a));
      rt.rtnl_addr_set_ifindex(a, index);
      rt.rtnl_addr_set_family(a, AF_INET);
      this.#check(op, rt.rtnl_addr_set_local(a, this.#nlAddr(s, AF_INET, c.bytes, c.prefixLen)));
      rt.rtnl_addr_set_prefixlen(a, c.prefixLen);
      if (sc !== undefined) rt.rtnl_addr_set_scope(a, sc);
      this.#check(op, send(a));
    });
  }

  /** Add `a.b.c.d/len` to a link. */
  addrAdd(link: LinkRef, cidr: string, o: { scope?: Scope | number } = {}): void {
    this.#addrOp(
      `addrAdd ${cidr} dev ${link}`,
      link,
      cidr,
      o.scope,
      (a) => this.#lib.rt.rtnl_addr_add(this.#sock(), a, NLM_F_EXCL),
    );
  }

  /** Remove `a.b.c.d/len` from a link. */
  addrDel(link: LinkRef, cidr: string): void {
    this.#addrOp(
      `addrDel ${cidr} dev ${link}`,
      link,
      cidr,
      undefined,
      (a) => this.#lib.rt.rtnl_addr_delete(this.#sock(), a, 0),
    );
  }

  /** IPv4 addresses, of one link or all. */
  addrList(link?: LinkRef): AddrInfo[] {
    const index = link === undefined ? 0 : this.#ifindex(`addrList ${link}`, link);
    const rt = this.#lib.rt;
    const out: AddrInfo[] = [];
    this.#each("addrList", (o) => rt.rtnl_addr_alloc_cache(this.#sock(), o), (a) => {
      if (rt.rtnl_addr_get_family(a) !== AF_INET) return;
      const ifindex = rt.rtnl_addr_get_ifindex(a);
      if (index && ifindex !== index) return;
      const address = this.#ip(rt.rtnl_addr_get_local(a));
      if (!address) return;
      out.push({
        ifindex,
        address,
        prefixLen: rt.rtnl_addr_get_prefixlen(a),
        scope: scopeName(rt.rtnl_addr_get_scope(a)),
      });
    });
    return out;
  }

  // ---------- routes ----------

  #routeOp(verb: string, r: RouteSpec, send: (route: Ptr) => number, del = false): void {
    if (typeof r !== "object" || r === null) throw new TypeError(`${verb}: route spec required`);
    let dst: Cidr4;
    if (r.dst === "default") dst = { bytes: new Uint8Array(4), prefixLen: 0 };
    else {
      dst = parseCidr4(r.dst, "route destination");
      if (!isNetwork(dst)) throw new RangeError(`invalid route destination: ${r.dst} (host bits set)`);
    }
    const gw = r.gateway === undefined ? undefined : parseIpv4(r.gateway, "gateway");
    const src = r.src === undefined ? undefined : parseIpv4(r.src, "route src");
    const table = r.table === undefined ? RT_TABLE_MAIN : checkU32(r.table, "table");
    if (table === 0) throw new RangeError("invalid table: 0");
    const scope = r.scope === undefined ? undefined : scopeNumber(r.scope, "route scope");
    if (r.ifindex !== undefined) checkIfindex(r.ifindex);
    const metric = r.metric === undefined ? 0 : checkU32(r.metric, "metric");
    const op = `${verb} ${r.dst}${r.gateway ? " via " + r.gateway : ""}${
      r.ifindex ? " dev " + r.ifindex : ""
    } table ${table}`;
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const route = rt.rtnl_route_alloc();
      if (!route) throw new NetlinkError(op, 5, "out of memory");
      s.defer(() => rt.rtnl_route_put(route));
      rt.rtnl_route_set_family(route, AF_INET);
      rt.rtnl_route_set_table(route, table);
      rt.rtnl_route_set_type(route, RTN_UNICAST);
      rt.rtnl_route_set_protocol(route, del ? 0 : RTPROT_BOOT);
      rt.rtnl_route_set_priority(route, metric);
      this.#check(op, rt.rtnl_route_set_dst(route, this.#nlAddr(s, AF_INET, dst.bytes, dst.prefixLen)));
      if (scope !== undefined) rt.rtnl_route_set_scope(route, scope);
      else if (del) rt.rtnl_route_set_scope(route, RT_SCOPE_NOWHERE);
      if (src) this.#check(op, rt.rtnl_route_set_pref_src(route, this.#nlAddr(s, AF_INET, src, 32)));
      if (gw || r.ifindex !== undefined || r.onlink) {
        const nh = rt.rtnl_route_nh_alloc();
        if (!nh) throw new NetlinkError(op, 5, "out of memory");
        rt.rtnl_route_add_nexthop(route, nh); // the route owns nh from here on
        if (r.ifindex !== undefined) rt.rtnl_route_nh_set_ifindex(nh, r.ifindex);
        if (gw) rt.rtnl_route_nh_set_gateway(nh, this.#nlAddr(s, AF_INET, gw, 32));
        if (r.onlink) rt.rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
      }
      this.#check(op, send(route));
    });
  }

  /** Add a route; NetlinkError (exists) when it is already there. */
  routeAdd(r: RouteSpec): void {
    this.#routeOp(
      "routeAdd",
      r,
      (x) => this.#lib.rt.rtnl_route_add(this.#sock(), x, NLM_F_CREATE | NLM_F_EXCL),
    );
  }

  /** Add or replace a route (same dst/table/metric). */
  routeReplace(r: RouteSpec): void {
    this.#routeOp(
      "routeReplace",
      r,
      (x) => this.#lib.rt.rtnl_route_add(this.#sock(), x, NLM_F_CREATE | NLM_F_REPLACE),
    );
  }

  /** Delete a route; unspecified fields match anything. NetlinkError (notFound) when missing. */
  routeDel(r: RouteSpec): void {
    this.#routeOp("routeDel", r, (x) => this.#lib.rt.rtnl_route_delete(this.#sock(), x, 0), true);
  }

  /** IPv4 routes of one table (default main, 254); `table: 0` lists every table. */
  routeList(o: { table?: number } = {}): RouteInfo[] {
    const table = o.table === undefined ? RT_TABLE_MAIN : checkU32(o.table, "table");
    const rt = this.#lib.rt;
    const out: RouteInfo[] = [];
    this.#each("routeList", (c) => rt.rtnl_route_alloc_cache(this.#sock(), AF_INET, 0, c), (x) => {
      if (rt.rtnl_route_get_family(x) !== AF_INET) return;
      const t = rt.rtnl_route_get_table(x);
      if (table && t !== table) return;
      const dstA = this.#readAddr(rt.rtnl_route_get_dst(x));
      const dst = !dstA || dstA.prefixLen === 0
        ? "default"
        : `${dstA.bytes.length === 4 ? formatIpv4(dstA.bytes) : "0.0.0.0"}/${dstA.prefixLen}`;
      const type = rt.rtnl_route_get_type(x);
      const info: RouteInfo = {
        dst,
        table: t,
        scope: scopeName(rt.rtnl_route_get_scope(x)),
        metric: rt.rtnl_route_get_priority(x),
        protocol: rt.rtnl_route_get_protocol(x),
        type: RTN_TYPES[type] ?? String(type),
      };
      if (rt.rtnl_route_get_nnexthops(x) > 0) {
        const nh = rt.rtnl_route_nexthop_n(x, 0);
        if (nh) {
          const gw = this.#ip(rt.rtnl_route_nh_get_gateway(nh));
          if (gw) info.gateway = gw;
          const ifi = rt.rtnl_route_nh_get_ifindex(nh);
          if (ifi) info.ifindex = ifi;
          if (rt.rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) info.onlink = true;
        }
      }
      const src = this.#ip(rt.rtnl_route_get_pref_src(x));
      if (src) info.src = src;
      out.push(info);
    });
    return out;
  }

  // ---------- rules ----------

  #ruleOp(verb: string, r: RuleSpec, send: (rule: Ptr) => number): void {
    if (typeof r !== "object" || r === null) throw new TypeError(`${verb}: rule spec required`);
    const table = checkU32(r.table, "table");
    const src = r.src === undefined ? undefined : parseCidr4(r.src, "rule src", true);
    const dst = r.dst === undefined ? undefined : parseCidr4(r.dst, "rule dst", true);
    if (r.priority !== undefined) checkU32(r.priority, "priority");
    if (r.fwmark !== undefined) checkU32(r.fwmark, "fwmark");
    if (r.fwmask !== undefined) checkU32(r.fwmask, "fwmask");
    if (r.iif !== undefined) checkIfName(r.iif, "iif");
    const parts = [verb];
    if (r.priority !== undefined) parts.push(`pref ${r.priority}`);
    if (r.src) parts.push(`from ${r.src}`);
    if (r.dst) parts.push(`to ${r.dst}`);
    if (r.fwmark !== undefined) {
      parts.push(`fwmark ${r.fwmark}${r.fwmask !== undefined ? "/" + r.fwmask : ""}`);
    }
    if (r.iif) parts.push(`iif ${r.iif}`);
    parts.push(`table ${table}`);
    const op = parts.join(" ");
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const rule = rt.rtnl_rule_alloc();
      if (!rule) throw new NetlinkError(op, 5, "out of memory");
      s.defer(() => rt.rtnl_rule_put(rule));
      rt.rtnl_rule_set_family(rule, AF_INET);
      rt.rtnl_rule_set_table(rule, table);
      rt.rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
      if (r.priority !== undefined) rt.rtnl_rule_set_prio(rule, r.priority);
      if (src) {
        this.#check(op, rt.rtnl_rule_set_src(rule, this.#nlAddr(s, AF_INET, src.bytes, src.prefixLen)));
      }
      if (dst) {
        this.#check(op, rt.rtnl_rule_set_dst(rule, this.#nlAddr(s, AF_INET, dst.bytes, dst.prefixLen)));
      }
      if (r.fwmark !== undefined) rt.rtnl_rule_set_mark(rule, r.fwmark);
      if (r.fwmask !== undefined) rt.rtnl_rule_set_mask(rule, r.fwmask);
      if (r.iif !== undefined) this.#check(op, rt.rtnl_rule_set_iif(rule, cstr(r.iif)));
      this.#check(op, send(rule));
    });
  }

  /** Add a rule; NetlinkError (exists) when an identical rule is there. */
  ruleAdd(r: RuleSpec): void {
    this.#ruleOp("ruleAdd", r, (x) => this.#lib.rt.rtnl_rule_add(this.#sock(), x, NLM_F_EXCL));
  }

  /** Delete the first rule matching the given fields; NetlinkError (notFound) when none. */
  ruleDel(r: RuleSpec): void {
    this.#ruleOp("ruleDel", r, (x) => this.#lib.rt.rtnl_rule_delete(this.#sock(), x, 0));
  }

  /** IPv4 rules, in kernel order. */
  ruleList(): RuleInfo[] {
    const rt = this.#lib.rt;
    const out: RuleInfo[] = [];
    this.#each("ruleList", (c) => rt.rtnl_rule_alloc_cache(this.#sock(), AF_INET, c), (x) => {
      if (rt.rtnl_rule_get_family(x) !== AF_INET) return;
      const info: RuleInfo = {
        priority: rt.rtnl_rule_get_prio(x),
        table: rt.rtnl_rule_get_table(x),
        action: rt.rtnl_rule_get_action(x),
      };
      const src = this.#cidr(rt.rtnl_rule_get_src(x));
      if (src && !src.endsWith("/0")) info.src = src;
      const dst = this.#cidr(rt.rtnl_rule_get_dst(x));
      if (dst && !dst.endsWith("/0")) info.dst = dst;
      const mark = rt.rtnl_rule_get_mark(x);
      const mask = rt.rtnl_rule_get_mask(x);
      if (mark || mask) {
        info.fwmark = mark;
        info.fwmask = mask;
      }
      const iif = cstring(rt.rtnl_rule_get_iif(x));
      if (iif) info.iif = iif;
      out.push(info);
    });
    return out;
  }

  // ---------- neighbours ----------

  #neighOp(verb: string, o: NeighSpec, send: (n: Ptr) => number, withMac: boolean): void {
    if (typeof o !== "object" || o === null) throw new TypeError(`${verb}: neighbour spec required`);
    checkIfindex(o.ifindex);
    const ip = parseIpv4(o.ip, "neighbour IP");
    const mac = withMac ? parseMac(o.mac) : undefined;
    const op = `${verb} ${o.ip}${mac ? " lladdr " + o.mac : ""} dev ${o.ifindex}`;
    const rt = this.#lib.rt;
    this.#scoped((s) => {
      const n = rt.rtnl_neigh_alloc();
      if (!n) throw new NetlinkError(op, 5, "out of memory");
      s.defer(() => rt.rtnl_neigh_put(n));
      rt.rtnl_neigh_set_family(n, AF_INET);
      rt.rtnl_neigh_set_ifindex(n, o.ifindex);
      this.#check(op, rt.rtnl_neigh_set_dst(n, this.#nlAddr(s, AF_INET, ip, 32)));
      if (mac) rt.rtnl_neigh_set_lladdr(n, this.#nlAddr(s, AF_LLC, mac));
      rt.rtnl_neigh_set_state(n, NUD_PERMANENT);
      this.#check(op, send(n));
    });
  }

  /** Add or replace a permanent (NUD_PERMANENT) neighbour entry. */
  neighAdd(o: NeighSpec): void {
    this.#neighOp(
      "neighAdd",
      o,
      (n) => this.#lib.rt.rtnl_neigh_add(this.#sock(), n, NLM_F_CREATE | NLM_F_REPLACE),
      true,
    );
  }

  /** Delete a neighbour entry; NetlinkError (notFound) when missing. */
  neighDel(o: { ifindex: number; ip: string }): void {
    this.#neighOp(
      "neighDel",
      { ...o, mac: "" },
      (n) => this.#lib.rt.rtnl_neigh_delete(this.#sock(), n, 0),
      false,
    );
  }

  /** IPv4 neighbour entries, of one link or all. */
  neighList(ifindex?: number): NeighInfo[] {
    if (ifindex !== undefined) checkIfindex(ifindex);
    const rt = this.#lib.rt;
    const out: NeighInfo[] = [];
    this.#each("neighList", (c) => rt.rtnl_neigh_alloc_cache(this.#sock(), c), (n) => {
      if (rt.rtnl_neigh_get_family(n) !== AF_INET) return;
      const idx = rt.rtnl_neigh_get_ifindex(n);
      if (ifindex !== undefined && idx !== ifindex) return;
      const ip = this.#ip(rt.rtnl_neigh_get_dst(n));
      if (!ip) return;
      const info: NeighInfo = { ifindex: idx, ip, state: rt.rtnl_neigh_get_state(n) };
      const ll = this.#readAddr(rt.rtnl_neigh_get_lladdr(n));
      if (ll && ll.bytes.length === 6) info.mac = formatMac(ll.bytes);
      out.push(info);
    });
    return out;
  }
}

function errText(lib: Libnl, rc: number): string {
  const p = lib.nl.nl_geterror(rc < 0 ? rc : -rc);
  return p ? Deno.UnsafePointerView.getCString(p) : `libnl error ${rc}`;
}
