/**
 * Pod wiring over ffi/mod.ts (netlink): the host veth, the pod side, the host route and the policy rules,
 * and their teardown and check. Everything here is synchronous; the caller runs it in the node namespace.
 * @module
 */
import { Netlink, NetlinkError, Netns, sysctlWrite } from "../../ffi/mod.ts";
import { GATEWAY, type PodAttachment } from "./result.ts";
import { CniError, Code } from "./spec.ts";
import type { Logger } from "./log.ts";

/** The main routing table. */
export const MAIN_TABLE = 254;
/** Rule priority for `to IP lookup main`. */
export const TO_RULE_PRIORITY = 512;
/** Rule priority for `from IP lookup <ENI table>`. */
export const FROM_RULE_PRIORITY = 1536;

/** A random, locally administered, unicast MAC. */
export function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  b[0] = (b[0] & 0xfc) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Runs one netlink step, turning failures into code 104 naming the step. */
function step<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CniError) throw e;
    const m = e instanceof NetlinkError ? `${e.errName}: ${e.message}` : (e as Error).message;
    throw new CniError(Code.NETLINK, `${what}: ${m}`, "", { cause: e });
  }
}

/** Opens a netlink socket in the current namespace (code 106 when libnl cannot be loaded). */
export function openHost(): Netlink {
  try {
    return Netlink.open();
  } catch (e) {
    if (e instanceof NetlinkError) {
      throw new CniError(Code.NETLINK, `netlink: ${e.message}`, "", { cause: e });
    }
    throw new CniError(Code.LIBNL_LOAD, `cannot load libnl: ${(e as Error).message}`, "", { cause: e });
  }
}

/** Opens the pod's namespace (code 3 when it is gone or not a namespace). */
export function openPodNs(path: string): Netns {
  let ns: Netns;
  try {
    ns = Netns.open(path);
  } catch (e) {
    throw new CniError(Code.UNKNOWN_CONTAINER, `cannot open netns ${path}: ${(e as Error).message}`, "", {
      cause: e,
    });
  }
  // A regular file or a directory opens too; only nsfs (the device of our own netns) is a namespace.
  let nsfs = false;
  try {
    nsfs = Deno.statSync(ns.path).dev === Deno.statSync("/proc/thread-self/ns/net").dev;
  } catch { /* treated as not a namespace */ }
  if (!nsfs) {
    ns.close();
    throw new CniError(Code.UNKNOWN_CONTAINER, `CNI_NETNS ${path} is not a network namespace`);
  }
  return ns;
}

/** Throws 101 when `ifName` already exists in the pod namespace (checked before asking ipamd). */
export function assertNoPodInterface(netnsPath: string, ifName: string): void {
  const ns = openPodNs(netnsPath);
  try {
    openHost().close(); // loads libnl with the right error code
    const nl = step(`netlink in ${netnsPath}`, () => Netlink.open(ns));
    try {
      if (nl.findLink(ifName)) {
        throw new CniError(Code.IFACE_EXISTS, `interface ${ifName} already exists in ${netnsPath}`);
      }
    } finally {
      nl.close();
    }
  } finally {
    ns.close();
  }
}

/** What ADD wires. */
export interface WireSpec {
  hostVeth: string;
  ifName: string;
  netnsPath: string;
  ipv4: string;
  routeTable: number;
  mtu: number;
}

function writeHostSysctls(veth: string, log: Logger): void {
  const want: [string, string][] = [["accept_ra", "0"], ["accept_redirects", "1"], ["forwarding", "0"]];
  for (const [k, v] of want) {
    try {
      sysctlWrite(`net/ipv6/conf/${veth}/${k}`, v);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new CniError(Code.NETLINK, `sysctl net/ipv6/conf/${veth}/${k}=${v}: ${(e as Error).message}`);
      }
      // IPv6 disabled: the keys do not exist. Skip quietly.
      log.debug("ipv6 sysctl skipped (no IPv6)", { key: k, veth });
    }
  }
}

