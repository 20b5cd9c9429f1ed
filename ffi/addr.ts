/**
 * Addresses: add, delete and list a link's IPv4 addresses. Functions over an
 * {@linkcode NlSocket}; {@linkcode Netlink} exposes them as methods.
 *
 * @module
 */

import { NetlinkError } from "./errors.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { AF_INET, NLM_F_EXCL, type NlSocket, type Ptr } from "./nl_socket.ts";
import { parseCidr4 } from "./parse.ts";
import { type Scope, scopeName, scopeNumber } from "./scope.ts";

/** One IPv4 address on a link. */
export interface AddrInfo {
  ifindex: number;
  /** The address without prefix, e.g. "10.0.0.5". */
  address: string;
  prefixLen: number;
  scope: Scope;
}

function addrOp(
  nl: NlSocket,
  op: string,
  link: LinkRef,
  cidr: string,
  scope: Scope | number | undefined,
  send: (a: Ptr) => number,
): void {
  const c = parseCidr4(cidr, "address");
  const sc = scope === undefined ? undefined : scopeNumber(scope, "scope");
  const index = linkIndex(nl, op, link);
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const a = rt.rtnl_addr_alloc();
    if (!a) throw new NetlinkError(op, 5, "out of memory");
    s.defer(() => rt.rtnl_addr_put(a));
    rt.rtnl_addr_set_ifindex(a, index);
    rt.rtnl_addr_set_family(a, AF_INET);
    nl.check(op, rt.rtnl_addr_set_local(a, nl.nlAddr(s, AF_INET, c.bytes, c.prefixLen)));
    rt.rtnl_addr_set_prefixlen(a, c.prefixLen);
    if (sc !== undefined) rt.rtnl_addr_set_scope(a, sc);
    nl.check(op, send(a));
  });
}

/** Add `a.b.c.d/len` to a link. */
export function addrAdd(nl: NlSocket, link: LinkRef, cidr: string, o: { scope?: Scope | number } = {}): void {
  addrOp(
    nl,
    `addrAdd ${cidr} dev ${link}`,
    link,
    cidr,
    o.scope,
    (a) => nl.lib.rt.rtnl_addr_add(nl.sock(), a, NLM_F_EXCL),
  );
}

/** Remove `a.b.c.d/len` from a link. */
export function addrDel(nl: NlSocket, link: LinkRef, cidr: string): void {
  addrOp(
    nl,
    `addrDel ${cidr} dev ${link}`,
    link,
    cidr,
    undefined,
    (a) => nl.lib.rt.rtnl_addr_delete(nl.sock(), a, 0),
  );
}

/** IPv4 addresses, of one link or all. */
export function addrList(nl: NlSocket, link?: LinkRef): AddrInfo[] {
  const index = link === undefined ? 0 : linkIndex(nl, `addrList ${link}`, link);
  const rt = nl.lib.rt;
  const out: AddrInfo[] = [];
  nl.each("addrList", (o) => rt.rtnl_addr_alloc_cache(nl.sock(), o), (a) => {
    if (rt.rtnl_addr_get_family(a) !== AF_INET) return;
    const ifindex = rt.rtnl_addr_get_ifindex(a);
    if (index && ifindex !== index) return;
    const address = nl.ip(rt.rtnl_addr_get_local(a));
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
