/**
 * egress-cni's SNAT of a pod's node-local IPv4 to the node's IPv4, as upstream writes it: a chain
 * `CNI-E4-<hash of network name + container ID>` (28 characters, as the CNI plugins' chain names) in the nat
 * table with `-d 224.0.0.0/4 -j ACCEPT` then `-j SNAT --to-source <node IP>` (`--random-fully` for prng,
 * `--random` for hashrandom), jumped to from POSTROUTING by `-s <pod IP>`; every rule carries the comment
 * `name: "<network>" id: "<container ID>"`. Applied and removed with one iptables-restore each.
 *
 * The backend (legacy or nft) is the one ipamd detected and put its own rules in (the conflist's
 * `iptablesBackend`, written by `ipamd install`): the plugin runs the host's binaries, and the host's plain
 * `iptables` may be the other backend than kube-proxy's. Without the key, or on a host without the backend's
 * `iptables-<backend>-*` binaries (iptables before 1.8), the plain `iptables-*` commands run.
 * @module
 */
import { iptablesRestore, type IptablesRunner, iptablesSave, iptablesSaveWith } from "../net/iptables.ts";

/** The multicast range upstream lets through unchanged. */
export const IPV4_MULTICAST = "224.0.0.0/4";

/** `CNI-E4-` + sha512(name + containerId) in hex, cut to 28 characters (the CNI plugins' chain naming). */
export async function snatChain(network: string, containerId: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-512", new TextEncoder().encode(network + containerId));
  const hex = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
  return `CNI-E4-${hex}`.slice(0, 28);
}

/** The rule comment the CNI plugins use: `name: "<network>" id: "<container ID>"`. */
export function snatComment(network: string, containerId: string): string {
  return `name: ${JSON.stringify(network)} id: ${JSON.stringify(containerId)}`;
}

/** Quotes a comment for iptables-restore (backslash-escaped double quotes). */
function q(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** What one pod's SNAT needs. */
export interface SnatSpec {
  network: string;
  containerId: string;
  podIp: string;
  nodeIp: string;
  randomize: "prng" | "hashrandom" | "none";
}

/** The iptables-restore input that creates (or refills) the pod's chain and its POSTROUTING jump. */
export async function renderSnat(s: SnatSpec): Promise<string> {
  const chain = await snatChain(s.network, s.containerId);
  const c = q(snatComment(s.network, s.containerId));
  const random = s.randomize === "prng" ? " --random-fully" : s.randomize === "hashrandom" ? " --random" : "";
  return [
    "*nat",
    `:${chain} - [0:0]`,
    `-A ${chain} -d ${IPV4_MULTICAST} -m comment --comment ${c} -j ACCEPT`,
    `-A ${chain} -m comment --comment ${c} -j SNAT --to-source ${s.nodeIp}${random}`,
    `-A POSTROUTING -s ${s.podIp}/32 -m comment --comment ${c} -j ${chain}`,
    "COMMIT",
    "",
  ].join("\n");
}

/** Runs `fn` in `r`'s backend, or with the plain commands when that backend's binaries are not installed. */
async function inBackend<T>(r: IptablesRunner, fn: (r: IptablesRunner) => Promise<T>): Promise<T> {
  try {
    return await fn(r);
  } catch (e) {
    if (r.backend && e instanceof Deno.errors.NotFound) return await fn({ ...r, backend: undefined });
    throw e;
  }
}

/** Adds the pod's SNAT chain and jump. */
export async function addSnat(s: SnatSpec, r: IptablesRunner = {}): Promise<void> {
  const input = await renderSnat(s);
  await inBackend(r, (b) => iptablesRestore(input, b));
}

/**
 * The iptables-restore input that removes the chain and every POSTROUTING rule jumping to it, given the nat
 * table as iptables-save prints it; "" when there is nothing to remove.
 */
export function renderSnatRemoval(chain: string, natSave: string): string {
  const lines = natSave.split("\n");
  const jumps = lines.filter((l) => l.startsWith("-A POSTROUTING ") && l.endsWith(` -j ${chain}`));
  const exists = lines.some((l) => l === `:${chain} - [0:0]` || l.startsWith(`:${chain} `));
  if (!jumps.length && !exists) return "";
  return [
    "*nat",
    ...jumps.map((l) => "-D" + l.slice(2)),
    ...(exists ? [`:${chain} - [0:0]`, `-X ${chain}`] : []),
    "COMMIT",
    "",
  ].join("\n");
}

/**
 * Removes the pod's SNAT chain and jumps; idempotent. Returns whether anything was removed. When `r` names a
 * backend that holds nothing of the pod's, the other backend is looked at too (a pod added before the node's
 * backend changed, or by an egress-cni that ran the host's plain `iptables`); it is read whole, so no table is
 * created there, and a failure there (its tools missing) only means there is nothing to remove.
 */
export async function delSnat(
  network: string,
  containerId: string,
  r: IptablesRunner = {},
): Promise<boolean> {
  const chain = await snatChain(network, containerId);
  const removeIn = async (b: IptablesRunner, save: string) => {
    const input = renderSnatRemoval(chain, save);
    if (input) await iptablesRestore(input, b);
    return input !== "";
  };
  if (await inBackend(r, async (b) => await removeIn(b, await iptablesSave("nat", b)))) return true;
  if (!r.backend) return false;
  const other: IptablesRunner = { ...r, backend: r.backend === "nft" ? "legacy" : "nft" };
  const whole = await iptablesSaveWith(other, 4).catch(() => "");
  return whole.includes(chain) ? await removeIn(other, whole) : false;
}

/** Whether the pod's chain and a POSTROUTING jump from `podIp` exist (CHECK). */
export async function hasSnat(
  network: string,
  containerId: string,
  podIp: string,
  r: IptablesRunner = {},
): Promise<boolean> {
  const chain = await snatChain(network, containerId);
  const save = await inBackend(r, (b) => iptablesSave("nat", b));
  return save.split("\n").some((l) =>
    l.startsWith(`-A POSTROUTING -s ${podIp}/32 `) && l.endsWith(` -j ${chain}`)
  ) && save.includes(`-A ${chain} `);
}
