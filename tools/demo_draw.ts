/**
 * The demo's pictures: where its pods go, and each node drawn as its ENIs with every IP's state and pod.
 * @module
 */
import { type EnisView as UpstreamEnis, flattenEnis } from "../src/ipamd/introspection.ts";
import { type DemoContext, type EnisView, ipamdGet } from "./demo_context.ts";

/** Where each of n pods goes: node 1 gets a few, node 0 enough to need a second ENI (usable + 1). */
export function placement(count: number, usablePerEni: number, nodes = 2): number[] {
  if (nodes < 2 || count < 2) return Array(count).fill(0);
  const n0 = Math.max(Math.ceil(count / 2), Math.min(count - 1, usablePerEni + 1));
  const n1 = count - n0;
  const out = Array(count).fill(0);
  for (let k = 0; k < n1; k++) out[Math.floor(((k + 0.5) * count) / n1)] = 1;
  return out;
}

/** Draws one node: its ENIs (device, id, subnet), each IP's state and the pod holding it. */
export function drawNode(
  nodeName: string,
  instanceId: string,
  primaryIp: string,
  view: EnisView,
  podByContainer: Map<string, string>,
  now = Date.now(),
): string[] {
  const enis = Object.values(view.enis).sort((a, b) => a.deviceNumber - b.deviceNumber);
  const lines = [
    `${nodeName}  ${instanceId}  primary ${primaryIp}   ${enis.length} ENI(s), ${view.totalIPs} pod IPs: ` +
    `${view.assignedIPs} assigned, ${view.coolingIPs} cooling, ` +
    `${view.totalIPs - view.assignedIPs - view.coolingIPs} free`,
  ];
  enis.forEach((e, ei) => {
    const lastEni = ei === enis.length - 1;
    const ips = [...e.ips].filter((ip) => ip.address !== e.primaryIp);
    const bar = ips.map((ip) => ip.state === "assigned" ? "●" : ip.state === "cooling" ? "◐" : "○").join("");
    const age = Math.round((now - Date.parse(e.createdAt)) / 1000);
    lines.push(
      `${
        lastEni ? "└─" : "├─"
      } eth${e.deviceNumber}  dev ${e.deviceNumber}  ${e.id}  subnet ${e.subnetCidr}  ` +
        `ENI IP ${e.primaryIp}  age ${age}s  [${bar}]`,
    );
    ips.forEach((ip, i) => {
      const stem = lastEni ? "   " : "│  ";
      const branch = i === ips.length - 1 ? "└─" : "├─";
      const who = ip.state === "assigned"
        ? `● ${podByContainer.get(ip.containerId ?? "") ?? `(container ${ip.containerId?.slice(0, 12)})`}`
        : ip.state === "cooling"
        ? "◐ cooling"
        : "○ free";
      lines.push(`${stem}${branch} ${ip.address.padEnd(15)} ${who}`);
    });
  });
  return lines;
}

/** Draws every node of the lab under a section head; `podByContainer` names the pods. */
export async function drawPools(
  ctx: DemoContext,
  title: string,
  podByContainer: Map<string, string>,
): Promise<void> {
  ctx.head(title);
  ctx.log("legend: ● assigned (pod)   ◐ cooling   ○ free");
  for (const n of ctx.status.nodes) {
    const view = flattenEnis(await ipamdGet<UpstreamEnis>(n.ipamdSocket, "/v1/enis"));
    for (const line of drawNode(n.name, n.instanceId, n.primaryIp, view, podByContainer)) ctx.log(line);
    ctx.log("");
  }
}
