/**
 * Host wiring that ipamd owns (through netlink): per secondary ENI its link, address, route table and
 * source rule; the node's primary MTU, NodePort fwmark rule and external-service rules; removal of a dropped
 * pod's host routes. Idempotent.
 */
import { type Netlink, NetlinkError } from "../../ffi/mod.ts";
import {
  ENI_RULE_PRIORITY,
  EXTERNAL_SERVICE_RULE_PRIORITY,
  FROM_RULE_PRIORITY,
  FWMARK_RULE_PRIORITY,
  MAIN_TABLE,
  routeTableOf,
  TO_RULE_PRIORITY,
} from "../common/routing.ts";
import { parseCidr, subnetGateway } from "../net/ipv4.ts";
import { isIpv6 } from "../net/ipv6.ts";

/** What host setup needs of a secondary ENI. */
export interface HostEni {
  mac: string;
  primaryIp: string;
  subnetCidr: string;
  deviceNumber: number;
}

const bare = (cidr?: string) => cidr?.replace(/\/32$/, "");

/** Swallows netlink's "already exists" / "not found" answers: the state we want is already there. */
function tolerate(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError && (e.exists || e.notFound)) return;
    throw e;
  }
}

/** Applies ipamd's host wiring through one netlink socket (bound to the node's namespace). */
export class HostNetwork {
  constructor(readonly nl: Netlink) {}

  /** Whether a link with this MAC exists. */
  linkPresent(mac: string): boolean {
    const m = mac.toLowerCase();
    return this.nl.linkList().some((l) => l.mac?.toLowerCase() === m);
  }

  /** Whether a link with this name exists (a pod's host veth). */
  linkExists(name: string): boolean {
    return this.nl.findLink(name) !== undefined;
  }

  /** Sets the MTU of the main table's default-route interface (the primary ENI on a booted instance), if any. */
  setDefaultRouteMtu(mtu: number): void {
    const def = this.nl.routeList().find((r) => r.dst === "default" && r.ifindex !== undefined);
    if (!def) return;
    const link = this.nl.linkByIndex(def.ifindex!);
    if (link.mtu !== mtu) this.nl.linkSetMtu(link.index, mtu);
  }

  /** The name of the link with this MAC (the primary ENI's interface), or undefined. */
  primaryInterface(mac: string): string | undefined {
    const m = mac.toLowerCase();
    return this.nl.linkList().find((l) => l.mac?.toLowerCase() === m)?.name;
  }

  /**
   * Node-wide wiring: the primary interface's MTU (AWS_VPC_ENI_MTU, as upstream's SetupHostNetwork); rule
   * priority 1024 `fwmark <mark>/<mark> lookup main` (NodePort replies), or none when `fwmark` is undefined;
   * one rule priority 1535 `to <cidr> lookup main` per external service CIDR. Stale rules of ours at those
   * priorities (another mark, a CIDR no longer listed) are removed. With `family: 6` (IPv6 mode) the fwmark
   * rule is an IPv6 rule, as upstream's SetupHostNetwork, and there are no external-service rules.
   */
  setupNode(
    o: {
      primaryMac?: string;
      mtu?: number;
      fwmark?: number;
      externalServiceCidrs?: string[];
      family?: 4 | 6;
    } = {},
  ): void {
    const primary = o.primaryMac ? this.primaryInterface(o.primaryMac) : undefined;
    const link = primary ? this.nl.findLink(primary) : undefined;
    if (link && o.mtu && link.mtu !== o.mtu) this.nl.linkSetMtu(link.index, o.mtu);
    const family = o.family ?? 4;
    const rules = this.nl.ruleList({ family });
    for (const r of rules) {
      if (
        r.priority === FWMARK_RULE_PRIORITY && r.table === MAIN_TABLE && r.fwmark !== undefined &&
        r.fwmark !== o.fwmark
      ) {
        const stale = {
          priority: FWMARK_RULE_PRIORITY,
          fwmark: r.fwmark,
          fwmask: r.fwmask,
          table: MAIN_TABLE,
          family,
        };
        tolerate(() => this.nl.ruleDel(stale));
      }
    }
    if (
      o.fwmark !== undefined &&
      !rules.some((r) => r.priority === FWMARK_RULE_PRIORITY && r.fwmark === o.fwmark)
    ) {
      const mark = o.fwmark;
      tolerate(() =>
        this.nl.ruleAdd({
          priority: FWMARK_RULE_PRIORITY,
          fwmark: mark,
          fwmask: mark,
          table: MAIN_TABLE,
          family,
        })
      );
    }
    if (family === 6) return;
    const want = new Set((o.externalServiceCidrs ?? []).map((c) => {
      const { network, prefixLen } = parseCidr(c);
      return `${network}/${prefixLen}`;
    }));
    for (const r of rules) {
      if (r.priority !== EXTERNAL_SERVICE_RULE_PRIORITY || r.table !== MAIN_TABLE || !r.dst) continue;
      const dst = r.dst.includes("/") ? r.dst : `${r.dst}/32`;
      if (want.has(dst)) want.delete(dst);
      else {tolerate(() =>
          this.nl.ruleDel({ priority: EXTERNAL_SERVICE_RULE_PRIORITY, dst, table: MAIN_TABLE })
        );}
    }
    for (const dst of want) {
      tolerate(() => this.nl.ruleAdd({ priority: EXTERNAL_SERVICE_RULE_PRIORITY, dst, table: MAIN_TABLE }));
    }
  }