/** Deletes stale policy rules for `ip` (priority 512 to / 1536 from). Returns how many. */
function delRulesFor(nl: Netlink, ip: string): number {
  const cidr = `${ip}/32`;
  let n = 0;
  for (const r of nl.ruleList()) {
    const mine = (r.priority === TO_RULE_PRIORITY && r.dst === cidr) ||
      (r.priority === FROM_RULE_PRIORITY && r.src === cidr);
    if (!mine) continue;
    try {
      nl.ruleDel({ priority: r.priority, src: r.src, dst: r.dst, table: r.table });
      n++;
    } catch (e) {
      if (!(e instanceof NetlinkError && e.notFound)) throw e;
    }
  }
  return n;
}

/**
 * Wires the pod. On any failure every step done so far is undone (in reverse) before the error is thrown.
 */
export function wirePod(spec: WireSpec, log: Logger): PodAttachment {
  const undo: [string, () => void][] = [];
  const ns = openPodNs(spec.netnsPath);
  const host = openHost();
  let pod: Netlink | undefined;
  try {
    pod = step(`netlink in ${spec.netnsPath}`, () => Netlink.open(ns));
    const podNl = pod;
    if (podNl.findLink(spec.ifName)) {
      throw new CniError(Code.IFACE_EXISTS, `interface ${spec.ifName} already exists in ${spec.netnsPath}`);
    }
    const stale = host.findLink(spec.hostVeth);
    if (stale) {
      if (stale.kind !== "veth") {
        throw new CniError(
          Code.NETLINK,
          `host link ${spec.hostVeth} exists and is not a veth (${stale.kind ?? "?"})`,
        );
      }
      log.info("deleting stale host veth", { veth: spec.hostVeth });
      step(`delete stale ${spec.hostVeth}`, () => host.linkDel(stale.index));
    }
    const hostMac = randomMac();
    step(
      `create veth ${spec.hostVeth}/${spec.ifName}`,
      () =>
        host.vethAdd({ name: spec.hostVeth, peerName: spec.ifName, peerNs: ns, mtu: spec.mtu, mac: hostMac }),
    );
    undo.push([`delete ${spec.hostVeth}`, () => {
      const l = host.findLink(spec.hostVeth);
      if (l) host.linkDel(l.index);
    }]);
    const hostLink = step(`find ${spec.hostVeth}`, () => host.linkByName(spec.hostVeth));
    writeHostSysctls(spec.hostVeth, log);
    step(`set ${spec.hostVeth} up`, () => host.linkSetUp(hostLink.index));

    const podLink = step(`find ${spec.ifName} in pod`, () => podNl.linkByName(spec.ifName));
    const lo = podNl.findLink("lo");
    if (lo) step("set lo up", () => podNl.linkSetUp(lo.index));
    step(`set ${spec.ifName} up`, () => podNl.linkSetUp(podLink.index));
    step(`add ${spec.ipv4}/32 to ${spec.ifName}`, () => podNl.addrAdd(podLink.index, `${spec.ipv4}/32`));
    step(
      `pod route ${GATEWAY}/32`,
      () => podNl.routeAdd({ dst: `${GATEWAY}/32`, ifindex: podLink.index, scope: "link" }),
    );
    step(
      "pod default route",
      () => podNl.routeAdd({ dst: "default", gateway: GATEWAY, ifindex: podLink.index }),
    );
    step(
      `pod neighbour ${GATEWAY}`,
      () => podNl.neighAdd({ ifindex: podLink.index, ip: GATEWAY, mac: hostMac }),
    );

    const cidr = `${spec.ipv4}/32`;
    step(
      `host route ${cidr}`,
      () => host.routeReplace({ dst: cidr, ifindex: hostLink.index, scope: "link", table: MAIN_TABLE }),
    );
    const removed = step(`stale rules for ${spec.ipv4}`, () => delRulesFor(host, spec.ipv4));
    if (removed) log.info("deleted stale rules", { ip: spec.ipv4, count: removed });
    step(
      `rule ${TO_RULE_PRIORITY} to ${cidr}`,
      () => host.ruleAdd({ priority: TO_RULE_PRIORITY, dst: cidr, table: MAIN_TABLE }),
    );
    undo.push([
      `delete rule ${TO_RULE_PRIORITY}`,
      () => host.ruleDel({ priority: TO_RULE_PRIORITY, dst: cidr, table: MAIN_TABLE }),
    ]);
    if (spec.routeTable !== MAIN_TABLE) {
      step(
        `rule ${FROM_RULE_PRIORITY} from ${cidr}`,
        () => host.ruleAdd({ priority: FROM_RULE_PRIORITY, src: cidr, table: spec.routeTable }),
      );
      undo.push([
        `delete rule ${FROM_RULE_PRIORITY}`,
        () => host.ruleDel({ priority: FROM_RULE_PRIORITY, src: cidr, table: spec.routeTable }),
      ]);
    }
    const podMac = step(`read ${spec.ifName}`, () => podNl.linkByName(spec.ifName)).mac;
    return {
      hostVeth: { name: spec.hostVeth, mac: hostMac, mtu: spec.mtu },
      pod: { name: spec.ifName, mac: podMac, sandbox: spec.netnsPath, mtu: spec.mtu },
      ipv4: spec.ipv4,
    };
  } catch (e) {
    for (const [what, fn] of undo.reverse()) {
      try {
        fn();
        log.debug("undone", { step: what });
      } catch (u) {
        log.error("undo failed", { step: what, err: (u as Error).message });
      }
    }
    throw e;
  } finally {
    pod?.close();
    host.close();
    ns.close();
  }
}

