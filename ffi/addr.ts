/**
 * Addresses: add, delete and list a link's IPv4 and IPv6 addresses. Functions over an
 * {@linkcode NlSocket}; {@linkcode Netlink} exposes them as methods.
 *
 * @module
 */

import { NetlinkError } from "./errors.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { afOf, familyOf, NLM_F_EXCL, type NlSocket, type Ptr } from "./nl_socket.ts";
import { type Family, parseCidr } from "./parse.ts";
import { type Scope, scopeName, scopeNumber } from "./scope.ts";

const IFA_F_NODAD = 0x02;
const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;

/** One address on a link. */
export interface AddrInfo {
  ifindex: number;
  /** The address without prefix, e.g. "10.0.0.5" or "2600:1f13::5". */
  address: string;
  prefixLen: number;
  scope: Scope;
  /** IPv6: duplicate address detection has not finished (IFA_F_TENTATIVE); only present when set. */
  tentative?: true;
  /** IPv6: duplicate address detection failed (IFA_F_DADFAILED); only present when set. */
  dadFailed?: true;
}

/** Options of {@linkcode addrAdd}. */
export interface AddrOptions {
  scope?: Scope | number;
  /** IPv6: skip duplicate address detection (IFA_F_NODAD), so the address is usable at once. */
  noDad?: boolean;
}

function addrOp(
  nl: NlSocket,
  op: string,
  link: LinkRef,
  cidr: string,
  o: AddrOptions,
  send: (a: Ptr) => number,
): void {
  const c = parseCidr(cidr, "address");
  const sc = o.scope === undefined ? undefined : scopeNumber(o.scope, "scope");
  const index = linkIndex(nl, op, link);
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const a = rt.rtnl_addr_alloc();
    if (!a) throw new NetlinkError(op, 5, "out of memory");
    s.defer(() => rt.rtnl_addr_put(a));
    rt.rtnl_addr_set_ifindex(a, index);
    rt.rtnl_addr_set_family(a, afOf(c.family));
    nl.check(op, rt.rtnl_addr_set_local(a, nl.nlAddr(s, afOf(c.family), c.bytes, c.prefixLen)));
    rt.rtnl_addr_set_prefixlen(a, c.prefixLen);
    if (sc !== undefined) rt.rtnl_addr_set_scope(a, sc);
    if (o.noDad) rt.rtnl_addr_set_flags(a, IFA_F_NODAD);
    nl.check(op, send(a));
  });
}

/** Add `addr/len` (IPv4 or IPv6) to a link. */
export function addrAdd(nl: NlSocket, link: LinkRef, cidr: string, o: AddrOptions = {}): void {
  addrOp(
    nl,
    `addrAdd ${cidr} dev ${link}`,
    link,
    cidr,
    o,
    (a) => nl.lib.rt.rtnl_addr_add(nl.sock(), a, NLM_F_EXCL),
  );
}

/** Remove `addr/len` from a link. */
export function addrDel(nl: NlSocket, link: LinkRef, cidr: string): void {
  addrOp(
    nl,
    `addrDel ${cidr} dev ${link}`,
    link,
    cidr,
    {},
    (a) => nl.lib.rt.rtnl_addr_delete(nl.sock(), a, 0),
  );
}

/** Addresses of one family (default IPv4), of one link or all. */
export function addrList(nl: NlSocket, link?: LinkRef, o: { family?: Family } = {}): AddrInfo[] {
  const family = o.family ?? 4;
  const index = link === undefined ? 0 : linkIndex(nl, `addrList ${link}`, link);
  const rt = nl.lib.rt;
  const out: AddrInfo[] = [];
  nl.each("addrList", (c) => rt.rtnl_addr_alloc_cache(nl.sock(), c), (a) => {
    if (familyOf(rt.rtnl_addr_get_family(a)) !== family) return;
    const ifindex = rt.rtnl_addr_get_ifindex(a);
    if (index && ifindex !== index) return;
    const address = nl.ip(rt.rtnl_addr_get_local(a));
    if (!address) return;
    const info: AddrInfo = {
      ifindex,
      address,
      prefixLen: rt.rtnl_addr_get_prefixlen(a),
      scope: scopeName(rt.rtnl_addr_get_scope(a)),
    };
    const flags = rt.rtnl_addr_get_flags(a);
    if (flags & IFA_F_TENTATIVE) info.tentative = true;
    if (flags & IFA_F_DADFAILED) info.dadFailed = true;
    out.push(info);
  });
  return out;
}
