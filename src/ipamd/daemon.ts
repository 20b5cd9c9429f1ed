/**
 * ipamd's daemon: start-up (Kubernetes wait, instance and limits, state rebuild, host setup, iptables),
 * then the socket API, introspection, metrics, the pool driver and the pod watch, until stopped. Start-up
 * is a sequence of named steps (`#startup`); the ones needing no daemon state are in daemon_startup.ts, the
 * listeners in daemon_serve.ts.
 * @module
 */
import type { Ec2Port, NetworkInterface } from "../aws/ec2_port.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import { waitForApiServer } from "../k8s/api_server_wait.ts";
import type { EniConfigSpec } from "../k8s/port.ts";
import { CheckpointWriter } from "./checkpoint_writer.ts";
import type { DaemonOptions } from "./daemon_options.ts";
import { rateLimited, setupHost } from "./daemon_host.ts";
import { type Assignment, Datastore } from "./datastore.ts";
import { type NodeEni, nodeEnis, restoreAssignments } from "./daemon_restore.ts";
import { serveIpamd } from "./daemon_serve.ts";
import {
  logSweep,
  type NodeIdentity,
  type Placement,
  readNodeIdentity,
  readSavedAssignments,
  setLimitGauges,
  StartupError,
  StartupTimer,
  subnetDiscoveryPlacement,
} from "./daemon_startup.ts";
import { EniConfigWatcher } from "./eni_config.ts";
import { EniGc, sweepOrphanedEnis, type SweepRun } from "./eni_gc.ts";
import { EniManager } from "./eni_manager.ts";
import { HostNetwork } from "./host_network.ts";
import { ensureIpv6Prefix, ipv6Planner } from "./ipv6_mode.ts";
import { type UnmanagedEni, unmanagedReason } from "./eni_policy.ts";
import { ImdsOnlyEc2 } from "./imds_only_ec2.ts";
import { CordonWatch, poolHold } from "./node_cordon.ts";
import { PodIpAnnotator } from "./pod_ip_annotation.ts";
import { Logger } from "./log.ts";
import { IpamdMetrics } from "./metrics.ts";
import { PodWatch } from "./pod_watch.ts";
import { POOL_BATCH_WINDOW_MS, PoolDriver } from "./pool_driver.ts";

export { StartupError } from "./daemon_startup.ts";
export type { DaemonOptions, DaemonPorts } from "./daemon_options.ts";

export const VERSION = "0.1.0";

/** A running ipamd. */
export class Daemon {
  ready = false;
  readonly metrics = new IpamdMetrics();
  readonly ds: Datastore;
  readonly log: Logger;
  driver!: PoolDriver;
  eniManager!: EniManager;
  /** The EC2 port ipamd uses: `ports.ec2` behind the client-side rate limiter. */
  ec2!: Ec2Port;
  eniGc?: EniGc;
  /** The start-up sweep's result (unset when leaked-ENI cleanup is disabled). */
  startupSweep?: SweepRun;
  eniConfig?: EniConfigWatcher;
  host?: HostNetwork;
  vpcCidrs: string[] = [];
  /** The iptables backend ipamd's rules went to (unset without a detection: the system's `iptables`). */
  iptablesBackend?: "legacy" | "nft";
  instanceId = "";
  introspectionAddr?: Deno.NetAddr;
  metricsAddr?: Deno.NetAddr;
  readonly clock: Clock;
  readonly #servers: Deno.HttpServer[] = [];
  readonly #abort = new AbortController();
  readonly #checkpoint: CheckpointWriter;
  #eniConfigs: Record<string, EniConfigSpec> = {};
  /** Cordon watch (AWS_MANAGE_ENIS_NON_SCHEDULABLE=false). */
  cordon?: CordonWatch;
  /** Attached ENIs left out of the pool, and why (MANAGE_UNTAGGED_ENI, no_manage), by ENI ID. */
  readonly unmanaged = new Map<string, UnmanagedEni>();
  readonly #timer: StartupTimer;

