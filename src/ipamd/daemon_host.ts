/**
 * Start-up work on the node itself: the node's rules (fwmark, MTU), the ENIs put into the datastore with
 * their host wiring, and the iptables rules (SNAT and connmark; in IPv6 mode only the block on pods'
 * node-local IPv4). And the EC2 port ipamd uses: the given one behind the client-side rate limiter.
 * @module
 */
import type { Ec2Port, NetworkInterface } from "../aws/ec2_port.ts";
import { RateLimitedEc2, type RateLimitOptions } from "../aws/rate_limit.ts";
import type { Clock } from "../common/clock.ts";
import { applyRules, type IptablesRunner, removeOwnRules, renderRules } from "../net/iptables.ts";
import { detectBackend } from "../net/iptables_backend.ts";
import type { IpamdConfig } from "./config.ts";
import type { Datastore } from "./datastore.ts";
import { loadEnis, type NodeEni } from "./daemon_restore.ts";
import type { NodeIdentity } from "./daemon_startup.ts";
import type { HostNetwork } from "./host_network.ts";
import { applyIpv6HostRules } from "./ipv6_mode.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";

/** What host setup works with. */
export interface HostSetupDeps {
  /** Undefined when ipamd has no netlink (no host wiring). */
  host?: HostNetwork;
  ds: Datastore;
  config: IpamdConfig;
  iptables: IptablesRunner;
  /** The primary interface's name when known; else found by the primary ENI's MAC. */
  primaryIf?: string;
  vpcCidrs: string[];
  clock: Clock;
  log: Logger;
  metrics?: IpamdMetrics;
}

/**
 * The iptables backend kube-proxy and kubelet use on this node (iptables_backend.ts, as upstream's image
 * picks it), unless the runner names one; rules of ours a previous run left in the other backend go.
 */
export async function chooseIptables(deps: HostSetupDeps): Promise<IptablesRunner> {
  const r = deps.iptables;
  if (r.backend) return r;
  const { backend, why } = await detectBackend(r);
  deps.log.info("iptables backend", { backend, why });
  // Upstream's label values: nftables when the connmark rules live in nf_tables, else iptables.
  deps.metrics?.connmarkBackend.set(1, { backend: backend === "nft" ? "nftables" : "iptables" });
  const other = backend === "nft" ? "legacy" : "nft";
  if (await removeOwnRules({ ...r, backend: other }).catch(() => false)) {
    deps.log.info("removed our rules from the other iptables backend", { backend: other });
  }
  return { ...r, backend };
}

/**
 * Host: the node's rules, the ENIs in the datastore with their wiring, then iptables. Resolves the iptables
 * backend the rules went to (egress-cni's SNAT must use the same one: `ipamd install` puts it in the conflist).
 */
export async function setupHost(
  deps: HostSetupDeps,
  node: NodeIdentity,
  enis: NodeEni[],
  primary: NetworkInterface,
): Promise<IptablesRunner["backend"]> {
  const { config: c } = deps;
  const v6 = c.enableIpv6;
  deps.host?.setupNode(
    v6
      // Upstream's IPv6 mode: the fwmark rule (IPv6) always, no external-service rules.
      ? { primaryMac: node.primaryMac, mtu: c.eniMtu, fwmark: c.connmark, family: 6 }
      : {
        primaryMac: node.primaryMac,
        mtu: c.eniMtu,
        // Upstream keeps the fwmark rule while it does SNAT even without NodePort support (the veth restore rule).
        fwmark: c.nodePortSupport || !c.externalSnat ? c.connmark : undefined,
        externalServiceCidrs: c.externalServiceCidrs,
      },
  );
  await loadEnis(deps.ds, enis, {
    host: deps.host,
    mtu: c.eniMtu,
    clock: deps.clock,
    log: deps.log,
    ipv6: v6,
  });
  const iptables = await chooseIptables(deps);
  // IPv6 mode: no SNAT or connmark rules, only the block on pods' node-local IPv4 (ipv6_mode.ts).
  if (v6) {
    await applyIpv6HostRules(iptables);
    return iptables.backend;
  }
  await applyConnmarkRules(
    deps,
    iptables,
    renderRules({
      primaryIp: primary.privateIpAddress,
      // The primary ENI's interface, found by its MAC as upstream does (eth0, ens5, ...).
      primaryIf: deps.primaryIf ?? deps.host?.primaryInterface(node.primaryMac) ?? "eth0",
      vpcCidrs: deps.vpcCidrs,
      excludeCidrs: c.excludeSnatCidrs,
      externalSnat: c.externalSnat,
      randomizeSnat: c.randomizeSnat,
      vethPrefix: c.vethPrefix,
      nodePortSupport: c.nodePortSupport,
      connmark: c.connmark,
    }),
  );
  return iptables.backend;
}

/** The SNAT and connmark rules, counted in `awscni_connmark_reconcile_total{result}`. */
async function applyConnmarkRules(
  deps: HostSetupDeps,
  iptables: IptablesRunner,
  rules: ReturnType<typeof renderRules>,
): Promise<void> {
  try {
    await applyRules(rules, iptables);
    deps.metrics?.connmarkReconcile.inc({ result: "success" });
  } catch (e) {
    deps.metrics?.connmarkReconcile.inc({ result: "error" });
    throw e;
  }
}

/**
 * `ec2` behind the client-side token buckets with jittered retries (unless it is rate-limited already);
 * throttled calls count in `awscni_ec2api_throttled_count{fn}`.
 */
export function rateLimited(ec2: Ec2Port, metrics: IpamdMetrics, opts: RateLimitOptions): Ec2Port {
  if (ec2 instanceof RateLimitedEc2) return ec2;
  const throttled = metrics.registry.counter(
    "awscni_ec2api_throttled_count",
    "The number of EC2 API calls answered RequestLimitExceeded",
  );
  return new RateLimitedEc2(ec2, {
    ...opts,
    onThrottle: (action) => {
      throttled.inc({ fn: action });
      opts.onThrottle?.(action);
    },
  });
}
