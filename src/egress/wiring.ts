/**
 * egress-cni's veth, as upstream's (itself the ptp plugin's, modified): `v4if0` in the pod with `IP/<subnet
 * len>`, whose automatic subnet route is replaced by `gw/32 scope link src IP` and `subnet via gw src IP`, and
 * the IPAM routes (default `0.0.0.0/0`) via the gateway; on the host a `veth<8 hex>` holding `gw/32 scope link`
 * and the route `IP/32 scope link`. Synchronous; runs in the node namespace.
 * @module
 */
import { Netlink, NetlinkError, sysctlRead, sysctlWrite } from "../../ffi/mod.ts";
import type { Logger } from "../cni/log.ts";
import { CniError, Code } from "../cni/spec.ts";
import { MAIN_TABLE } from "../common/routing.ts";
import { openHost, openPodNs, randomMac, step } from "../cni/wiring.ts";
import { EGRESS_IFNAME } from "./conf.ts";

/** What the egress veth needs. */
export interface EgressWireSpec {
  netnsPath: string;
  podIp: string;
  /** The range's subnet, `a.b.c.d/len`. */
  subnet: string;
  gateway: string;
  routes: string[];
  mtu: number;
}

/** The interfaces made, for the result. */
export interface EgressInterfaces {
  host: { name: string; mac: string };
  pod: { name: string; mac: string; sandbox: string };
}

/** Upstream's host veth name: `veth` + 8 random hex digits (the CNI plugins' RandomVethName). */
export function randomVethName(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return "veth" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Turns on IPv4 forwarding when it is off (as the plugin's ip.EnableForward does). */
function enableForward(): void {
  if (sysctlRead("net/ipv4/ip_forward") !== "1") sysctlWrite("net/ipv4/ip_forward", "1");
}

/** The pod side: v4if0 up with IP/len, the subnet reached only through the gateway, the routes via it. */
function podSide(pod: Netlink, s: EgressWireSpec): string {
  const link = step(`find ${EGRESS_IFNAME}`, () => pod.linkByName(EGRESS_IFNAME));
  const len = s.subnet.split("/")[1];
  step(`set ${EGRESS_IFNAME} up`, () => pod.linkSetUp(link.index));
  step(`add ${s.podIp}/${len}`, () => pod.addrAdd(link.index, `${s.podIp}/${len}`));
  for (const dst of s.routes) {
    const d = dst === "0.0.0.0/0" ? "default" : dst;
    step(
      `route ${dst} via ${s.gateway}`,
      () => pod.routeAdd({ dst: d, gateway: s.gateway, ifindex: link.index }),
    );
  }
  step(
    `delete route ${s.subnet}`,
    () => pod.routeDel({ dst: s.subnet, ifindex: link.index, table: MAIN_TABLE }),
  );
  step(
    `route ${s.gateway}/32`,
    () => pod.routeAdd({ dst: `${s.gateway}/32`, ifindex: link.index, scope: "link", src: s.podIp }),
  );
  step(
    `route ${s.subnet} via ${s.gateway}`,
    () => pod.routeAdd({ dst: s.subnet, gateway: s.gateway, ifindex: link.index, src: s.podIp }),
  );
  return link.mac;
}

/** Creates and wires the egress veth; on failure the veth is deleted before the error is thrown. */
export function wireEgress(s: EgressWireSpec, log: Logger): EgressInterfaces {
  enableForward();
  const ns = openPodNs(s.netnsPath);
  const host = openHost();
  let pod: Netlink | undefined;
  const hostVeth = randomVethName();
  let made = false;
  try {
    pod = step(`netlink in ${s.netnsPath}`, () => Netlink.open(ns));
    const podNl = pod;
    if (podNl.findLink(EGRESS_IFNAME)) {
      throw new CniError(Code.IFACE_EXISTS, `interface ${EGRESS_IFNAME} already exists in ${s.netnsPath}`);
    }
    const hostMac = randomMac();
    step(
      `create veth ${hostVeth}/${EGRESS_IFNAME}`,
      () => host.vethAdd({ name: hostVeth, peerName: EGRESS_IFNAME, peerNs: ns, mtu: s.mtu, mac: hostMac }),
    );
    made = true;
    const hl = step(`find ${hostVeth}`, () => host.linkByName(hostVeth));
    step(`set ${hostVeth} up`, () => host.linkSetUp(hl.index));
    step(
      `add ${s.gateway}/32 to ${hostVeth}`,
      () => host.addrAdd(hl.index, `${s.gateway}/32`, { scope: "link" }),
    );
    const podMac = podSide(podNl, s);
    step(
      `host route ${s.podIp}/32`,
      () => host.routeReplace({ dst: `${s.podIp}/32`, ifindex: hl.index, scope: "link", table: MAIN_TABLE }),
    );
    return {
      host: { name: hostVeth, mac: hostMac },
      pod: { name: EGRESS_IFNAME, mac: podMac, sandbox: s.netnsPath },
    };
  } catch (e) {
    if (made) {
      try {
        host.linkDel(hostVeth);
      } catch (u) {
        if (!(u instanceof NetlinkError && u.notFound)) {
          log.error("undo failed", { veth: hostVeth, err: String(u) });
        }
      }
    }
    throw e;
  } finally {
    pod?.close();
    host.close();
    ns.close();
  }
}

/** Deletes the pod's v4if0 (the host end goes with it); returns its IPv4 addresses. Gone is fine. */
export function unwireEgress(netnsPath: string): string[] {
  if (!netnsPath) return [];
  let ns;
  try {
    ns = openPodNs(netnsPath);
  } catch {
    return []; // the namespace is gone, and the veth with it
  }
  try {
    const pod = Netlink.open(ns);
    try {
      const l = pod.findLink(EGRESS_IFNAME);
      if (!l) return [];
      const ips = pod.addrList(l.index).map((a) => a.address);
      step(`delete ${EGRESS_IFNAME}`, () => pod.linkDel(l.index));
      return ips;
    } finally {
      pod.close();
    }
  } finally {
    ns.close();
  }
}

/** CHECK's view: what v4if0 in the pod looks like (undefined when missing). */
export function egressState(netnsPath: string): { ips: string[]; defaultVia?: string } | undefined {
  const ns = openPodNs(netnsPath);
  try {
    const pod = Netlink.open(ns);
    try {
      const l = pod.findLink(EGRESS_IFNAME);
      if (!l) return undefined;
      const def = pod.routeList().find((r) => r.dst === "default" && r.ifindex === l.index);
      return { ips: pod.addrList(l.index).map((a) => a.address), defaultVia: def?.gateway };
    } finally {
      pod.close();
    }
  } finally {
    ns.close();
  }
}
