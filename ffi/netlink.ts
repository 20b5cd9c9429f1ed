/**
 * {@linkcode Netlink}: one NETLINK_ROUTE socket bound to a network namespace when it is
 * opened, with typed link / address / route / rule / neighbour calls. Each object kind lives
 * in its own module (`link.ts`, `addr.ts`, `route.ts`, `rule.ts`, `neigh.ts`) over the
 * shared plumbing of `nl_socket.ts`; this class is their one public face.
 *
 * Every libnl object allocated by a call is released before the call returns.
 *
 * @module
 */

import * as addr from "./addr.ts";
import * as link from "./link.ts";
import * as neigh from "./neigh.ts";
import type { Netns } from "./netns.ts";
import { NlSocket } from "./nl_socket.ts";
import * as route from "./route.ts";
import * as rule from "./rule.ts";
import type { Family } from "./parse.ts";

export type { AddrInfo, AddrOptions } from "./addr.ts";
export type { LinkInfo, LinkRef, VethOptions } from "./link.ts";
export type { NeighInfo, NeighSpec } from "./neigh.ts";
export type { RouteInfo, RouteSpec } from "./route.ts";
export type { RuleInfo, RuleSpec } from "./rule.ts";
export type { Scope } from "./scope.ts";
export type { Family } from "./parse.ts";

/** A NETLINK_ROUTE socket bound, at open, to one network namespace. */
export class Netlink {
  #nl: NlSocket;

  private constructor(nl: NlSocket) {
    this.#nl = nl;
  }

  /**
   * Open a socket in `ns` (a handle, or a path / name under /var/run/netns), or in the
   * calling thread's namespace. The socket keeps working in that namespace.
   */
  static open(ns?: Netns | string): Netlink {
    return new Netlink(NlSocket.open(ns));
  }

  /** The namespace path the socket was opened in ("" for the caller's). */
  get nsPath(): string {
    return this.#nl.nsPath;
  }

  /** Close the socket; idempotent. */
  close(): void {
    this.#nl.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---------- links (link.ts) ----------

  /** All links in the socket's namespace. */
  linkList(): link.LinkInfo[] {
    return link.linkList(this.#nl);
  }

  /** The link called `name`; NetlinkError (notFound) when missing. */
  linkByName(name: string): link.LinkInfo {
    return link.linkByName(this.#nl, name);
  }

  /** The link with ifindex `index`; NetlinkError (notFound) when missing. */
  linkByIndex(index: number): link.LinkInfo {
    return link.linkByIndex(this.#nl, index);
  }

  /** The link with hardware address `mac` (case-insensitive); NetlinkError (notFound) when missing. */
  linkByMac(mac: string): link.LinkInfo {
    return link.linkByMac(this.#nl, mac);
  }

  /** The link called `name`, or undefined. */
  findLink(name: string): link.LinkInfo | undefined {
    return link.findLink(this.#nl, name);
  }

  /** Create a veth pair; the peer may be created directly in another namespace. Both ends start down. */
  vethAdd(o: link.VethOptions): void {
    link.vethAdd(this.#nl, o);
  }

  /** Set IFF_UP. */
  linkSetUp(l: link.LinkRef): void {
    link.linkSetUp(this.#nl, l, true);
  }

  /** Clear IFF_UP. */
  linkSetDown(l: link.LinkRef): void {
    link.linkSetUp(this.#nl, l, false);
  }

  /** Set the MTU. */
  linkSetMtu(l: link.LinkRef, mtu: number): void {
    link.linkSetMtu(this.#nl, l, mtu);
  }

  /** Set the hardware address. */
  linkSetMac(l: link.LinkRef, mac: string): void {
    link.linkSetMac(this.#nl, l, mac);
  }

  /** Rename (the link must be down). */
  linkSetName(l: link.LinkRef, name: string): void {
    link.linkSetName(this.#nl, l, name);
  }

  /** Move the link into another namespace (a handle, or a path / name). */
  linkSetNs(l: link.LinkRef, ns: Netns | string): void {
    link.linkSetNs(this.#nl, l, ns);
  }

  /** Delete the link (for a veth, both ends go). */
  linkDel(l: link.LinkRef): void {
    link.linkDel(this.#nl, l);
  }

  // ---------- addresses (addr.ts) ----------

  /** Add `addr/len` (IPv4 or IPv6) to a link; IPv6 with `noDad` skips duplicate address detection. */
  addrAdd(l: link.LinkRef, cidr: string, o: addr.AddrOptions = {}): void {
    addr.addrAdd(this.#nl, l, cidr, o);
  }

  /** Remove `addr/len` from a link. */
  addrDel(l: link.LinkRef, cidr: string): void {
    addr.addrDel(this.#nl, l, cidr);
  }

  /** Addresses of one family (default IPv4), of one link or all. */
  addrList(l?: link.LinkRef, o: { family?: Family } = {}): addr.AddrInfo[] {
    return addr.addrList(this.#nl, l, o);
  }

  // ---------- routes (route.ts) ----------

  /** Add a route; NetlinkError (exists) when it is already there. */
  routeAdd(r: route.RouteSpec): void {
    route.routeAdd(this.#nl, r);
  }

  /** Add or replace a route (same dst/table/metric). */
  routeReplace(r: route.RouteSpec): void {
    route.routeReplace(this.#nl, r);
  }

  /** Delete a route; unspecified fields match anything. NetlinkError (notFound) when missing. */
  routeDel(r: route.RouteSpec): void {
    route.routeDel(this.#nl, r);
  }

  /** Routes of one family (default IPv4) in one table (default main, 254); `table: 0` lists every table. */
  routeList(o: { table?: number; family?: Family } = {}): route.RouteInfo[] {
    return route.routeList(this.#nl, o);
  }

  // ---------- rules (rule.ts) ----------

  /** Add a rule; NetlinkError (exists) when an identical rule is there. */
  ruleAdd(r: rule.RuleSpec): void {
    rule.ruleAdd(this.#nl, r);
  }

  /** Delete the first rule matching the given fields; NetlinkError (notFound) when none. */
  ruleDel(r: rule.RuleSpec): void {
    rule.ruleDel(this.#nl, r);
  }

  /** Rules of one family (default IPv4), in kernel order. */
  ruleList(o: { family?: Family } = {}): rule.RuleInfo[] {
    return rule.ruleList(this.#nl, o);
  }

  // ---------- neighbours (neigh.ts) ----------

  /** Add or replace a permanent (NUD_PERMANENT) neighbour entry. */
  neighAdd(o: neigh.NeighSpec): void {
    neigh.neighAdd(this.#nl, o);
  }

  /** Delete a neighbour entry; NetlinkError (notFound) when missing. */
  neighDel(o: { ifindex: number; ip: string }): void {
    neigh.neighDel(this.#nl, o);
  }

  /** Neighbour entries of one family (default IPv4), of one link or all. */
  neighList(ifindex?: number, o: { family?: Family } = {}): neigh.NeighInfo[] {
    return neigh.neighList(this.#nl, ifindex, o);
  }
}
