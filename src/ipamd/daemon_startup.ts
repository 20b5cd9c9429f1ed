/**
 * Start-up steps of the daemon that need no daemon state: who this node is (IMDS, instance limits), the
 * limit gauges, where new ENIs go without custom networking (subnet discovery), the saved assignments (an
 * unreadable checkpoint refuses to start), and the start-up sweep's log line.
 * @module
 */
import type { Ec2Port, InstanceTypeInfo, NetworkInterface } from "../aws/ec2_port.ts";
import type { ImdsInterface, ImdsPort } from "../aws/imds_port.ts";
import { lookupInstanceType } from "../aws/instance_types.ts";
import type { Clock } from "../common/clock.ts";
import { type CheckpointData, fromCheckpoint, readCheckpoint } from "./checkpoint.ts";
import type { IpamdConfig } from "./config.ts";
import type { Assignment } from "./datastore.ts";
import type { SweepRun } from "./eni_gc.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";
import { IPS_PER_PREFIX } from "./max_pods.ts";
import { IPV6_PREFIX_ADDRESSES } from "./ipv6_mode.ts";
import { checkPrefixDelegation } from "./prefix.ts";
import { discoverSubnet } from "./subnet_select.ts";

/** Start-up could not complete; the message says why (e.g. names the unreachable API server). */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** This node as IMDS and the instance-type table describe it. */
export interface NodeIdentity {
  instanceId: string;
  instanceType: string;
  primaryMac: string;
  imdsIfs: ImdsInterface[];
  limits: InstanceTypeInfo;
  /** The VPC's CIDRs (from the primary interface's IMDS entry); IPv6 mode: its IPv6 blocks, as upstream's reply. */
  vpcCidrs: string[];
}

/** Reads the instance from IMDS and its limits (the table, else DescribeInstanceTypes); checks prefix mode. */
export async function readNodeIdentity(
  imds: ImdsPort,
  ec2: Ec2Port,
  config: IpamdConfig,
): Promise<NodeIdentity> {
  const [instanceId, instanceType, primaryMac, imdsIfs] = await Promise.all([
    imds.instanceId(),
    imds.instanceType(),
    imds.primaryMac(),
    imds.interfaces(),
  ]);
  const limits = lookupInstanceType(instanceType) ?? (await ec2.describeInstanceTypes([instanceType]))[0];
  if (!limits) throw new StartupError(`unknown instance type ${instanceType}`);
  checkPrefixDelegation(config.enablePrefixDelegation, { ...limits, instanceType });
  const primary = imdsIfs.find((i) => i.mac.toLowerCase() === primaryMac.toLowerCase());
  const vpcCidrs = (config.enableIpv6 ? primary?.vpcIpv6Cidrs : primary?.vpcCidrs) ?? [];
  return { instanceId, instanceType, primaryMac, imdsIfs, limits, vpcCidrs };
}

/**
 * Start-up's timing in upstream's histograms: `awscni_ipamd_startup_duration_seconds{success, with_api_server,
 * failure_reason}` from the start, `awscni_ipamd_node_initialization_duration_seconds{success}` from the
 * moment the Kubernetes API answered. `at(step)` names what start-up does now; a failure is reported as its failure_reason (upstream: api_server_connectivity).
 */
export class StartupTimer {
  /** The step in progress: api_server_connectivity, then node steps (node_identity, enis, host, restore, serve). */
  step = "api_server_connectivity";
  readonly #t0: number;
  #nodeT0?: number;
  constructor(readonly metrics: IpamdMetrics, readonly clock: Clock) {
    this.#t0 = clock.now();
  }
  at(step: string): void {
    this.step = step;
    this.#nodeT0 ??= this.clock.now();
  }
  /** Start-up succeeded; its duration in seconds. */
  done(): number {
    return this.#observe(true);
  }
  failed(): void {
    this.#observe(false);
  }
  #observe(success: boolean): number {
    const now = this.clock.now();
    const secs = (now - this.#t0) / 1000;
    this.metrics.startupSeconds.observe(secs, {
      success: String(success),
      with_api_server: String(this.#nodeT0 !== undefined),
      failure_reason: success ? "" : this.step,
    });
    if (this.#nodeT0 !== undefined) {
      this.metrics.nodeInitSeconds.observe((now - this.#nodeT0) / 1000, { success: String(success) });
    }
    return secs;
  }
}

/** `awscni_eni_max` and `awscni_ip_max` for this instance and config. */
export function setLimitGauges(
  metrics: IpamdMetrics,
  limits: InstanceTypeInfo,
  config: IpamdConfig,
  unmanagedEnis = 0,
): void {
  if (config.enableIpv6) {
    // IPv6 mode: the primary ENI and its one /80.
    metrics.eniMax.set(1);
    metrics.ipMax.set(IPV6_PREFIX_ADDRESSES);
    return;
  }
  // Upstream's eni_max "accounting for unmanaged ENIs": those still hold device slots.
  const maxEnis = Math.min(limits.maxEnis, config.maxEni ?? Infinity) - unmanagedEnis;
  metrics.eniMax.set(maxEnis);
  // Pod addresses at most: the primary ENI carries none with custom networking; a slot is a /28 in prefix mode.
  metrics.ipMax.set(
    (maxEnis - (config.customNetworking ? 1 : 0)) * (limits.ipv4PerEni - 1) *
      (config.enablePrefixDelegation ? IPS_PER_PREFIX : 1),
  );
}

/** Where a new ENI goes. */
export type Placement = () => Promise<{ subnetId: string; securityGroupIds: string[] }>;

/** ENABLE_SUBNET_DISCOVERY: each new ENI to the candidate subnet with the most free addresses (subnet_select.ts). */
export function subnetDiscoveryPlacement(ec2: Ec2Port, primary: NetworkInterface, log: Logger): Placement {
  const where = { vpcId: primary.vpcId, availabilityZone: primary.availabilityZone };
  const securityGroupIds = primary.securityGroupIds;
  return async () => {
    const r = await discoverSubnet(ec2, { ...where, primarySubnetId: primary.subnetId });
    if (r.error) log.warn("subnet discovery failed; using the primary subnet", { err: r.error });
    return { subnetId: r.subnetId, securityGroupIds };
  };
}

/**
 * The checkpoint's assignments (none when there is no file, with `saved` false). An unreadable checkpoint is
 * fatal (as upstream): starting empty would hand out addresses that live pods still use. Writes are atomic,
 * so this is real damage; the message says to move the file aside to start over.
 */
export async function readSavedAssignments(
  path: string,
  log: Logger,
): Promise<{ saved: boolean; assignments: Assignment[] }> {
  let file: CheckpointData | undefined;
  try {
    file = await readCheckpoint(path);
  } catch (e) {
    log.error("checkpoint unreadable; refusing to start", { err: e, path });
    throw new Error(
      `${(e as Error).message}: refusing to start, live pods' addresses would be handed out again ` +
        `(move ${path} aside to start with no assignments)`,
      { cause: e },
    );
  }
  return { saved: !!file, assignments: file ? fromCheckpoint(file) : [] };
}

/** The start-up sweep's result, in one log line. */
export function logSweep(log: Logger, run: SweepRun): void {
  log.info("start-up ENI sweep done", {
    deleted: run.deleted.length,
    skipped: run.skipped.length,
    failed: run.failed.length,
    deferred: run.deferred,
    incomplete: run.incomplete,
  });
}
