/**
 * The pool's gauges: `awscni_eni_allocated`, `awscni_total_ip_addresses`, `awscni_assigned_ip_addresses`,
 * `awscni_total_ipv4_prefixes` and upstream's per-CIDR view `awscni_assigned_ip_per_cidr` (a /28 or IPv6 /80
 * prefix, or a secondary IP as its own /32 or /128) and per ENI `awscni_assigned_ip_per_eni`, set from the datastore.
 * @module
 */
import { cidrContains } from "../net/ipv4.ts";
import { cidr6Contains, isIpv6 } from "../net/ipv6.ts";
import type { Datastore } from "./datastore.ts";
import type { IpamdMetrics } from "./metrics.ts";

/** Sets the pool's gauges from `ds` at `now`. */
export function setPoolGauges(metrics: IpamdMetrics, ds: Datastore, now: number): void {
  const stats = ds.stats(now);
  const enis = ds.enis();
  metrics.eniAllocated.set(enis.length);
  metrics.totalIps.set(stats.total);
  metrics.assignedIps.set(stats.assigned);
  metrics.totalPrefixes.set(enis.reduce((n, e) => n + e.prefixes.length + (e.ipv6Prefixes?.length ?? 0), 0));
  metrics.assignedPerCidr.clear();
  metrics.assignedPerEni.clear();
  for (const e of enis) metrics.assignedPerEni.set(0, { eni: e.eniId });
  for (const a of ds.assignments()) {
    const eni = ds.eni(a.eniId);
    const prefix = isIpv6(a.ip)
      ? eni?.ipv6Prefixes?.find((p) => cidr6Contains(p, a.ip))
      : eni?.prefixes.find((p) => cidrContains(p, a.ip));
    metrics.assignedPerCidr.inc({ cidr: prefix ?? `${a.ip}/${isIpv6(a.ip) ? 128 : 32}` });
    metrics.assignedPerEni.inc({ eni: a.eniId });
  }
}
