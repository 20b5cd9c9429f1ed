/**
 * The lab's names and paths. Everything derives from the state directory, so two labs with different state
 * directories never share a namespace, a link or a file.
 */
import { createHash } from "node:crypto";
import { isAbsolute, join, resolve } from "node:path";

/** Where a lab keeps its state when `--state-dir` is not given. */
export const DEFAULT_STATE_DIR = "/run/vpc-cni-lab";
/** Where `ip netns` keeps named namespaces. */
export const NETNS_DIR = "/run/netns";

/** The lab's fixed addresses. */
export const LAB_NET = {
  vpcCidr: "10.0.0.0/16",
  nodeSubnet: "10.0.0.0/20",
  extraSubnets: ["10.0.16.0/20", "10.0.32.0/20"],
  gateway: "10.0.0.1",
  ec2Ip: "10.0.255.254",
  kubeIp: "10.0.255.253",
  imdsIp: "169.254.169.254",
  /** The router's address on the internet link. */
  inetRouterIp: "198.51.100.1",
  /** The internet host: its address on the link to the router; the whoami service listens here. */
  inetHostIp: "198.51.100.2",
  inetCidr: "198.51.100.0/24",
  whoamiPort: 8080,
  /** Dual stack (`lab up --ipv6`): the VPC's /56, each subnet a /64 of it (node subnet first). */
  vpcIpv6Cidr: "2001:db8:1000::/56",
  nodeSubnetIpv6: "2001:db8:1000::/64",
  extraSubnetsIpv6: ["2001:db8:1000:1::/64", "2001:db8:1000:2::/64"],
  /** The VPC router's link-local address on every ENI link: the nodes' IPv6 default gateway. */
  routerLinkLocal: "fe80::1",
  /** The internet link's IPv6: the router's and the internet host's (the IPv6 whoami listens there). */
  inetRouterIp6: "2001:db8:ffff::1",
  inetHostIp6: "2001:db8:ffff::2",
  inetCidr6: "2001:db8:ffff::/64",
  az: "us-west-2a",
  region: "us-west-2",
} as const;

function sha1Hex(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

/** Every name and path of one lab. */
export class LabNames {
  /** Absolute state directory. */
  readonly stateDir: string;
  /** `l` + first 5 hex digits of sha1(absolute state dir). */
  readonly id: string;

  constructor(stateDir: string = DEFAULT_STATE_DIR) {
    this.stateDir = isAbsolute(stateDir) ? resolve(stateDir) : resolve(Deno.cwd(), stateDir);
    this.id = "l" + sha1Hex(this.stateDir).slice(0, 5);
  }

  /** Prefix shared by every namespace of this lab. */
  get nsPrefix(): string {
    return `${this.id}-`;
  }
  get vpcNs(): string {
    return `${this.id}-vpc`;
  }
  get inetNs(): string {
    return `${this.id}-inet`;
  }
  nodeNs(i: number): string {
    return `${this.id}-n${i}`;
  }
  /** The Kubernetes Node name of node i. */
  nodeName(i: number): string {
    return `node-${i}`;
  }
  /** A pod's namespace: `<id>-p` + 6 hex of sha1("<k8s namespace>/<name>"). */
  podNs(name: string, namespace = "default"): string {
    return `${this.id}-p${sha1Hex(`${namespace}/${name}`).slice(0, 6)}`;
  }
  /** The router-side link of node i's ENI at device index dev. */
  vpcLink(i: number, dev: number): string {
    return `${this.id}n${i}d${dev}`;
  }
  /** The router-side link to the internet namespace. */
  get inetLink(): string {
    return `${this.id}inet`;
  }
  /** `/run/netns/<name>`. */
  nsPath(ns: string): string {
    return join(NETNS_DIR, ns);
  }

  nodeDir(i: number): string {
    return join(this.stateDir, "nodes", String(i));
  }
  cniConfDir(i: number): string {
    return join(this.nodeDir(i), "net.d");
  }
  conflistPath(i: number): string {
    return join(this.cniConfDir(i), "10-aws.conflist");
  }
  /** What node i sees as `/var/run/aws-node` (bind-mounted there in its mount namespace). */
  nodeRunDir(i: number): string {
    return join(this.nodeDir(i), "run");
  }
  /** What node i sees as `/var/log/aws-routed-eni`. */
  nodeLogDir(i: number): string {
    return join(this.nodeDir(i), "log");
  }
  /** Node i's `/var/run/aws-node/ipamd.sock`, from the host. */
  ipamdSocket(i: number): string {
    return join(this.nodeRunDir(i), "ipamd.sock");
  }
  /** Node i's `/var/run/aws-node/ipam.json`, from the host. */
  backingStore(i: number): string {
    return join(this.nodeRunDir(i), "ipam.json");
  }
  /** Node i's `/var/log/aws-routed-eni/ipamd.log`, from the host. */
  ipamdLog(i: number): string {
    return join(this.nodeLogDir(i), "ipamd.log");
  }
  /** Node i's `/var/log/aws-routed-eni/plugin.log`, from the host. */
  pluginLog(i: number): string {
    return join(this.nodeLogDir(i), "plugin.log");
  }
  /** The directory holding the nodes' mount namespace files (a private bind mount of itself). */
  get mntnsDir(): string {
    return join(this.stateDir, "mntns");
  }
  /** Node i's mount namespace, bound to a file as `ip netns` binds network namespaces. */
  nodeMntns(i: number): string {
    return join(this.mntnsDir, `node-${i}`);
  }
  /** Dual-stack labs: egress-cni's log and its host-local-style IPAM state (per node: nodes share a disk). */
  egressPluginLog(i: number): string {
    return join(this.nodeDir(i), "egress-v4-plugin.log");
  }
  egressDataDir(i: number): string {
    return join(this.nodeDir(i), "egress-v4-ipam");
  }
  get binDir(): string {
    return join(this.stateDir, "bin");
  }
  get kubeconfig(): string {
    return join(this.stateDir, "kubeconfig");
  }
  get labJson(): string {
    return join(this.stateDir, "lab.json");
  }
  get labSock(): string {
    return join(this.stateDir, "lab.sock");
  }
  get daemonLog(): string {
    return join(this.stateDir, "daemon.log");
  }
  get daemonPid(): string {
    return join(this.stateDir, "daemon.pid");
  }
  get podsDir(): string {
    return join(this.stateDir, "pods");
  }
  podRecord(name: string): string {
    return join(this.podsDir, `${name}.json`);
  }
  get cniCacheDir(): string {
    return join(this.stateDir, "cni-cache");
  }
}
