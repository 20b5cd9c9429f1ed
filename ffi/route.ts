/**
 * Routes: add, replace, delete and list IPv4 and IPv6 routes in any table. Functions over an
 * {@linkcode NlSocket}; {@linkcode Netlink} exposes them as methods.
 *
 * @module
 */

import { NetlinkError } from "./errors.ts";
import {
  afOf,
  familyOf,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  type NlSocket,
  type Ptr,
  RT_TABLE_MAIN,
} from "./nl_socket.ts";
import { checkIfindex, checkU32, type Cidr, type Family, isNetwork, parseCidr, parseIp } from "./parse.ts";
import { RT_SCOPE_NOWHERE, RTN_TYPES, type Scope, scopeName, scopeNumber } from "./scope.ts";

const RTNH_F_ONLINK = 0x4;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

/** A route to add, replace or delete. */
export interface RouteSpec {
  /** "default" or "addr/len", IPv4 or IPv6 (host bits must be zero). */
  dst: string;
  /** The family of a "default" route without gateway or src (default 4); otherwise taken from the addresses. */
  family?: Family;
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

/** A route from {@linkcode routeList}. */
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

/** The validated fields of a RouteSpec (all checks happen before any libnl object exists). */
interface ParsedRoute {
  family: Family;
  dst: Cidr;
  gw?: Uint8Array<ArrayBuffer>;
  src?: Uint8Array<ArrayBuffer>;
  table: number;
  scope?: number;
  metric: number;
}

function parseRoute(verb: string, r: RouteSpec): ParsedRoute {
  if (typeof r !== "object" || r === null) throw new TypeError(`${verb}: route spec required`);
  const gwIp = r.gateway === undefined ? undefined : parseIp(r.gateway, "gateway");
  const srcIp = r.src === undefined ? undefined : parseIp(r.src, "route src");
  let dst: Cidr;
  if (r.dst === "default") {
    const family = r.family ?? gwIp?.family ?? srcIp?.family ?? 4;
    dst = { family, bytes: new Uint8Array(family === 6 ? 16 : 4), prefixLen: 0 };
  } else {
    dst = parseCidr(r.dst, "route destination");
    if (!isNetwork(dst)) throw new RangeError(`invalid route destination: ${r.dst} (host bits set)`);
  }
  for (const [what, x] of [["gateway", gwIp], ["src", srcIp]] as const) {
    if (x && x.family !== dst.family) {
      throw new TypeError(`${verb}: ${what} and destination differ in family`);
    }
  }
  if (r.family !== undefined && r.family !== dst.family) {
    throw new TypeError(`${verb}: family ${r.family} does not match ${r.dst}`);
  }
  const table = r.table === undefined ? RT_TABLE_MAIN : checkU32(r.table, "table");
  if (table === 0) throw new RangeError("invalid table: 0");
  const scope = r.scope === undefined ? undefined : scopeNumber(r.scope, "route scope");
  if (r.ifindex !== undefined) checkIfindex(r.ifindex);
  const metric = r.metric === undefined ? 0 : checkU32(r.metric, "metric");
  return { family: dst.family, dst, gw: gwIp?.bytes, src: srcIp?.bytes, table, scope, metric };
}

function routeOp(nl: NlSocket, verb: string, r: RouteSpec, send: (route: Ptr) => number, del = false): void {
  const p = parseRoute(verb, r);
  const op = `${verb} ${r.dst}${r.gateway ? " via " + r.gateway : ""}${
    r.ifindex ? " dev " + r.ifindex : ""
  } table ${p.table}`;
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const route = rt.rtnl_route_alloc();
    if (!route) throw new NetlinkError(op, 5, "out of memory");
    s.defer(() => rt.rtnl_route_put(route));
    const af = afOf(p.family);
    rt.rtnl_route_set_family(route, af);
    rt.rtnl_route_set_table(route, p.table);
    rt.rtnl_route_set_type(route, RTN_UNICAST);
    rt.rtnl_route_set_protocol(route, del ? 0 : RTPROT_BOOT);
    rt.rtnl_route_set_priority(route, p.metric);
    nl.check(op, rt.rtnl_route_set_dst(route, nl.nlAddr(s, af, p.dst.bytes, p.dst.prefixLen)));
    if (p.scope !== undefined) rt.rtnl_route_set_scope(route, p.scope);
    else if (del) rt.rtnl_route_set_scope(route, RT_SCOPE_NOWHERE);
    if (p.src) nl.check(op, rt.rtnl_route_set_pref_src(route, nl.nlAddr(s, af, p.src, p.src.length * 8)));
    if (p.gw || r.ifindex !== undefined || r.onlink) {
      const nh = rt.rtnl_route_nh_alloc();
      if (!nh) throw new NetlinkError(op, 5, "out of memory");
      rt.rtnl_route_add_nexthop(route, nh); // the route owns nh from here on
      if (r.ifindex !== undefined) rt.rtnl_route_nh_set_ifindex(nh, r.ifindex);
      if (p.gw) rt.rtnl_route_nh_set_gateway(nh, nl.nlAddr(s, af, p.gw, p.gw.length * 8));
      if (r.onlink) rt.rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
    }
    nl.check(op, send(route));
  });
}

