/**
 * Links: list and look up, create veth pairs, set up/down, MTU, MAC, name and namespace,
 * delete. Functions over an {@linkcode NlSocket}; {@linkcode Netlink} exposes them as methods.
 *
 * @module
 */

import { NetlinkError, NLE_OBJ_NOTFOUND } from "./errors.ts";
import { cstr } from "./libc.ts";
import { type Netns, toNetns } from "./netns.ts";
import {
  AF_LLC,
  cstring,
  NLM_F_CREATE,
  NLM_F_EXCL,
  type NlSocket,
  type Ptr,
  type Releaser,
} from "./nl_socket.ts";
import { checkIfindex, checkIfName, formatMac, parseMac } from "./parse.ts";

const IFF_UP = 0x1;

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

/** Options of {@linkcode vethAdd}. */
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

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RangeError(`invalid MTU: ${mtu}`);
}

function linkInfo(nl: NlSocket, l: Ptr): LinkInfo {
  const rt = nl.lib.rt;
  const addr = nl.readAddr(rt.rtnl_link_get_addr(l));
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

function getLink(nl: NlSocket, op: string, index: number, name: string | null): LinkInfo {
  const rt = nl.lib.rt;
  const out = new BigUint64Array(1);
  nl.check(op, rt.rtnl_link_get_kernel(nl.sock(), index, name === null ? null : cstr(name), out));
  const l = Deno.UnsafePointer.create(out[0]);
  if (!l) throw new NetlinkError(op, NLE_OBJ_NOTFOUND, "no such link");
  try {
    return linkInfo(nl, l);
  } finally {
    rt.rtnl_link_put(l);
  }
}

/** The ifindex of `ref` (a name is looked up; `op` names the caller in errors). */
export function linkIndex(nl: NlSocket, op: string, ref: LinkRef): number {
  if (typeof ref === "number") return checkIfindex(ref);
  checkIfName(ref);
  return getLink(nl, op, 0, ref).index;
}

/** rtnl_link_change on `ref` with the attributes `set` puts on the change object. */
function change(nl: NlSocket, op: string, ref: LinkRef, set: (change: Ptr, s: Releaser) => void): void {
  const index = linkIndex(nl, op, ref);
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const orig = rt.rtnl_link_alloc();
    const change = rt.rtnl_link_alloc();
    if (orig) s.defer(() => rt.rtnl_link_put(orig));
    if (change) s.defer(() => rt.rtnl_link_put(change));
    if (!orig || !change) throw new NetlinkError(op, 5, "out of memory");
    rt.rtnl_link_set_ifindex(orig, index);
    set(change, s);
    nl.check(op, rt.rtnl_link_change(nl.sock(), orig, change, 0));
  });
}

/** All links in the socket's namespace. */
export function linkList(nl: NlSocket): LinkInfo[] {
  const out: LinkInfo[] = [];
  nl.each(
    "linkList",
    (o) => nl.lib.rt.rtnl_link_alloc_cache(nl.sock(), 0, o),
    (l) => out.push(linkInfo(nl, l)),
  );
  return out;
}

/** The link called `name`; NetlinkError (notFound) when missing. */
export function linkByName(nl: NlSocket, name: string): LinkInfo {
  checkIfName(name);
  return getLink(nl, `linkByName ${name}`, 0, name);
}

/** The link with ifindex `index`; NetlinkError (notFound) when missing. */
export function linkByIndex(nl: NlSocket, index: number): LinkInfo {
  return getLink(nl, `linkByIndex ${index}`, checkIfindex(index), null);
}

/** The link with hardware address `mac` (case-insensitive); NetlinkError (notFound) when missing. */
export function linkByMac(nl: NlSocket, mac: string): LinkInfo {
  const want = formatMac(parseMac(mac));
  const l = linkList(nl).find((x) => x.mac === want);
  if (!l) throw new NetlinkError(`linkByMac ${want}`, NLE_OBJ_NOTFOUND, "no link with this MAC address");
  return l;
}

