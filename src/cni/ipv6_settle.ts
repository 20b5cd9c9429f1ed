/**
 * IPv6 pods only (loaded on demand by ADD): wait for duplicate address detection to finish, as upstream's
 * plugin does (`WaitForAddressesToBeStable`: up to 10 s, polling every 50 ms). Until then the pod's addresses
 * are tentative, and neighbour discovery answers sent to a tentative address are dropped, so the pod would be
 * unreachable. We also wait for the host veth's link-local address, which the host's neighbour solicitations
 * come from.
 * @module
 */
import { Netlink } from "../../ffi/mod.ts";
import { CniError, Code } from "./spec.ts";
import { openHost, openPodNs } from "./wiring.ts";

/** Upstream's DAD timeout and poll interval. */
export const DAD_TIMEOUT_MS = 10_000;
export const DAD_POLL_MS = 50;

/** The addresses of `link` (by name) still tentative, or with DAD failed ("!" prefix). */
function unsettled(nl: Netlink, link: string): string[] {
  const l = nl.findLink(link);
  if (!l) return [`${link} is missing`];
  const v6 = nl.addrList(l.index, { family: 6 });
  const out = v6.filter((a) => a.tentative || a.dadFailed).map((a) =>
    `${a.dadFailed ? "!" : ""}${a.address}`
  );
  // a link-local address appears once the link is up: none yet means DAD has not even started
  if (!v6.some((a) => a.scope === "link")) out.push(`${link} has no link-local address yet`);
  return out;
}

/** Resolves once no address of the pod interface or the host veth is tentative; CniError on DAD failure. */
export async function settleIpv6(
  spec: { netnsPath: string; ifName: string; hostVeth: string },
  timeoutMs = DAD_TIMEOUT_MS,
): Promise<void> {
  const ns = openPodNs(spec.netnsPath);
  const host = openHost();
  let pod: Netlink | undefined;
  try {
    pod = Netlink.open(ns);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const left = [...unsettled(pod, spec.ifName), ...unsettled(host, spec.hostVeth)];
      const failed = left.filter((a) => a.startsWith("!"));
      if (failed.length) {
        throw new CniError(
          Code.NETLINK,
          `duplicate address detection failed for ${failed.map((a) => a.slice(1))}`,
        );
      }
      if (!left.length) return;
      if (Date.now() > end) {
        throw new CniError(
          Code.NETLINK,
          `IPv6 addresses still tentative after ${timeoutMs} ms: ${left.join(", ")}`,
        );
      }
      await new Promise((r) => setTimeout(r, DAD_POLL_MS));
    }
  } finally {
    pod?.close();
    host.close();
    ns.close();
  }
}