/** What teardown did. */
export interface Teardown {
  /** The IP whose rules were handled (given, or found from the veth's host route). */
  ipv4?: string;
  vethDeleted: boolean;
  rulesDeleted: number;
  /** The rules were left alone because another link now routes the IP. */
  ipInUseElsewhere: boolean;
}

/**
 * Removes the host side: the veth (its peer and the host route go with it), then the IP's rules unless
 * another link routes the IP now (a stale DEL must not unwire a newer pod). Idempotent.
 */
export function teardownHost(hostVeth: string | undefined, ipv4: string | undefined, log: Logger): Teardown {
  const nl = openHost();
  try {
    const out: Teardown = { vethDeleted: false, rulesDeleted: 0, ipInUseElsewhere: false };
    if (hostVeth) {
      const l = nl.findLink(hostVeth);
      if (l && !ipv4) {
        // No prevResult and no ipamd: the veth's /32 host route names the pod's IP.
        const r = nl.routeList({ table: MAIN_TABLE }).find((r) =>
          r.ifindex === l.index && r.dst.endsWith("/32")
        );
        if (r) ipv4 = r.dst.slice(0, -3);
      }
      if (l) {
        step(`delete ${hostVeth}`, () => {
          try {
            nl.linkDel(l.index);
          } catch (e) {
            if (!(e instanceof NetlinkError && e.notFound)) throw e;
          }
        });
        out.vethDeleted = true;
      }
    }
    out.ipv4 = ipv4;
    const ip = ipv4;
    if (ip) {
      const cidr = `${ip}/32`;
      const other = step("list routes", () => nl.routeList({ table: MAIN_TABLE })).find((r) =>
        r.dst === cidr
      );
      if (other) {
        out.ipInUseElsewhere = true;
        log.info("IP routed by another link, leaving its rules", { ip, ifindex: other.ifindex });
      } else {
        out.rulesDeleted = step(`delete rules for ${ip}`, () => delRulesFor(nl, ip));
      }
    }
    return out;
  } finally {
    nl.close();
  }
}

