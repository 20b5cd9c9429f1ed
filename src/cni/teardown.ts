/**
 * Removing a pod's host side (DEL, GC, a failed ADD): the veth, then the IP's policy rules, for IPv4 and IPv6
 * pods alike. Synchronous; runs in the node namespace.
 * @module
 */
import { type Netlink, NetlinkError } from "../../ffi/mod.ts";
import type { Logger } from "./log.ts";
import { wiringOf } from "./result.ts";
import { MAIN_TABLE } from "../common/routing.ts";
import { delRulesFor, openHost, step } from "./wiring.ts";
import { trace } from "../common/phase_trace.ts";

/** What teardown did. */
export interface Teardown {
  /** The IP whose rules were handled (given, or found from the veth's host route). */
  ip?: string;
  vethDeleted: boolean;
  rulesDeleted: number;
  /** The rules were left alone because another link now routes the IP. */
  ipInUseElsewhere: boolean;
}

/** The pod IP a host veth routes (its /32, else its /128 host route in main), if any. */
function ipRoutedBy(nl: Netlink, ifindex: number): string | undefined {
  for (const [family, len] of [[4, "/32"], [6, "/128"]] as const) {
    const r = nl.routeList({ table: MAIN_TABLE, family }).find((r) =>
      r.ifindex === ifindex && r.dst.endsWith(len)
    );
    if (r) return r.dst.slice(0, -len.length);
  }
  return undefined;
}

/**
 * Removes the host side: the veth (its peer and the host route go with it), then the IP's rules unless
 * another link routes the IP now (a stale DEL must not unwire a newer pod). Idempotent.
 */
export function teardownHost(hostVeth: string | undefined, ip: string | undefined, log: Logger): Teardown {
  const nl = openHost();
  trace.mark("libnl");
  try {
    const out: Teardown = { vethDeleted: false, rulesDeleted: 0, ipInUseElsewhere: false };
    if (hostVeth) {
      const l = step(`find ${hostVeth}`, () => nl.findLink(hostVeth), "nl.find");
      // No prevResult and no ipamd: the veth's host route names the pod's IP.
      if (l && !ip) ip = ipRoutedBy(nl, l.index);
      if (l) {
        step(`delete ${hostVeth}`, () => {
          try {
            nl.linkDel(l.index);
          } catch (e) {
            if (!(e instanceof NetlinkError && e.notFound)) throw e;
          }
        }, "nl.veth-del");
        out.vethDeleted = true;
      }
    }
    out.ip = ip;
    if (ip) {
      const w = wiringOf(ip);
      const cidr = `${ip}/${w.hostLen}`;
      const other = step(
        "list routes",
        () => nl.routeList({ table: MAIN_TABLE, family: w.family }),
        "nl.route-list",
      ).find((r) => r.dst === cidr);
      if (other) {
        out.ipInUseElsewhere = true;
        log.info("IP routed by another link, leaving its rules", { ip, ifindex: other.ifindex });
      } else {
        const pod = ip;
        out.rulesDeleted = step(`delete rules for ${ip}`, () => delRulesFor(nl, pod), "nl.rule-del");
      }
    }
    return out;
  } finally {
    nl.close();
  }
}

/** Finds the host link that routes `ip` (main table, its /32 or /128) when its name starts with `prefix`. */
export function hostVethForIp(ip: string, prefix: string): string | undefined {
  const nl = openHost();
  try {
    const w = wiringOf(ip);
    const r = nl.routeList({ table: MAIN_TABLE, family: w.family }).find((r) =>
      r.dst === `${ip}/${w.hostLen}` && r.ifindex !== undefined
    );
    if (!r || r.ifindex === undefined) return undefined;
    const idx = r.ifindex;
    const l = nl.linkList().find((l) => l.index === idx);
    return l && l.name.startsWith(prefix) ? l.name : undefined;
  } finally {
    nl.close();
  }
}
