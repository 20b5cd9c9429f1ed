/**
 * Typed netlink binding over libnl-3 / libnl-route-3, network namespace handles and
 * sysctl. Importing this module loads nothing: libnl is dlopened on the first
 * {@linkcode Netlink.open}.
 *
 * One module per netlink object kind — `link.ts`, `addr.ts`, `route.ts`, `rule.ts`,
 * `neigh.ts` — over the socket plumbing of `nl_socket.ts`; {@linkcode Netlink}
 * (`netlink.ts`) is their public face.
 *
 * @module
 */

export { Netns, withNetns } from "./netns.ts";
export { Netlink } from "./netlink.ts";
export type { LinkInfo, LinkRef, VethOptions } from "./link.ts";
export type { AddrInfo, AddrOptions } from "./addr.ts";
export type { Family } from "./parse.ts";
export type { RouteInfo, RouteSpec } from "./route.ts";
export type { RuleInfo, RuleSpec } from "./rule.ts";
export type { NeighInfo, NeighSpec } from "./neigh.ts";
export type { Scope } from "./scope.ts";
export { NetlinkError } from "./errors.ts";
export { sysctlRead, sysctlWrite } from "./sysctl.ts";
export { libnlLoaded } from "./libnl.ts";
