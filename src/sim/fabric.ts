/**
 * The lab's VPC fabric, through the ffi netlink binding. The `vpc` namespace is the router: every subnet
 * gateway and service address sits on its `lo`; each ENI is a veth whose node end carries the ENI's MAC and
 * whose router end (`<id>n<i>d<dev>`) has proxy_arp, strict rp_filter (the source/destination check) and a
 * route per address EC2 assigned to that ENI. An "internet" namespace sits behind the router.
 *
 * Dual stack (`setupRouter({ipv6: true})`): the router forwards IPv6 too; each ENI link's router end has
 * `fe80::1` (the nodes' IPv6 default gateway) and a route per IPv6 address and /80 prefix EC2 assigned, via
 * the ENI's first IPv6 address. rp_filter does not exist for IPv6, so the source/destination check is an
 * ip6tables `rpfilter` rule in the router's raw table (its counter shows what it dropped).
 */
import { Netlink, NetlinkError, Netns, sysctlWrite } from "../../ffi/mod.ts";
import { LAB_NET, type LabNames } from "./naming.ts";

/** The comment on the router's IPv6 source/destination check rule (ip6tables raw PREROUTING). */
export const SRC_DST_CHECK_V6 = "lab: source/destination check (IPv6)";

/** What the fabric needs to wire one ENI into a node. */
export interface EniPlacement {
  eniId: string;
  node: number;
  deviceIndex: number;
  mac: string;
  primaryIp: string;
  /** The ENI's subnet, "10.0.0.0/20". */
  subnetCidr: string;
  /** The ENI's first IPv6 address (dual-stack subnets): the next hop of its other IPv6 addresses and prefixes. */
  primaryIpv6?: string;
}

interface EniState {
  /** Secondary addresses ("a.b.c.d", "x::y") and delegated prefixes ("a.b.c.d/28", "x::/80") EC2 assigned. */
  ips: Set<string>;
  placement?: EniPlacement;
}

const ENI_MTU = 9001;

function ignoreGone(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError && (e.notFound || e.exists)) return;
    throw e;
  }
}

function ignoreExists(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError && e.exists) return;
    throw e;
  }
}

function prefixLenOf(cidr: string): number {
  return Number(cidr.split("/")[1]);
}

/** Drives the lab's links and routes. Namespaces must exist (see fabric_netns.ts). */
export class Fabric {
  readonly #names: LabNames;
  readonly #enis = new Map<string, EniState>();

  constructor(names: LabNames) {
    this.#names = names;
  }

  #ns(name: string): Netns {
    return Netns.open(this.#names.nsPath(name));
  }

