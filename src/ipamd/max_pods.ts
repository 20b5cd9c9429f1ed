/**
 * Max pods per node, as upstream's eni-max-pods table and EKS's max-pods calculator give it.
 *
 * - Secondary IPs: `ENIs × (IPv4 per ENI − 1) + 2` (the 2 are host-network pods such as aws-node, kube-proxy).
 * - Prefix delegation (Nitro only): `ENIs × ((IPv4 per ENI − 1) × 16) + 2`, capped at 110 for instances with
 *   at most 30 vCPUs and at 250 above.
 * - Custom networking: the primary ENI carries no pods, so one ENI fewer.
 * - `maxEni` (MAX_ENI) caps the ENIs.
 * - IPv6 (Nitro only): addresses are no limit (a /80 per node), so EKS's guidance is the prefix-delegation
 *   figure with its caps (what the max-pods calculator gives with prefix delegation on): 110 or 250 on all but
 *   the smallest instances. Custom networking does not exist in IPv6 mode.
 */

/** The instance limits max pods depends on. */
export interface MaxPodsInstance {
  maxEnis: number;
  ipv4PerEni: number;
  vcpus: number;
  hypervisor: string;
}

/** Options that change the figure. */
export interface MaxPodsOptions {
  prefixDelegation?: boolean;
  customNetworking?: boolean;
  /** An IPv6 cluster (implies prefix delegation). */
  ipv6?: boolean;
  maxEni?: number;
}

/** Pod IPs per /28 prefix. */
export const IPS_PER_PREFIX = 16;

/** The max pods of an instance; throws RangeError for prefix delegation on a non-Nitro instance. */
export function maxPods(t: MaxPodsInstance, opts: MaxPodsOptions = {}): number {
  if (opts.ipv6 && opts.customNetworking) {
    throw new RangeError("custom networking is not supported with IPv6");
  }
  if (opts.ipv6 && t.hypervisor.toLowerCase() !== "nitro") {
    throw new RangeError(`IPv6 needs a Nitro instance; this one runs on "${t.hypervisor}"`);
  }
  const o = opts.ipv6 ? { ...opts, prefixDelegation: true } : opts;
  if (o.prefixDelegation && t.hypervisor.toLowerCase() !== "nitro") {
    throw new RangeError(
      `prefix delegation needs a Nitro instance; this one runs on "${t.hypervisor}"`,
    );
  }
  let enis = o.maxEni !== undefined && o.maxEni > 0 ? Math.min(t.maxEnis, o.maxEni) : t.maxEnis;
  if (o.customNetworking) enis = Math.max(enis - 1, 0);
  const perEni = Math.max(t.ipv4PerEni - 1, 0);
  if (!o.prefixDelegation) return enis * perEni + 2;
  const raw = enis * perEni * IPS_PER_PREFIX + 2;
  return Math.min(raw, t.vcpus > 30 ? 250 : 110);
}
