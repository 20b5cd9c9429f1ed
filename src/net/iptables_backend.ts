/**
 * Which iptables backend the node uses, legacy (x_tables) or nft, decided as upstream's image does (its
 * iptables-wrapper, from kubernetes-sigs/iptables-wrappers), so ipamd's rules land in the same tables as
 * kube-proxy's and kubelet's:
 *
 * 1. kubelet's `KUBE-IPTABLES-HINT` or `KUBE-KUBELET-CANARY` chain in nft's mangle table → nft;
 * 2. one of them anywhere in legacy's tables → legacy (legacy is read whole: asking iptables-legacy-save for
 *    one table would create it);
 * 3. else whichever holds more rules (IPv4 and IPv6 together); a tie, or nothing at all, → nft.
 *
 * Reading never creates a table in either backend.
 * @module
 */
import { type IptablesRunner, iptablesSaveWith } from "./iptables.ts";

/** The two iptables 1.8 backends. */
export type IptablesBackend = "legacy" | "nft";

const KUBELET_CHAINS = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)\s/m;

/** Rule lines (`-A ...`) in `iptables-save` text. */
export function ruleCount(save: string): number {
  return save.split("\n").filter((l) => l.startsWith("-")).length;
}

/** What the backends hold, as their save commands print it ("" when a command is missing or fails). */
export interface BackendSaves {
  /** iptables-nft-save -t mangle and ip6tables-nft-save -t mangle. */
  nftMangle: string;
  /** iptables-legacy-save and ip6tables-legacy-save, every table. */
  legacy: string;
  /** iptables-nft-save and ip6tables-nft-save, every table. */
  nft: string;
}

/** The backend upstream's wrapper would pick, and why (pure). */
export function chooseBackend(s: BackendSaves): { backend: IptablesBackend; why: string } {
  if (KUBELET_CHAINS.test(s.nftMangle)) {
    return { backend: "nft", why: "kubelet's hint chain is in nft's mangle" };
  }
  if (KUBELET_CHAINS.test(s.legacy)) {
    return { backend: "legacy", why: "kubelet's hint chain is in legacy's tables" };
  }
  const legacy = ruleCount(s.legacy), nft = ruleCount(s.nft);
  return legacy > nft
    ? { backend: "legacy", why: `no kubelet hint; legacy holds more rules (${legacy} against ${nft})` }
    : { backend: "nft", why: `no kubelet hint; nft holds as many rules or more (${nft} against ${legacy})` };
}

/** Runs a save command; "" when it is missing or fails (that backend then counts as empty). */
async function saved(
  r: IptablesRunner,
  backend: IptablesBackend,
  family: 4 | 6,
  table?: string,
): Promise<string> {
  try {
    return await iptablesSaveWith({ ...r, backend }, family, table);
  } catch {
    return "";
  }
}

/** Reads both backends in `r`'s namespace and picks one ({@link chooseBackend}). */
export async function detectBackend(
  r: IptablesRunner = {},
): Promise<{ backend: IptablesBackend; why: string }> {
  const both = async (backend: IptablesBackend, table?: string) =>
    (await saved(r, backend, 4, table)) + (await saved(r, backend, 6, table));
  const nftMangle = await both("nft", "mangle");
  if (KUBELET_CHAINS.test(nftMangle)) return chooseBackend({ nftMangle, legacy: "", nft: "" });
  return chooseBackend({ nftMangle, legacy: await both("legacy"), nft: await both("nft") });
}
