/**
 * Pod wiring over ffi/mod.ts (netlink): the host veth, the pod side, the host route and the policy rules, for
 * IPv4 and IPv6 pods alike (the family's constants come from `wiringOf`). Teardown is in teardown.ts, CHECK's
 * comparison in wiring_check.ts. Everything here is synchronous; the caller runs it in the node namespace.
 * @module
 */
import { Netlink, NetlinkError, Netns, sysctlWrite } from "../../ffi/mod.ts";
import { trace } from "../common/phase_trace.ts";
import { FROM_RULE_PRIORITY, MAIN_TABLE, TO_RULE_PRIORITY } from "../common/routing.ts";
import { type FamilyWiring, type PodAttachment, wiringOf } from "./result.ts";
import { CniError, Code } from "./spec.ts";
import type { Logger } from "./log.ts";

/** A random, locally administered, unicast MAC. */
export function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  b[0] = (b[0] & 0xfc) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * Runs one netlink step, turning failures into code 104 naming the step; `phase` names it in the call's
 * phase trace (src/common/phase_trace.ts).
 */
export function step<T>(what: string, fn: () => T, phase?: string): T {
  try {
    const r = fn();
    if (phase) trace.mark(phase);
    return r;
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
  trace.mark("netns");
  try {
    openHost().close(); // loads libnl with the right error code
    trace.mark("libnl");
    const nl = step(`netlink in ${netnsPath}`, () => Netlink.open(ns), "nl.open");
    try {
      if (step(`find ${ifName}`, () => nl.findLink(ifName), "nl.find")) {
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
  /** The pod's address, IPv4 or IPv6 (no prefix). */
  ip: string;
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
export function delRulesFor(nl: Netlink, ip: string): number {
  const w = wiringOf(ip);
  const cidr = `${ip}/${w.hostLen}`;
  let n = 0;
  for (const r of nl.ruleList({ family: w.family })) {
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

type Undo = [string, () => void][];

/** Deletes a stale host veth of this name, then creates the pair (peer in the pod) and brings the host end up. */
function makeVeth(host: Netlink, podNl: Netlink, ns: Netns, spec: WireSpec, log: Logger, undo: Undo) {
  if (step(`find ${spec.ifName}`, () => podNl.findLink(spec.ifName), "nl.find")) {
    throw new CniError(Code.IFACE_EXISTS, `interface ${spec.ifName} already exists in ${spec.netnsPath}`);
  }
  const stale = step(`find ${spec.hostVeth}`, () => host.findLink(spec.hostVeth), "nl.find");
  if (stale) {
    if (stale.kind !== "veth") {
      throw new CniError(
        Code.NETLINK,
        `host link ${spec.hostVeth} exists and is not a veth (${stale.kind ?? "?"})`,
      );
    }
    log.info("deleting stale host veth", { veth: spec.hostVeth });
    step(`delete stale ${spec.hostVeth}`, () => host.linkDel(stale.index), "nl.stale-veth");
  }
  const hostMac = randomMac();
  step(
    `create veth ${spec.hostVeth}/${spec.ifName}`,
    () =>
      host.vethAdd({ name: spec.hostVeth, peerName: spec.ifName, peerNs: ns, mtu: spec.mtu, mac: hostMac }),
    "nl.veth-add",
  );
  undo.push([`delete ${spec.hostVeth}`, () => {
    const l = host.findLink(spec.hostVeth);
    if (l) host.linkDel(l.index);
  }]);
  const hostLink = step(`find ${spec.hostVeth}`, () => host.linkByName(spec.hostVeth), "nl.find");
  writeHostSysctls(spec.hostVeth, log);
  trace.mark("sysctl");
  step(`set ${spec.hostVeth} up`, () => host.linkSetUp(hostLink.index), "nl.link-up");
  return { hostLink, hostMac };
}

/** Writes a sysctl inside the pod's namespace; a missing key (kernel without IPv6) is skipped. */
function podSysctl(ns: Netns, key: string, value: string): void {
  try {
    sysctlWrite(key, value, ns);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new CniError(Code.NETLINK, `sysctl ${key}=${value} in the pod: ${(e as Error).message}`);
    }
  }
}

/**
 * The pod side: IPv6 enabled on the interface and lo (IPv6 pods, as upstream), links up, `IP/32` (`/128`),
 * a link route to the gateway, the default route via it and a permanent neighbour gateway → host veth MAC.
 */
function wirePodSide(podNl: Netlink, ns: Netns, spec: WireSpec, hostMac: string, w: FamilyWiring): void {
  if (w.family === 6) {
    podSysctl(ns, `net/ipv6/conf/${spec.ifName}/disable_ipv6`, "0");
    podSysctl(ns, "net/ipv6/conf/lo/disable_ipv6", "0");
    trace.mark("sysctl");
  }
  const podLink = step(`find ${spec.ifName} in pod`, () => podNl.linkByName(spec.ifName), "nl.find");
  const lo = step("find lo", () => podNl.findLink("lo"), "nl.find");
  if (lo) step("set lo up", () => podNl.linkSetUp(lo.index), "nl.link-up");
  step(`set ${spec.ifName} up`, () => podNl.linkSetUp(podLink.index), "nl.link-up");
  const gw = `${w.gateway}/${w.hostLen}`;
  step(
    `pod route ${gw}`,
    () => podNl.routeAdd({ dst: gw, ifindex: podLink.index, scope: "link" }),
    "nl.route-add",
  );
  step(
    "pod default route",
    () => podNl.routeAdd({ dst: "default", gateway: w.gateway, ifindex: podLink.index }),
    "nl.route-add",
  );
  step(
    `add ${spec.ip}/${w.hostLen} to ${spec.ifName}`,
    () => podNl.addrAdd(podLink.index, `${spec.ip}/${w.hostLen}`),
    "nl.addr-add",
  );
  step(
    `pod neighbour ${w.gateway}`,
    () => podNl.neighAdd({ ifindex: podLink.index, ip: w.gateway, mac: hostMac }),
    "nl.neigh-add",
  );
}

/** The host side: `IP/32` (`/128`) to the veth in main, the to-pod rule, and the from-pod rule off main. */
function wireHostSide(
  host: Netlink,
  spec: WireSpec,
  hostIndex: number,
  w: FamilyWiring,
  log: Logger,
  undo: Undo,
) {
  const cidr = `${spec.ip}/${w.hostLen}`;
  step(
    `host route ${cidr}`,
    () => host.routeReplace({ dst: cidr, ifindex: hostIndex, scope: "link", table: MAIN_TABLE }),
    "nl.route-add",
  );
  const removed = step(`stale rules for ${spec.ip}`, () => delRulesFor(host, spec.ip), "nl.rule-list");
  if (removed) log.info("deleted stale rules", { ip: spec.ip, count: removed });
  const to = { priority: TO_RULE_PRIORITY, dst: cidr, table: MAIN_TABLE };
  step(`rule ${TO_RULE_PRIORITY} to ${cidr}`, () => host.ruleAdd(to), "nl.rule-add");
  undo.push([`delete rule ${TO_RULE_PRIORITY}`, () => host.ruleDel(to)]);
  if (spec.routeTable !== MAIN_TABLE) {
    const from = { priority: FROM_RULE_PRIORITY, src: cidr, table: spec.routeTable };
    step(`rule ${FROM_RULE_PRIORITY} from ${cidr}`, () => host.ruleAdd(from), "nl.rule-add");
    undo.push([`delete rule ${FROM_RULE_PRIORITY}`, () => host.ruleDel(from)]);
  }
}

/**
 * Wires the pod (IPv4 or IPv6, by `spec.ip`). On any failure every step done so far is undone (in reverse)
 * before the error is thrown. An IPv6 pod's addresses may still be tentative (DAD): see {@link settleIpv6}.
 */
export function wirePod(spec: WireSpec, log: Logger): PodAttachment {
  const undo: Undo = [];
  const w = wiringOf(spec.ip);
  const ns = openPodNs(spec.netnsPath);
  trace.mark("netns");
  const host = openHost();
  let pod: Netlink | undefined;
  try {
    pod = step(`netlink in ${spec.netnsPath}`, () => Netlink.open(ns), "nl.open");
    const podNl = pod;
    const { hostLink, hostMac } = makeVeth(host, podNl, ns, spec, log, undo);
    wirePodSide(podNl, ns, spec, hostMac, w);
    wireHostSide(host, spec, hostLink.index, w, log, undo);
    const podMac = step(`read ${spec.ifName}`, () => podNl.linkByName(spec.ifName), "nl.find").mac;
    return {
      hostVeth: { name: spec.hostVeth, mac: hostMac, mtu: spec.mtu },
      pod: { name: spec.ifName, mac: podMac, sandbox: spec.netnsPath, mtu: spec.mtu },
      ip: spec.ip,
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
