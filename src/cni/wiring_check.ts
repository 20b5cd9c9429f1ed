/**
 * CHECK's comparison: every mismatch between the live wiring and what ADD made, for IPv4 and IPv6 pods.
 * @module
 */
import { Netlink, type Netns } from "../../ffi/mod.ts";
import { type FamilyWiring, wiringOf } from "./result.ts";
import { FROM_RULE_PRIORITY, MAIN_TABLE, TO_RULE_PRIORITY } from "../common/routing.ts";
import { openHost, openPodNs, step, type WireSpec } from "./wiring.ts";

/** What CHECK compares. */
export interface CheckSpec extends WireSpec {
  hostMac?: string;
  podMac?: string;
}

/** The host side: veth (and its MAC), the host route, the to-pod and from-pod rules. */
function checkHost(host: Netlink, spec: CheckSpec, w: FamilyWiring, bad: string[]) {
  const cidr = `${spec.ip}/${w.hostLen}`;
  const hl = host.findLink(spec.hostVeth);
  if (!hl) bad.push(`host veth ${spec.hostVeth} is missing`);
  else if (spec.hostMac && hl.mac.toLowerCase() !== spec.hostMac.toLowerCase()) {
    bad.push(`host veth ${spec.hostVeth} has MAC ${hl.mac}, prevResult says ${spec.hostMac}`);
  }
  const hr = host.routeList({ table: MAIN_TABLE, family: w.family }).find((r) => r.dst === cidr);
  if (!hr) bad.push(`host route ${cidr} is missing`);
  else if (hl && hr.ifindex !== hl.index) bad.push(`host route ${cidr} does not go to ${spec.hostVeth}`);
  const rules = host.ruleList({ family: w.family });
  if (!rules.some((r) => r.priority === TO_RULE_PRIORITY && r.dst === cidr && r.table === MAIN_TABLE)) {
    bad.push(`rule ${TO_RULE_PRIORITY} "to ${cidr} lookup main" is missing`);
  }
  if (
    spec.routeTable !== MAIN_TABLE &&
    !rules.some((r) => r.priority === FROM_RULE_PRIORITY && r.src === cidr && r.table === spec.routeTable)
  ) {
    bad.push(`rule ${FROM_RULE_PRIORITY} "from ${cidr} lookup ${spec.routeTable}" is missing`);
  }
  return hl;
}

/** The pod side: interface (and MAC), address, gateway route, default route, gateway neighbour. */
function checkPod(
  pod: Netlink,
  spec: CheckSpec,
  w: FamilyWiring,
  hostMac: string | undefined,
  bad: string[],
) {
  const pl = pod.findLink(spec.ifName);
  if (!pl) return void bad.push(`pod interface ${spec.ifName} is missing`);
  if (spec.podMac && pl.mac.toLowerCase() !== spec.podMac.toLowerCase()) {
    bad.push(`pod interface ${spec.ifName} has MAC ${pl.mac}, prevResult says ${spec.podMac}`);
  }
  const family = { family: w.family };
  if (!pod.addrList(pl.index, family).some((a) => a.address === spec.ip && a.prefixLen === w.hostLen)) {
    bad.push(`pod address ${spec.ip}/${w.hostLen} is missing`);
  }
  const pr = pod.routeList({ table: MAIN_TABLE, ...family });
  const gw = `${w.gateway}/${w.hostLen}`;
  // IPv6 routes carry no scope (the kernel reports universe): only IPv4's link scope is compared
  if (!pr.some((r) => r.dst === gw && r.ifindex === pl.index && (w.family === 6 || r.scope === "link"))) {
    bad.push(`pod route ${gw}${w.family === 4 ? " scope link" : ""} is missing`);
  }
  if (!pr.some((r) => r.dst === "default" && r.gateway === w.gateway && r.ifindex === pl.index)) {
    bad.push(`pod default route via ${w.gateway} is missing`);
  }
  if (hostMac) {
    const n = pod.neighList(pl.index, family).find((n) => n.ip === w.gateway);
    if (!n || n.mac?.toLowerCase() !== hostMac.toLowerCase() || !(n.state & 0x80)) {
      bad.push(`pod neighbour ${w.gateway} lladdr ${hostMac} is missing`);
    }
  }
}

/** Returns every mismatch between the live wiring and `spec` (empty when all is well). */
export function checkWiring(spec: CheckSpec): string[] {
  const bad: string[] = [];
  const w = wiringOf(spec.ip);
  const host = openHost();
  let ns: Netns | undefined;
  let pod: Netlink | undefined;
  try {
    const hl = checkHost(host, spec, w, bad);
    ns = openPodNs(spec.netnsPath);
    const podNs = ns;
    pod = step(`netlink in ${spec.netnsPath}`, () => Netlink.open(podNs));
    checkPod(pod, spec, w, hl?.mac, bad);
    return bad;
  } finally {
    pod?.close();
    ns?.close();
    host.close();
  }
}