/** Finds the host link that routes `ipv4` (main table, /32) when its name starts with `prefix`. */
export function hostVethForIp(ipv4: string, prefix: string): string | undefined {
  const nl = openHost();
  try {
    const r = nl.routeList({ table: MAIN_TABLE }).find((r) =>
      r.dst === `${ipv4}/32` && r.ifindex !== undefined
    );
    if (!r || r.ifindex === undefined) return undefined;
    const idx = r.ifindex;
    const l = nl.linkList().find((l) => l.index === idx);
    return l && l.name.startsWith(prefix) ? l.name : undefined;
  } finally {
    nl.close();
  }
}

/** What CHECK compares. */
export interface CheckSpec extends WireSpec {
  hostMac?: string;
  podMac?: string;
}

/** Returns every mismatch between the live wiring and `spec` (empty when all is well). */
export function checkWiring(spec: CheckSpec): string[] {
  const bad: string[] = [];
  const cidr = `${spec.ipv4}/32`;
  const host = openHost();
  let ns: Netns | undefined;
  let pod: Netlink | undefined;
  try {
    const hl = host.findLink(spec.hostVeth);
    if (!hl) bad.push(`host veth ${spec.hostVeth} is missing`);
    else if (spec.hostMac && hl.mac.toLowerCase() !== spec.hostMac.toLowerCase()) {
      bad.push(`host veth ${spec.hostVeth} has MAC ${hl.mac}, prevResult says ${spec.hostMac}`);
    }
    const hostRoutes = host.routeList({ table: MAIN_TABLE });
    const hr = hostRoutes.find((r) => r.dst === cidr);
    if (!hr) bad.push(`host route ${cidr} is missing`);
    else if (hl && hr.ifindex !== hl.index) bad.push(`host route ${cidr} does not go to ${spec.hostVeth}`);
    const rules = host.ruleList();
    if (!rules.some((r) => r.priority === TO_RULE_PRIORITY && r.dst === cidr && r.table === MAIN_TABLE)) {
      bad.push(`rule ${TO_RULE_PRIORITY} "to ${cidr} lookup main" is missing`);
    }
    if (spec.routeTable !== MAIN_TABLE) {
      if (
        !rules.some((r) => r.priority === FROM_RULE_PRIORITY && r.src === cidr && r.table === spec.routeTable)
      ) {
        bad.push(`rule ${FROM_RULE_PRIORITY} "from ${cidr} lookup ${spec.routeTable}" is missing`);
      }
    }
    ns = openPodNs(spec.netnsPath);
    const podNs = ns;
    pod = step(`netlink in ${spec.netnsPath}`, () => Netlink.open(podNs));
    const pl = pod.findLink(spec.ifName);
    if (!pl) {
      bad.push(`pod interface ${spec.ifName} is missing`);
      return bad;
    }
    if (spec.podMac && pl.mac.toLowerCase() !== spec.podMac.toLowerCase()) {
      bad.push(`pod interface ${spec.ifName} has MAC ${pl.mac}, prevResult says ${spec.podMac}`);
    }
    if (!pod.addrList(pl.index).some((a) => a.address === spec.ipv4 && a.prefixLen === 32)) {
      bad.push(`pod address ${cidr} is missing`);
    }
    const pr = pod.routeList({ table: MAIN_TABLE });
    if (!pr.some((r) => r.dst === `${GATEWAY}/32` && r.ifindex === pl.index && r.scope === "link")) {
      bad.push(`pod route ${GATEWAY}/32 scope link is missing`);
    }
    if (!pr.some((r) => r.dst === "default" && r.gateway === GATEWAY && r.ifindex === pl.index)) {
      bad.push(`pod default route via ${GATEWAY} is missing`);
    }
    if (hl) {
      const n = pod.neighList(pl.index).find((n) => n.ip === GATEWAY);
      if (!n || n.mac?.toLowerCase() !== hl.mac.toLowerCase() || !(n.state & 0x80)) {
        bad.push(`pod neighbour ${GATEWAY} lladdr ${hl.mac} is missing`);
      }
    }
    return bad;
  } finally {
    pod?.close();
    ns?.close();
    host.close();
  }
}