  /** Link up with the MTU, the ENI's primary IP, its route table, and its source rule. */
  setupEni(e: HostEni, mtu: number): void {
    const link = this.nl.linkByMac(e.mac);
    const table = routeTableOf(e.deviceNumber);
    const { prefixLen, network } = parseCidr(e.subnetCidr);
    const gw = subnetGateway(e.subnetCidr);
    if (link.mtu !== mtu) this.nl.linkSetMtu(link.index, mtu);
    this.nl.linkSetUp(link.index);
    const want = `${e.primaryIp}/${prefixLen}`;
    for (const a of this.nl.addrList(link.index)) {
      const cidr = `${a.address}/${a.prefixLen}`;
      if (a.scope !== "host" && a.scope !== "link" && cidr !== want) {
        tolerate(() => this.nl.addrDel(link.index, cidr));
      }
    }
    tolerate(() => this.nl.addrAdd(link.index, want));
    this.nl.routeReplace({ dst: `${gw}/32`, ifindex: link.index, scope: "link", table });
    this.nl.routeReplace({ dst: "default", gateway: gw, ifindex: link.index, table });
    tolerate(() =>
      this.nl.routeDel({ dst: `${network}/${prefixLen}`, ifindex: link.index, table: MAIN_TABLE })
    );
    const src = `${e.primaryIp}/32`;
    const present = this.nl.ruleList().some((r) =>
      r.priority === ENI_RULE_PRIORITY && bare(r.src) === e.primaryIp && r.table === table
    );
    if (!present) tolerate(() => this.nl.ruleAdd({ priority: ENI_RULE_PRIORITY, src, table }));
  }

  /** Removes the ENI's source rule and route table (the link goes with the detach). */
  teardownEni(e: Omit<HostEni, "mac">): void {
    const table = routeTableOf(e.deviceNumber);
    tolerate(() => this.nl.ruleDel({ priority: ENI_RULE_PRIORITY, src: `${e.primaryIp}/32`, table }));
    for (const r of this.nl.routeList({ table })) {
      if (r.table === table) {
        tolerate(() => this.nl.routeDel({ dst: r.dst, gateway: r.gateway, ifindex: r.ifindex, table }));
      }
    }
  }

  /** Removes what aws-cni set up on the host for a pod IP: its /32 (/128) route and its rules. */
  removePodWiring(ip: string, table: number): void {
    const [family, len] = isIpv6(ip) ? [6 as const, 128] : [4 as const, 32];
    const host = `${ip}/${len}`;
    tolerate(() => this.nl.ruleDel({ priority: TO_RULE_PRIORITY, dst: host, table: MAIN_TABLE }));
    if (table !== MAIN_TABLE) {
      tolerate(() => this.nl.ruleDel({ priority: FROM_RULE_PRIORITY, src: host, table }));
    }
    for (const r of this.nl.routeList({ table: MAIN_TABLE, family })) {
      if (r.dst === host) {
        tolerate(() => this.nl.routeDel({ dst: r.dst, ifindex: r.ifindex, table: MAIN_TABLE }));
      }
    }
  }
}
