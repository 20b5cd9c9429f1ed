/**
 * Typed netlink binding over libnl-3 / libnl-route-3, network namespace handles and
 * sysctl. Importing this module loads nothing: libnl is dlopened on the first
 * {@linkcode Netlink.open}.
 *
 * @module
 */

export { Netns, withNetns } from "./netns.ts";
export { Netlink } from "./netlink.ts";
export type {
  AddrInfo,
  LinkInfo,
  LinkRef,
  NeighInfo,
  NeighSpec,
  RouteInfo,
  RouteSpec,
  RuleInfo,
  RuleSpec,
  Scope,
  VethOptions,
} from "./netlink.ts";
export { NetlinkError } from "./errors.ts";
export { sysctlRead, sysctlWrite } from "./sysctl.ts";
export { libnlLoaded } from "./libnl.ts";
