/** Renders the `/v1/pool` snapshot as the plain-text table `ipamd status` prints. */

export interface PoolView {
  enis: {
    eniId: string;
    deviceNumber: number;
    primaryIp: string;
    subnetCidr: string;
    prefixes?: string[];
    total: number;
    assigned: number;
    cooling: number;
    free: number;
  }[];
  totals: { total: number; assigned: number; cooling: number; free: number };
  pods: {
    ip: string;
    eniId: string;
    containerId: string;
    ifName: string;
    namespace?: string;
    name?: string;
  }[];
  pendingEnis?: number;
  maxEnis?: number;
  /** The plan for the pool as it is now, and when it was computed. */
  plan?: { reason: string; actions: string[]; computedAt: string };
  /** Background tasks failing now. */
  failures?: { task: string; error: string; since: string; count: number }[];
}

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}

/** The pool as text: one row per ENI, totals, then one row per pod. */
export function renderStatus(pool: PoolView): string {
  const out = table(
    ["DEV", "ENI", "PRIMARY IP", "SUBNET", "IPS", "FREE", "ASSIGNED", "COOLING"],
    pool.enis.map((e) => [
      String(e.deviceNumber),
      e.eniId,
      e.primaryIp,
      e.subnetCidr,
      String(e.total),
      String(e.free),
      String(e.assigned),
      String(e.cooling),
    ]),
  );
  const t = pool.totals;
  out.push(
    "",
    `ENIs ${pool.enis.length}${pool.maxEnis ? `/${pool.maxEnis}` : ""}${
      pool.pendingEnis ? ` (+${pool.pendingEnis} attaching)` : ""
    }` +
      `  IPs ${t.total}: free ${t.free}, assigned ${t.assigned}, cooling ${t.cooling}`,
  );
  if (pool.plan) out.push(`plan (${pool.plan.computedAt}): ${pool.plan.reason}`);
  for (const f of pool.failures ?? []) {
    out.push(`FAILING: ${f.task} since ${f.since} (${f.count} time(s)): ${f.error}`);
  }
  out.push("");
  if (pool.pods.length === 0) out.push("no pods");
  else {
    out.push(...table(
      ["POD", "IP", "ENI", "CONTAINER", "IF"],
      pool.pods.map((x) => [
        x.namespace && x.name ? `${x.namespace}/${x.name}` : "-",
        x.ip,
        x.eniId,
        x.containerId.slice(0, 12),
        x.ifName,
      ]),
    ));
  }
  return out.join("\n") + "\n";
}
