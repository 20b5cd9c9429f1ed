/**
 * Pods through the libcni driver on a lab node ({@linkcode LabPods}), and what an attachment could leave
 * behind on the node ({@linkcode nodeLeftovers}, {@linkcode attachmentLeftovers}).
 * @module
 */
import { addNetns, delNetns, type LibcniOptions, randomSuffix, sh } from "../../harness/libcni.ts";
import { ipamdHeld, type TestLab } from "./lab.ts";

const tokens = (s: string) => s.split(/\s+/);

/** Whether a line of `ip rule`/`ip route` output names `ip` (alone or as `/32`). */
export const mentions = (s: string, ip: string): boolean =>
  tokens(s).some((t) => t === ip || t === `${ip}/32`);

/** What one attachment was: its IP, host veth and container ID (and a host port, for portmap). */
export interface Attachment {
  ip: string;
  veth?: string;
  containerId?: string;
  hostPort?: number;
}

/**
 * Everything an attachment could leave in a lab node: its veth, rules and routes naming its IP, portmap's
 * iptables rules, an ifb device (bandwidth), and ipamd's assignment.
 */
export async function nodeLeftovers(lab: TestLab, node: number, a: Attachment): Promise<string[]> {
  const ns = lab.names.nodeNs(node);
  const left: string[] = [];
  const links = await sh(["ip", "-n", ns, "-o", "link", "show"]);
  if (a.veth && (links.includes(`${a.veth}@`) || links.includes(`${a.veth}:`))) left.push(`veth ${a.veth}`);
  const rules = (await sh(["ip", "-n", ns, "-4", "rule", "show"])).split("\n").filter((l) =>
    mentions(l, a.ip)
  );
  if (rules.length) left.push(`rules: ${rules.join(" | ")}`);
  const routes = (await sh(["ip", "-n", ns, "-4", "route", "show", "table", "all"])).split("\n")
    .filter((l) => mentions(l, a.ip));
  if (routes.length) left.push(`routes: ${routes.join(" | ")}`);
  const ipt = await sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "iptables-save"]);
  const cniRules = ipt.split("\n").filter((l) => /CNI-/.test(l) && !l.startsWith(":"));
  if ((a.containerId && ipt.includes(a.containerId)) || cniRules.some((l) => /CNI-DN-|CNI-SN-/.test(l))) {
    left.push(`portmap rules: ${cniRules.join(" | ")}`);
  }
  if (a.hostPort && ipt.includes(`--dport ${a.hostPort}`)) left.push(`a rule for host port ${a.hostPort}`);
  const ifbs = links.split("\n").filter((l) => /^\d+: bwp/.test(l));
  if (ifbs.length) left.push(`ifb devices: ${ifbs.map((l) => l.split(":")[1].trim()).join(" ")}`);
  const h = await ipamdHeld(lab, node);
  if (a.containerId && h.has(a.containerId)) {
    left.push(`ipamd holds ${h.get(a.containerId)} for ${a.containerId}`);
  }
  if ([...h.values()].includes(a.ip)) left.push(`ipamd holds ${a.ip}`);
  return left;
}

/** {@linkcode nodeLeftovers}, plus links left in the pod's namespace and libcni's cache entry. */
export async function attachmentLeftovers(
  lab: TestLab,
  node: number,
  a: Attachment & { pod: string; cacheDir: string },
): Promise<string[]> {
  const left = await nodeLeftovers(lab, node, a);
  const podLinks = (await sh(["ip", "-n", a.pod, "-o", "link", "show"])).trim().split("\n");
  if (podLinks.length !== 1) left.push(`pod links: ${podLinks.join(" | ")}`);
  let cached: string[] = [];
  try {
    cached = [...Deno.readDirSync(`${a.cacheDir}/results`)].map((e) => e.name);
  } catch { /* never made */ }
  if (a.containerId && cached.some((f) => f.includes(a.containerId!))) {
    left.push(`libcni cache: ${cached.join(",")}`);
  }
  return left;
}

/** One test pod: its namespace and the driver options for its lab node's conflist. */
export interface LabPod {
  ns: string;
  node: number;
  opts: LibcniOptions;
}

/** Pod namespaces for libcni runs on lab nodes; {@linkcode LabPods.cleanup} removes them. */
export class LabPods {
  readonly list: string[] = [];
  constructor(readonly lab: TestLab, readonly cacheDir: string) {}

  /** A new pod namespace and the options that attach it on `node` (default 0) with the node's conflist. */
  async make(name: string, extra: LibcniOptions = {}, node = 0): Promise<LabPod> {
    const ns = `${this.lab.names.id}-t${randomSuffix()}`;
    this.list.push(ns);
    await addNetns(ns);
    const n = this.lab.status.nodes[node];
    return {
      ns,
      node,
      opts: {
        conflist: `${n.cniConfDir}/10-aws.conflist`,
        binDir: n.cniBinDir,
        netns: `/var/run/netns/${ns}`,
        containerId: `rt-${name}-${randomSuffix()}`,
        ifName: "eth0",
        args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "rt", K8S_POD_NAME: name },
        cacheDir: this.cacheDir,
        inNetns: n.netns,
        ...extra,
      },
    };
  }

  async cleanup(): Promise<void> {
    for (const ns of this.list) await delNetns(ns).catch(() => {});
  }
}
