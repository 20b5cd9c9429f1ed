/**
 * Neighbours: add (permanent), delete and list IPv4 (ARP) and IPv6 (NDP) neighbour entries. Functions over an
 * {@linkcode NlSocket}; {@linkcode Netlink} exposes them as methods.
 *
 * @module
 */

import { NetlinkError } from "./errors.ts";
import { AF_LLC, afOf, familyOf, NLM_F_CREATE, NLM_F_REPLACE, type NlSocket, type Ptr } from "./nl_socket.ts";
import { checkIfindex, type Family, formatMac, parseIp, parseMac } from "./parse.ts";

const NUD_PERMANENT = 0x80;

/** A permanent neighbour entry. */
export interface NeighSpec {
  ifindex: number;
  ip: string;
  mac: string;
}

/** A neighbour from {@linkcode neighList}. */
export interface NeighInfo {
  ifindex: number;
  ip: string;
  mac?: string;
  /** NUD_* bits (0x80 = permanent). */
  state: number;
}

function neighOp(nl: NlSocket, verb: string, o: NeighSpec, send: (n: Ptr) => number, withMac: boolean): void {
  if (typeof o !== "object" || o === null) throw new TypeError(`${verb}: neighbour spec required`);
  checkIfindex(o.ifindex);
  const ip = parseIp(o.ip, "neighbour IP");
  const mac = withMac ? parseMac(o.mac) : undefined;
  const op = `${verb} ${o.ip}${mac ? " lladdr " + o.mac : ""} dev ${o.ifindex}`;
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const n = rt.rtnl_neigh_alloc();
    if (!n) throw new NetlinkError(op, 5, "out of memory");
    s.defer(() => rt.rtnl_neigh_put(n));
    const af = afOf(ip.family);
    rt.rtnl_neigh_set_family(n, af);
    rt.rtnl_neigh_set_ifindex(n, o.ifindex);
    nl.check(op, rt.rtnl_neigh_set_dst(n, nl.nlAddr(s, af, ip.bytes, ip.bytes.length * 8)));
    if (mac) rt.rtnl_neigh_set_lladdr(n, nl.nlAddr(s, AF_LLC, mac));
    rt.rtnl_neigh_set_state(n, NUD_PERMANENT);
    nl.check(op, send(n));
  });
}

/** Add or replace a permanent (NUD_PERMANENT) neighbour entry. */
export function neighAdd(nl: NlSocket, o: NeighSpec): void {
  neighOp(
    nl,
    "neighAdd",
    o,
    (n) => nl.lib.rt.rtnl_neigh_add(nl.sock(), n, NLM_F_CREATE | NLM_F_REPLACE),
    true,
  );
}

/** Delete a neighbour entry; NetlinkError (notFound) when missing. */
export function neighDel(nl: NlSocket, o: { ifindex: number; ip: string }): void {
  neighOp(nl, "neighDel", { ...o, mac: "" }, (n) => nl.lib.rt.rtnl_neigh_delete(nl.sock(), n, 0), false);
}

/** Neighbour entries of one family (default IPv4), of one link or all. */
export function neighList(nl: NlSocket, ifindex?: number, o: { family?: Family } = {}): NeighInfo[] {
  if (ifindex !== undefined) checkIfindex(ifindex);
  const family = o.family ?? 4;
  const rt = nl.lib.rt;
  const out: NeighInfo[] = [];
  nl.each("neighList", (c) => rt.rtnl_neigh_alloc_cache(nl.sock(), c), (n) => {
    if (familyOf(rt.rtnl_neigh_get_family(n)) !== family) return;
    const idx = rt.rtnl_neigh_get_ifindex(n);
    if (ifindex !== undefined && idx !== ifindex) return;
    const ip = nl.ip(rt.rtnl_neigh_get_dst(n));
    if (!ip) return;
    const info: NeighInfo = { ifindex: idx, ip, state: rt.rtnl_neigh_get_state(n) };
    const ll = nl.readAddr(rt.rtnl_neigh_get_lladdr(n));
    if (ll && ll.bytes.length === 6) info.mac = formatMac(ll.bytes);
    out.push(info);
  });
  return out;
}