/** The link called `name`, or undefined. */
export function findLink(nl: NlSocket, name: string): LinkInfo | undefined {
  try {
    return linkByName(nl, name);
  } catch (e) {
    if (e instanceof NetlinkError && e.notFound) return undefined;
    throw e;
  }
}

/** Create a veth pair; the peer may be created directly in another namespace. Both ends start down. */
export function vethAdd(nl: NlSocket, o: VethOptions): void {
  checkIfName(o.name, "veth name");
  checkIfName(o.peerName, "veth peer name");
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  const peerMac = o.peerMac === undefined ? undefined : parseMac(o.peerMac);
  if (o.mtu !== undefined) checkMtu(o.mtu);
  const op = `vethAdd ${o.name} peer ${o.peerName}`;
  const rt = nl.lib.rt;
  nl.scoped((s) => {
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
    if (mac) rt.rtnl_link_set_addr(veth, nl.nlAddr(s, AF_LLC, mac));
    if (peerMac) rt.rtnl_link_set_addr(peer, nl.nlAddr(s, AF_LLC, peerMac));
    if (handle) rt.rtnl_link_set_ns_fd(peer, handle.ns.fd);
    nl.check(op, rt.rtnl_link_add(nl.sock(), veth, NLM_F_CREATE | NLM_F_EXCL));
  });
}

/** Set (up = true) or clear IFF_UP. */
export function linkSetUp(nl: NlSocket, link: LinkRef, up: boolean): void {
  const rt = nl.lib.rt;
  change(
    nl,
    `${up ? "linkSetUp" : "linkSetDown"} ${link}`,
    link,
    (c) => up ? rt.rtnl_link_set_flags(c, IFF_UP) : rt.rtnl_link_unset_flags(c, IFF_UP),
  );
}

/** Set the MTU. */
export function linkSetMtu(nl: NlSocket, link: LinkRef, mtu: number): void {
  checkMtu(mtu);
  change(nl, `linkSetMtu ${link} ${mtu}`, link, (c) => nl.lib.rt.rtnl_link_set_mtu(c, mtu));
}

/** Set the hardware address. */
export function linkSetMac(nl: NlSocket, link: LinkRef, mac: string): void {
  const b = parseMac(mac);
  change(
    nl,
    `linkSetMac ${link} ${mac}`,
    link,
    (c, s) => nl.lib.rt.rtnl_link_set_addr(c, nl.nlAddr(s, AF_LLC, b)),
  );
}

/** Rename (the link must be down). */
export function linkSetName(nl: NlSocket, link: LinkRef, name: string): void {
  checkIfName(name);
  change(nl, `linkSetName ${link} ${name}`, link, (c) => nl.lib.rt.rtnl_link_set_name(c, cstr(name)));
}

/** Move the link into another namespace (a handle, or a path / name). */
export function linkSetNs(nl: NlSocket, link: LinkRef, ns: Netns | string): void {
  const op = `linkSetNs ${link} ${typeof ns === "string" ? ns : ns.path}`;
  const index = linkIndex(nl, op, link);
  const handle = toNetns(ns);
  try {
    change(nl, op, index, (c) => nl.lib.rt.rtnl_link_set_ns_fd(c, handle.ns.fd));
  } finally {
    if (handle.owned) handle.ns.close();
  }
}

/** Delete the link (for a veth, both ends go). */
export function linkDel(nl: NlSocket, link: LinkRef): void {
  const op = `linkDel ${link}`;
  const index = linkIndex(nl, op, link);
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const l = rt.rtnl_link_alloc();
    if (!l) throw new NetlinkError(op, 5, "out of memory");
    s.defer(() => rt.rtnl_link_put(l));
    rt.rtnl_link_set_ifindex(l, index);
    nl.check(op, rt.rtnl_link_delete(nl.sock(), l));
  });
}