  #with<T>(nsName: string, fn: (nl: Netlink, ns: Netns) => T): T {
    const ns = this.#ns(nsName);
    try {
      const nl = Netlink.open(ns);
      try {
        return fn(nl, ns);
      } finally {
        nl.close();
      }
    } finally {
      ns.close();
    }
  }

  /** Configures the router (vpc namespace) and the internet namespace; dual stack with `ipv6`. Idempotent. */
  setupRouter(
    subnets: string[] = [LAB_NET.nodeSubnet, ...LAB_NET.extraSubnets],
    o: { ipv6?: boolean } = {},
  ): void {
    const n = this.#names;
    this.#with(n.vpcNs, (nl, vpc) => {
      const lo = nl.linkByName("lo").index;
      nl.linkSetUp(lo);
      const gateways = subnets.map((s) => {
        const [a, b, c] = s.split("/")[0].split(".");
        return `${a}.${b}.${c}.1`;
      });
      for (const ip of [...gateways, LAB_NET.ec2Ip, LAB_NET.kubeIp, LAB_NET.imdsIp]) {
        ignoreExists(() => nl.addrAdd(lo, `${ip}/32`));
      }
      sysctlWrite("net/ipv4/ip_forward", "1", vpc);
      sysctlWrite("net/ipv4/conf/all/rp_filter", "0", vpc);
      sysctlWrite("net/ipv4/conf/default/rp_filter", "0", vpc);
      this.#with(n.inetNs, (inl, inet) => {
        if (!nl.findLink(n.inetLink)) {
          nl.vethAdd({ name: n.inetLink, peerName: "eth0", peerNs: inet });
        }
        const r = nl.linkByName(n.inetLink).index;
        ignoreExists(() => nl.addrAdd(r, `${LAB_NET.inetRouterIp}/24`));
        nl.linkSetUp(r);
        nl.routeReplace({ dst: "default", gateway: LAB_NET.inetHostIp, ifindex: r });

        inl.linkSetUp(inl.linkByName("lo").index);
        const e = inl.linkByName("eth0").index;
        ignoreExists(() => inl.addrAdd(e, `${LAB_NET.inetHostIp}/24`));
        inl.linkSetUp(e);
        inl.routeReplace({ dst: LAB_NET.vpcCidr, gateway: LAB_NET.inetRouterIp, ifindex: e });
        if (!o.ipv6) return;
        sysctlWrite("net/ipv6/conf/all/forwarding", "1", vpc);
        ignoreExists(() => nl.addrAdd(r, `${LAB_NET.inetRouterIp6}/64`, { noDad: true }));
        nl.routeReplace({ dst: "default", gateway: LAB_NET.inetHostIp6, ifindex: r });
        ignoreExists(() => inl.addrAdd(e, `${LAB_NET.inetHostIp6}/64`, { noDad: true }));
        inl.routeReplace({ dst: LAB_NET.vpcIpv6Cidr, gateway: LAB_NET.inetRouterIp6, ifindex: e });
      });
    });
    if (o.ipv6) this.#srcDstCheckV6();
  }

  /**
   * The IPv6 source/destination check: a packet is dropped unless the router's route back to its source leaves
   * through the link it came in on (ip6tables' strict `rpfilter`, what rp_filter=1 does for IPv4). An ENI's
   * link has routes only to the addresses and prefixes EC2 assigned to that ENI, so a node (or pod) sending
   * from any other address is dropped. Idempotent.
   */
  #srcDstCheckV6(): void {
    const argv = (
      ...a: string[]
    ) => ["nsenter", `--net=${this.#names.nsPath(this.#names.vpcNs)}`, "--", ...a];
    const run = (a: string[]) =>
      new Deno.Command(a[0], { args: a.slice(1), stdout: "piped", stderr: "piped" }).outputSync();
    const save = new TextDecoder().decode(run(argv("ip6tables-save", "-t", "raw")).stdout);
    if (save.includes(SRC_DST_CHECK_V6)) return;
    const r = run(
      argv(
        "ip6tables",
        "-w",
        "5",
        "-t",
        "raw",
        "-A",
        "PREROUTING",
        "-m",
        "rpfilter",
        "--invert",
        "-m",
        "comment",
        "--comment",
        SRC_DST_CHECK_V6,
        "-j",
        "DROP",
      ),
    );
    if (!r.success) {
      throw new Error(`ip6tables (source/destination check): ${new TextDecoder().decode(r.stderr)}`);
    }
  }

  /** Packets the IPv6 source/destination check dropped so far (its rule's counter). */
  srcDstDropsV6(): number {
    const r = new Deno.Command("nsenter", {
      args: [`--net=${this.#names.nsPath(this.#names.vpcNs)}`, "--", "ip6tables-save", "-c", "-t", "raw"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.includes(SRC_DST_CHECK_V6));
    return Number(line?.match(/^\[(\d+):\d+\]/)?.[1] ?? 0);
  }

  /** Brings a node namespace's `lo` up and sets its forwarding sysctls (before its primary ENI lands). */
  setupNode(node: number, o: { ipv6?: boolean } = {}): void {
    this.#with(this.#names.nodeNs(node), (nl, ns) => {
      nl.linkSetUp(nl.linkByName("lo").index);
      sysctlWrite("net/ipv4/ip_forward", "1", ns);
      if (o.ipv6) sysctlWrite("net/ipv6/conf/all/forwarding", "1", ns);
    });
  }

  /** EC2 assigned addresses or /28 prefixes to an ENI (attached or not). */
  assign(eniId: string, ips: string[]): void {
    const st = this.#state(eniId);
    for (const ip of ips) st.ips.add(ip);
    if (st.placement) this.#routeIps(st.placement, ips, "add");
  }

  /** EC2 took addresses or prefixes away from an ENI. */
  unassign(eniId: string, ips: string[]): void {
    const st = this.#state(eniId);
    for (const ip of ips) st.ips.delete(ip);
    if (st.placement) this.#routeIps(st.placement, ips, "del");
  }

  /**
   * An ENI was attached: a veth appears in the node namespace as `eth<deviceIndex>` with the ENI's MAC.
   * Device 0 (the primary ENI) is configured like a booted instance; others are left down like a fresh NIC.
   */
  attach(p: EniPlacement): void {
    const n = this.#names;
    const st = this.#state(p.eniId);
    st.placement = p;
    const link = n.vpcLink(p.node, p.deviceIndex);
    const ifName = `eth${p.deviceIndex}`;
    this.#with(n.nodeNs(p.node), (nnl, nodeNs) => {
      this.#with(n.vpcNs, (nl, vpc) => {
        if (!nl.findLink(link)) {
          nl.vethAdd({ name: link, peerName: ifName, peerNs: nodeNs, peerMac: p.mac, mtu: ENI_MTU });
        }
        const idx = nl.linkByName(link).index;
        sysctlWrite(`net/ipv4/conf/${link}/proxy_arp`, "1", vpc);
        sysctlWrite(`net/ipv4/conf/${link}/rp_filter`, "1", vpc);
        // Answer proxy ARP at once (the default waits up to 0.8 s), like the VPC's own resolver.
        sysctlWrite(`net/ipv4/neigh/${link}/proxy_delay`, "0", vpc);
        nl.linkSetUp(idx);
        nl.neighAdd({ ifindex: idx, ip: p.primaryIp, mac: p.mac });
        nl.routeReplace({ dst: `${p.primaryIp}/32`, ifindex: idx, scope: "link" });
        if (p.primaryIpv6) {
          // The VPC router's IPv6 side of this ENI: its link-local gateway and the ENI's first address.
          ignoreExists(() => nl.addrAdd(idx, `${LAB_NET.routerLinkLocal}/64`, { noDad: true }));
          nl.neighAdd({ ifindex: idx, ip: p.primaryIpv6, mac: p.mac });
          nl.routeReplace({ dst: `${p.primaryIpv6}/128`, ifindex: idx });
        }
      });
      if (p.deviceIndex === 0) {
        const e = nnl.linkByName(ifName).index;
        nnl.linkSetUp(nnl.linkByName("lo").index);
        ignoreExists(() => nnl.addrAdd(e, `${p.primaryIp}/${prefixLenOf(p.subnetCidr)}`));
        nnl.linkSetUp(e);
        nnl.routeReplace({ dst: "default", gateway: LAB_NET.gateway, ifindex: e });
        sysctlWrite("net/ipv4/ip_forward", "1", nodeNs);
        sysctlWrite(`net/ipv4/conf/${ifName}/rp_filter`, "2", nodeNs);
        if (p.primaryIpv6) {
          // As an instance gets it from DHCPv6 and the router's RA: its /128 and a default route via the router.
          ignoreExists(() => nnl.addrAdd(e, `${p.primaryIpv6}/128`, { noDad: true }));
          nnl.routeReplace({ dst: "default", gateway: LAB_NET.routerLinkLocal, ifindex: e });
        }
      }
    });
    this.#routeIps(p, [...st.ips], "add");
  }

  /** An ENI was detached: its veth (and so every route through it) goes. */
  detach(eniId: string): void {
    const st = this.#enis.get(eniId);
    if (!st?.placement) return;
    const link = this.#names.vpcLink(st.placement.node, st.placement.deviceIndex);
    st.placement = undefined;
    this.#with(this.#names.vpcNs, (nl) => {
      const l = nl.findLink(link);
      if (l) ignoreGone(() => nl.linkDel(l.index));
    });
  }

  /** An ENI was deleted: forget it (detaching first if needed). */
  forget(eniId: string): void {
    this.detach(eniId);
    this.#enis.delete(eniId);
  }

  /** The fabric's view of one ENI, for status and tests. */
  eni(eniId: string): { ips: string[]; placement?: EniPlacement } | undefined {
    const st = this.#enis.get(eniId);
    return st && { ips: [...st.ips].sort(), placement: st.placement && { ...st.placement } };
  }

  #state(eniId: string): EniState {
    let st = this.#enis.get(eniId);
    if (!st) this.#enis.set(eniId, st = { ips: new Set() });
    return st;
  }

  #routeIps(p: EniPlacement, ips: string[], op: "add" | "del"): void {
    const link = this.#names.vpcLink(p.node, p.deviceIndex);
    this.#with(this.#names.vpcNs, (nl) => {
      const l = nl.findLink(link);
      if (!l) return;
      for (const ip of ips) {
        if (ip === p.primaryIp || ip === p.primaryIpv6) continue;
        const v6 = ip.includes(":");
        // An IPv6 address or prefix goes via the ENI's first IPv6 address; without one it is not routed.
        const gateway = v6 ? p.primaryIpv6 : p.primaryIp;
        if (!gateway) continue;
        const dst = ip.includes("/") ? ip : `${ip}/${v6 ? 128 : 32}`;
        const spec = { dst, gateway, ifindex: l.index, onlink: true };
        if (op === "add") nl.routeReplace(spec);
        else ignoreGone(() => nl.routeDel(spec));
      }
    });
  }
}
