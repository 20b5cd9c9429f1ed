/**
 * What starting an ipamd takes: its configuration, the outside world through the ports (EC2, IMDS,
 * Kubernetes, netlink, iptables), and the timing knobs the lab and the tests set.
 * @module
 */
import type { Netlink } from "../../ffi/mod.ts";
import type { Ec2Port } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import type { RateLimitOptions } from "../aws/rate_limit.ts";
import type { Clock } from "../common/clock.ts";
import type { KubePort } from "../k8s/port.ts";
import type { IptablesRunner } from "../net/iptables.ts";
import type { IpamdConfig } from "./config.ts";
import type { EniGcOptions } from "./eni_gc.ts";
import type { Logger } from "./log.ts";

/** The outside world, through the ports. */
export interface DaemonPorts {
  ec2: Ec2Port;
  imds: ImdsPort;
  kube: KubePort;
  /** The API server's address, for messages. */
  kubeServer: string;
  /** Netlink bound to the node's namespace; without it no host wiring is done. */
  netlink?: Netlink;
  /** Where iptables runs (default: this namespace). */
  iptables?: IptablesRunner;
}

export interface DaemonOptions {
  config: IpamdConfig;
  ports: DaemonPorts;
  log?: Logger;
  /** Bounded wait for the Kubernetes API (default 60 s). */
  kubeWaitMs?: number;
  /** How long ADD waits for the pool to grow (default 5 s). */
  addWaitMs?: number;
  planEveryMs?: number;
  /** The pool driver's batching window (default POOL_BATCH_WINDOW_MS in pool_driver.ts). */
  poolBatchWindowMs?: number;
  reconcileEveryMs?: number;
  attachWaitMs?: number;
  /** Primary interface name for the NodePort connmark rule (default eth0). */
  primaryIf?: string;
  /** Metrics listen address (default all interfaces, like upstream's :61678); tests use 127.0.0.1. */
  metricsHostname?: string;
  /** ENABLE_SUBNET_DISCOVERY (default true); see subnet_select.ts. */
  subnetDiscovery?: boolean;
  /** Leaked-ENI GC timing and limits (tests); off with DISABLE_LEAKED_ENI_CLEANUP. */
  eniGc?: Partial<Pick<EniGcOptions, "firstDelayMs" | "everyMs" | "minAgeMs" | "maxDeletesPerRun">>;
  /** Bound on the start-up sweep of ENIs orphaned by a previous run (default 10 s); see eni_gc.ts. */
  startupSweepDeadlineMs?: number;
  /**
   * Client-side EC2 rate limiting (default `CLIENT_BUCKETS`). `ports.ec2` is always wrapped in it, unless it is
   * a `RateLimitedEc2` already (then it is used as it is).
   */
  rateLimit?: RateLimitOptions;
  /** Time for the pool, the ENI manager, the rate limiter, the GC and the socket API. Default `systemClock`. */
  clock?: Clock;
}