/** Add a route; NetlinkError (exists) when it is already there. */
export function routeAdd(nl: NlSocket, r: RouteSpec): void {
  routeOp(nl, "routeAdd", r, (x) => nl.lib.rt.rtnl_route_add(nl.sock(), x, NLM_F_CREATE | NLM_F_EXCL));
}

/** Add or replace a route (same dst/table/metric). */
export function routeReplace(nl: NlSocket, r: RouteSpec): void {
  routeOp(nl, "routeReplace", r, (x) => nl.lib.rt.rtnl_route_add(nl.sock(), x, NLM_F_CREATE | NLM_F_REPLACE));
}

/** Delete a route; unspecified fields match anything. NetlinkError (notFound) when missing. */
export function routeDel(nl: NlSocket, r: RouteSpec): void {
  routeOp(nl, "routeDel", r, (x) => nl.lib.rt.rtnl_route_delete(nl.sock(), x, 0), true);
}

function routeInfo(nl: NlSocket, x: Ptr, family: Family): RouteInfo {
  const rt = nl.lib.rt;
  const dstA = nl.readAddr(rt.rtnl_route_get_dst(x));
  const dst = !dstA || dstA.prefixLen === 0 ? "default" : nl.cidr(rt.rtnl_route_get_dst(x), family)!;
  const type = rt.rtnl_route_get_type(x);
  const info: RouteInfo = {
    dst,
    table: rt.rtnl_route_get_table(x),
    scope: scopeName(rt.rtnl_route_get_scope(x)),
    metric: rt.rtnl_route_get_priority(x),
    protocol: rt.rtnl_route_get_protocol(x),
    type: RTN_TYPES[type] ?? String(type),
  };
  if (rt.rtnl_route_get_nnexthops(x) > 0) {
    const nh = rt.rtnl_route_nexthop_n(x, 0);
    if (nh) {
      const gw = nl.ip(rt.rtnl_route_nh_get_gateway(nh));
      if (gw) info.gateway = gw;
      const ifi = rt.rtnl_route_nh_get_ifindex(nh);
      if (ifi) info.ifindex = ifi;
      if (rt.rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) info.onlink = true;
    }
  }
  const src = nl.ip(rt.rtnl_route_get_pref_src(x));
  if (src) info.src = src;
  return info;
}

/** Routes of one family (default IPv4) in one table (default main, 254); `table: 0` lists every table. */
export function routeList(nl: NlSocket, o: { table?: number; family?: Family } = {}): RouteInfo[] {
  const table = o.table === undefined ? RT_TABLE_MAIN : checkU32(o.table, "table");
  const family = o.family ?? 4;
  const rt = nl.lib.rt;
  const out: RouteInfo[] = [];
  nl.each("routeList", (c) => rt.rtnl_route_alloc_cache(nl.sock(), afOf(family), 0, c), (x) => {
    if (familyOf(rt.rtnl_route_get_family(x)) !== family) return;
    if (table && rt.rtnl_route_get_table(x) !== table) return;
    out.push(routeInfo(nl, x, family));
  });
  return out;
}
