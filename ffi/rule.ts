/**
 * Policy routing rules: add, delete and list IPv4 and IPv6 "lookup table" rules. Functions over an
 * {@linkcode NlSocket}; {@linkcode Netlink} exposes them as methods.
 *
 * @module
 */

import { NetlinkError } from "./errors.ts";
import { cstr } from "./libc.ts";
import { afOf, cstring, familyOf, NLM_F_EXCL, type NlSocket, type Ptr } from "./nl_socket.ts";
import { checkIfName, checkU32, type Family, parseCidr } from "./parse.ts";

const FR_ACT_TO_TBL = 1;

/** A policy routing rule (action "lookup table"). */
export interface RuleSpec {
  /** The family of a rule without src or dst (default 4); otherwise taken from the addresses. */
  family?: Family;
  priority?: number;
  /** "addr/len", IPv4 or IPv6 (a bare address means /32 or /128). */
  src?: string;
  dst?: string;
  fwmark?: number;
  /** Defaults to 0xffffffff in the kernel when fwmark is given. */
  fwmask?: number;
  /** Input interface name. */
  iif?: string;
  table: number;
}

/** A rule from {@linkcode ruleList}. */
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

/** `ip rule`-like text naming the rule, for errors. */
function ruleText(verb: string, r: RuleSpec): string {
  const parts = [verb];
  if (r.priority !== undefined) parts.push(`pref ${r.priority}`);
  if (r.src) parts.push(`from ${r.src}`);
  if (r.dst) parts.push(`to ${r.dst}`);
  if (r.fwmark !== undefined) parts.push(`fwmark ${r.fwmark}${r.fwmask !== undefined ? "/" + r.fwmask : ""}`);
  if (r.iif) parts.push(`iif ${r.iif}`);
  parts.push(`table ${r.table}`);
  return parts.join(" ");
}

function ruleOp(nl: NlSocket, verb: string, r: RuleSpec, send: (rule: Ptr) => number): void {
  if (typeof r !== "object" || r === null) throw new TypeError(`${verb}: rule spec required`);
  const table = checkU32(r.table, "table");
  const src = r.src === undefined ? undefined : parseCidr(r.src, "rule src", true);
  const dst = r.dst === undefined ? undefined : parseCidr(r.dst, "rule dst", true);
  const family = r.family ?? src?.family ?? dst?.family ?? 4;
  if ((src && src.family !== family) || (dst && dst.family !== family)) {
    throw new TypeError(`${verb}: the rule's addresses and family differ`);
  }
  const af = afOf(family);
  if (r.priority !== undefined) checkU32(r.priority, "priority");
  if (r.fwmark !== undefined) checkU32(r.fwmark, "fwmark");
  if (r.fwmask !== undefined) checkU32(r.fwmask, "fwmask");
  if (r.iif !== undefined) checkIfName(r.iif, "iif");
  const op = ruleText(verb, r);
  const rt = nl.lib.rt;
  nl.scoped((s) => {
    const rule = rt.rtnl_rule_alloc();
    if (!rule) throw new NetlinkError(op, 5, "out of memory");
    s.defer(() => rt.rtnl_rule_put(rule));
    rt.rtnl_rule_set_family(rule, af);
    rt.rtnl_rule_set_table(rule, table);
    rt.rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
    if (r.priority !== undefined) rt.rtnl_rule_set_prio(rule, r.priority);
    if (src) nl.check(op, rt.rtnl_rule_set_src(rule, nl.nlAddr(s, af, src.bytes, src.prefixLen)));
    if (dst) nl.check(op, rt.rtnl_rule_set_dst(rule, nl.nlAddr(s, af, dst.bytes, dst.prefixLen)));
    if (r.fwmark !== undefined) rt.rtnl_rule_set_mark(rule, r.fwmark);
    if (r.fwmask !== undefined) rt.rtnl_rule_set_mask(rule, r.fwmask);
    if (r.iif !== undefined) nl.check(op, rt.rtnl_rule_set_iif(rule, cstr(r.iif)));
    nl.check(op, send(rule));
  });
}

/** Add a rule; NetlinkError (exists) when an identical rule is there. */
export function ruleAdd(nl: NlSocket, r: RuleSpec): void {
  ruleOp(nl, "ruleAdd", r, (x) => nl.lib.rt.rtnl_rule_add(nl.sock(), x, NLM_F_EXCL));
}

/** Delete the first rule matching the given fields; NetlinkError (notFound) when none. */
export function ruleDel(nl: NlSocket, r: RuleSpec): void {
  ruleOp(nl, "ruleDel", r, (x) => nl.lib.rt.rtnl_rule_delete(nl.sock(), x, 0));
}

/** Rules of one family (default IPv4), in kernel order. */
export function ruleList(nl: NlSocket, o: { family?: Family } = {}): RuleInfo[] {
  const family = o.family ?? 4;
  const rt = nl.lib.rt;
  const out: RuleInfo[] = [];
  nl.each("ruleList", (c) => rt.rtnl_rule_alloc_cache(nl.sock(), afOf(family), c), (x) => {
    if (familyOf(rt.rtnl_rule_get_family(x)) !== family) return;
    const info: RuleInfo = {
      priority: rt.rtnl_rule_get_prio(x),
      table: rt.rtnl_rule_get_table(x),
      action: rt.rtnl_rule_get_action(x),
    };
    const src = nl.cidr(rt.rtnl_rule_get_src(x), family);
    if (src && !src.endsWith("/0")) info.src = src;
    const dst = nl.cidr(rt.rtnl_rule_get_dst(x), family);
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