  private constructor(readonly opts: DaemonOptions) {
    this.ds = new Datastore({ cooldownMs: opts.config.ipCooldownMs });
    this.clock = opts.clock ?? systemClock;
    this.#timer = new StartupTimer(this.metrics, this.clock);
    this.log = opts.log ?? new Logger(opts.config.logLevel, opts.config.logFile);
    this.#checkpoint = new CheckpointWriter(opts.config.backingStore, this.ds, {
      metrics: this.metrics,
      log: this.log,
    });
  }

  /** Runs start-up and begins serving; throws {@link StartupError} when it cannot. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    try {
      await d.#startup();
    } catch (e) {
      d.#timer.failed();
      await d.stop();
      throw e instanceof StartupError
        ? e
        : new StartupError(`start-up failed: ${(e as Error).message}`, { cause: e });
    }
    return d;
  }

  /**
   * Writes the assignments to the checkpoint. Writes are serialised and each sees every earlier change;
   * callers arriving while a write waits to start share it (one write for a burst of ADDs).
   */
  persist(): Promise<void> {
    return this.#checkpoint.write();
  }

  /** Start-up, step by step; the pod watch it ends with runs until stop(). */
  async #startup(): Promise<void> {
    const startedAt = this.clock.now();
    this.#prepare();
    await this.#waitForKube();
    this.log.info("Kubernetes API reachable", { server: this.opts.ports.kubeServer });
    this.#timer.at("node_identity");
    const node = await readNodeIdentity(this.opts.ports.imds, this.ec2, this.opts.config);
    this.instanceId = node.instanceId;
    this.vpcCidrs = node.vpcCidrs;
    const sweep = this.#startSweep(node.instanceId, startedAt);
    this.#timer.at("enis");
    let enis = await this.#readEnis(node);
    // ENIs left alone still hold device slots (upstream: maxENI - unmanaged).
    const deviceSlots = Math.min(node.limits.maxEnis, this.opts.config.maxEni ?? Infinity);
    const maxEnis = deviceSlots - this.unmanaged.size;
    setLimitGauges(this.metrics, node.limits, this.opts.config, this.unmanaged.size);
    const primary = enis.find((e) => e.deviceNumber === 0)!.eni;
    this.eniManager = this.#eniManager(node.instanceId, primary, await this.#placement(primary));
    if (this.opts.config.enableIpv6) enis = await this.#ipv6Prefix(enis);
    this.#timer.at("host");
    await this.#setupHost(node, enis, primary);
    this.#timer.at("restore");
    await this.#restoreAssignments(enis.length);
    if (sweep) logSweep(this.log, this.startupSweep = await sweep);
    await this.#watchCordon();
    this.driver = new PoolDriver({
      ds: this.ds,
      eni: this.eniManager,
      imds: this.opts.ports.imds,
      host: this.host,
      config: this.opts.config,
      limits: { maxEnis, ipv4PerEni: node.limits.ipv4PerEni, deviceSlots },
      primaryEniId: primary.networkInterfaceId,
      metrics: this.metrics,
      log: this.log,
      clock: this.clock,
      ...(this.opts.config.enableIpv6 ? { planner: ipv6Planner } : {}),
      hold: poolHold(this.opts.config, () => this.cordon?.cordoned ?? false),
      batchWindowMs: this.opts.poolBatchWindowMs ?? POOL_BATCH_WINDOW_MS,
    });
    this.#timer.at("serve");
    await this.#serve();
    this.ready = true;
    const secs = this.#timer.done();
    this.log.info("ipamd ready", {
      instanceId: node.instanceId,
      instanceType: node.instanceType,
      startupSeconds: secs,
    });
    this.#startLoops(node.instanceId);
    await this.#watchPods();
  }

  /** Before any connection: the rate-limited EC2 port, build info, the host and its primary MTU. */
  #prepare(): void {
    const { config, ports } = this.opts;
    // ENABLE_IMDS_ONLY_MODE: ENIs from IMDS, and no EC2 call at all.
    this.ec2 = this.#rateLimited(config.imdsOnly ? new ImdsOnlyEc2(ports.imds) : ports.ec2);
    this.metrics.buildInfo.set(1, { version: VERSION, runtime: `deno-${Deno.version.deno}` });
    if (ports.netlink) this.host = new HostNetwork(ports.netlink);
    // AWS_VPC_ENI_MTU on the primary interface before any connection is opened: a TCP connection set up at the
    // old MTU keeps its larger MSS, and the peer's segments would no longer fit.
    this.host?.setDefaultRouteMtu(config.eniMtu);
  }

  async #waitForKube(): Promise<void> {
    const { kube, kubeServer } = this.opts.ports;
    const timeoutMs = this.opts.kubeWaitMs ?? 60_000;
    try {
      await waitForApiServer(kube, { timeoutMs, signal: this.#abort.signal });
    } catch (e) {
      throw new StartupError(
        `Kubernetes API server ${kubeServer} did not answer within ${timeoutMs / 1000} s: ${
          (e as Error).message
        }`,
      );
    }
  }

  /**
   * ENIs a previous run created but never attached (killed inside create → attach): deleted now, in
   * parallel with the rest of start-up, and awaited (bounded) before the pool can grow.
   */
  #startSweep(instanceId: string, startedAt: number): Promise<SweepRun> | undefined {
    const c = this.opts.config;
    if (c.disableLeakedEniCleanup) return undefined;
    return sweepOrphanedEnis({
      ec2: this.ec2,
      instanceId,
      clusterName: c.clusterName,
      startedAt,
      metrics: this.metrics,
      log: this.log,
      deadlineMs: this.opts.startupSweepDeadlineMs,
      signal: this.#abort.signal,
      clock: this.clock,
    });
  }

  /** The node's attached ENIs (EC2, with IMDS or DescribeSubnets for the subnet); the primary must be there. */
  async #readEnis(node: NodeIdentity): Promise<NodeEni[]> {
    const ec2 = this.ec2;
    const enis = await nodeEnis({
      eni: this.#eniManager(node.instanceId),
      imdsIfs: node.imdsIfs,
      describeSubnet: (id) => ec2.describeSubnets({ subnetIds: [id] }).then((s) => s[0]),
      log: this.log,
    });
    if (!enis.some((e) => e.deviceNumber === 0)) {
      throw new StartupError(`EC2 lists no primary ENI (device 0) on ${node.instanceId}`);
    }
    return enis;
  }

  /**
   * IPv6 mode: the primary ENI alone, with its /80 (EC2's first, else one assigned now). Other ENIs are left
   * alone: upstream's IPv6 mode has no secondary ENIs.
   */
  async #ipv6Prefix(enis: NodeEni[]): Promise<NodeEni[]> {
    const primary = enis.find((e) => e.deviceNumber === 0)!;
    const prefix = await ensureIpv6Prefix(this.eniManager, primary.eni, this.log).catch((e) => {
      throw new StartupError(
        `IPv6 mode: no IPv6 prefix on the primary ENI ${primary.eni.networkInterfaceId}: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    });
    return [{ ...primary, eni: { ...primary.eni, ipv6Prefixes: [prefix] } }];
  }

  /** Where new ENIs go: the node's ENIConfig (custom networking, watched), subnet discovery, or the primary's. */
  async #placement(primary: NetworkInterface): Promise<Placement | undefined> {
    const c = this.opts.config;
    if (c.enableIpv6) return undefined; // no new ENIs in IPv6 mode
    if (c.customNetworking) {
      const w = this.eniConfig = new EniConfigWatcher({
        kube: this.opts.ports.kube,
        nodeName: c.nodeName,
        keys: c,
        fallbackGroups: primary.securityGroupIds,
        log: this.log,
      });
      await w.init().catch((e) => {
        throw new StartupError((e as Error).message);
      });
      this.#eniConfigs = w.seen;
      w.watch(this.#abort.signal).catch((e) => this.log.warn("node watch ended", { err: e }));
      return () => w.placement();
    }
    return (this.opts.subnetDiscovery ?? true)
      ? subnetDiscoveryPlacement(this.ec2, primary, this.log)
      : undefined;
  }

  /** The ENI manager; without `primary` a bootstrap one that can only describe (for reading the ENIs). */
  #eniManager(instanceId: string, primary?: NetworkInterface, placement?: Placement): EniManager {
    const c = this.opts.config;
    return new EniManager({
      ec2: this.ec2,
      imds: this.opts.ports.imds,
      instanceId,
      subnetId: primary?.subnetId ?? "",
      securityGroupIds: primary?.securityGroupIds ?? [],
      placement,
      clusterName: c.clusterName,
      unmanagedReason: (n) => this.#unmanagedReason(n, instanceId),
      ...(primary
        ? {
          additionalTags: c.additionalEniTags,
          linkPresent: this.host ? (mac: string) => this.host!.linkPresent(mac) : undefined,
          attachWaitMs: this.opts.attachWaitMs,
        }
        : {}),
      metrics: this.metrics,
      log: this.log,
      clock: this.clock,
    });
  }

  /**
   * Why ipamd leaves an attached ENI alone (eni_policy.ts), recorded for introspection. In IMDS-only mode
   * there are no tags to read, so every ENI is used, as upstream.
   */
  #unmanagedReason(eni: NetworkInterface, instanceId: string): string | undefined {
    const c = this.opts.config;
    const reason = c.imdsOnly
      ? undefined
      : unmanagedReason(eni, { instanceId, manageUntagged: c.manageUntaggedEni });
    const eniId = eni.networkInterfaceId;
    if (reason) this.unmanaged.set(eniId, { eniId, deviceNumber: eni.attachment?.deviceIndex ?? -1, reason });
    else this.unmanaged.delete(eniId);
    return reason;
  }

  /** AWS_MANAGE_ENIS_NON_SCHEDULABLE=false: learn whether the node is cordoned, and watch it (node_cordon.ts). */
  async #watchCordon(): Promise<void> {
    const c = this.opts.config;
    if (c.manageEnisNonSchedulable || c.disableEniProvisioning) return;
    this.cordon = new CordonWatch({
      kube: this.opts.ports.kube,
      nodeName: c.nodeName,
      onChange: () => void this.driver?.trigger(),
      log: this.log,
    });
    await this.cordon.init();
    this.cordon.watch(this.#abort.signal).catch((e) => this.log.warn("node watch ended", { err: e }));
  }

  /** Host: the node's rules, the ENIs in the datastore with their wiring, then iptables (daemon_host.ts). */
  async #setupHost(node: NodeIdentity, enis: NodeEni[], primary: NetworkInterface): Promise<void> {
    this.iptablesBackend = await setupHost(
      {
        host: this.host,
        ds: this.ds,
        config: this.opts.config,
        iptables: this.opts.ports.iptables ?? {},
        primaryIf: this.opts.primaryIf,
        vpcCidrs: this.vpcCidrs,
        clock: this.clock,
        log: this.log,
        metrics: this.metrics,
      },
      node,
      enis,
      primary,
    );
  }

  /** The checkpoint's assignments back into the datastore (dropping those whose pod veth is gone). */
  async #restoreAssignments(eniCount: number): Promise<void> {
    const c = this.opts.config;
    const { saved, assignments } = await readSavedAssignments(c.backingStore, this.log);
    const { restored, dropped, unmatched } = restoreAssignments(this.ds, assignments, {
      host: this.host,
      vethPrefix: c.vethPrefix,
      log: this.log,
    });
    this.metrics.unrecoveredCheckpoint.inc({}, unmatched);
    if (saved) await this.persist();
    this.log.info("state restored", { enis: eniCount, restored, dropped: dropped.length });
  }

  /** The first plan, the driver's timers and the leaked-ENI GC. */
  #startLoops(instanceId: string): void {
    const c = this.opts.config;
    void this.driver.trigger();
    // IPv6 mode has no pool to keep and nothing to reconcile (upstream's pool manager returns at once).
    if (!c.enableIpv6) {
      this.driver.start({ planEveryMs: this.opts.planEveryMs, reconcileEveryMs: this.opts.reconcileEveryMs });
    }
    if (c.disableLeakedEniCleanup) return;
    this.eniGc = new EniGc({
      ec2: this.ec2,
      instanceId,
      clusterName: c.clusterName,
      metrics: this.metrics,
      log: this.log,
      clock: this.clock,
      ...this.opts.eniGc,
    });
    this.eniGc.start();
  }

  /** Watches this node's pods: an assignment whose pod is gone (past the grace period) is released. */
  async #watchPods(): Promise<void> {
    const c = this.opts.config;
    await new PodWatch({
      kube: this.opts.ports.kube,
      nodeName: c.nodeName,
      ds: this.ds,
      graceMs: c.podLeakGraceMs,
      release: (a) => this.releaseLeaked(a),
      log: this.log,
      failures: this.driver.failures,
      clock: this.clock,
    }).start(this.#abort.signal);
  }

  /** `ec2` behind the client-side token buckets with jittered retries; throttled calls are counted. */
  #rateLimited(ec2: Ec2Port): Ec2Port {
    return rateLimited(ec2, this.metrics, { clock: this.clock, ...this.opts.rateLimit });
  }

  /** Releases an assignment found leaked (pod gone). */
  async releaseLeaked(assignment: Assignment): Promise<void> {
    if (!this.ds.release(assignment, this.clock.now())) return;
    this.metrics.forceRemovedIps.inc({ reason: "pod_gone" });
    this.metrics.delIpReq.inc({ reason: "podGone" });
    await this.persist();
    void this.driver.trigger();
  }

  async #serve(): Promise<void> {
    const listeners = await serveIpamd({
      ds: this.ds,
      driver: this.driver,
      config: this.opts.config,
      vpcCidrs: this.vpcCidrs,
      persist: () => this.persist(),
      ready: () => this.ready,
      iptablesBackend: () => this.iptablesBackend,
      metrics: this.metrics,
      log: this.log,
      clock: this.clock,
      eniConfigs: () => this.#eniConfigs,
      unmanaged: () => [...this.unmanaged.values()],
      podIps: this.opts.config.annotatePodIp
        ? new PodIpAnnotator({ kube: this.opts.ports.kube, log: this.log, metrics: this.metrics })
        : undefined,
      addWaitMs: this.opts.addWaitMs,
      metricsHostname: this.opts.metricsHostname,
      signal: this.#abort.signal,
    });
    this.#servers.push(...listeners.servers);
    this.introspectionAddr = listeners.introspectionAddr;
    this.metricsAddr = listeners.metricsAddr;
  }

  /** Stops serving and the loops; waits for in-flight work and the last checkpoint write. */
  async stop(): Promise<void> {
    this.ready = false;
    this.#abort.abort();
    await Promise.allSettled(this.#servers.map((s) => s.shutdown()));
    await this.driver?.stop();
    await this.eniGc?.stop();
    await this.#checkpoint.settled();
    this.log.close();
  }
}
