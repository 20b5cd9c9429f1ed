/**
 * ipamd's daemon: start-up (Kubernetes wait, instance and limits, state rebuild, host setup, iptables),
 * then the socket API, introspection, metrics, the pool driver and the pod watch, until stopped.
 */
import type { Ec2Port } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { RateLimitedEc2, type RateLimitOptions } from "../aws/rate_limit.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import type { EniConfigSpec, KubePort } from "../k8s/port.ts";
import { waitForApiServer } from "../k8s/client.ts";
import type { Netlink } from "../../ffi/mod.ts";
import { applyRules, type IptablesRunner, renderRules } from "../net/iptables.ts";
import { fromCheckpoint, readCheckpoint, toCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import type { IpamdConfig } from "./config.ts";
import { type Assignment, Datastore } from "./datastore.ts";
import { loadEnis, nodeEnis, restoreAssignments } from "./daemon_restore.ts";
import { EniConfigWatcher } from "./eni_config.ts";
import { EniGc, type EniGcOptions, sweepOrphanedEnis, type SweepRun } from "./eni_gc.ts";
import { EniManager } from "./eni_manager.ts";
import { HostNetwork } from "./host_network.ts";
import { enisView, introspectionHandler, metricsHandler, parseBind, podsView } from "./introspection.ts";
import { Logger } from "./log.ts";
import { IpamdMetrics } from "./metrics.ts";
import { PodWatch } from "./pod_watch.ts";
import { checkPrefixDelegation } from "./prefix.ts";
import { PoolDriver } from "./pool_driver.ts";
import { apiHandler, serveUnix } from "./server.ts";
import { discoverSubnet } from "./subnet_select.ts";

export const VERSION = "0.1.0";

/** Start-up could not complete; the message says why (e.g. names the unreachable API server). */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** The outside world, through the ports. */
export interface DaemonPorts {
  ec2: Ec2Port;
  imds: ImdsPort;
  kube: KubePort;
  /** The API server's address, for messages. */
  kubeServer: string;
  /** Netlink bound to the node's namespace; without it no host wiring is done. */
  netlink?: Netlink;
  /** Where iptables runs; `false` skips iptables entirely. */
  iptables?: IptablesRunner | false;
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
  /** Client-side EC2 rate limiting (default on, `CLIENT_BUCKETS`); `false` only for tests. */
  rateLimit?: RateLimitOptions | false;
  /** Time for the pool, the ENI manager, the rate limiter, the GC and the socket API. Default `systemClock`. */
  clock?: Clock;
}

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
  instanceId = "";
  introspectionAddr?: Deno.NetAddr;
  metricsAddr?: Deno.NetAddr;
  readonly #servers: Deno.HttpServer[] = [];
  readonly #abort = new AbortController();
  #ckpt: Promise<void> = Promise.resolve();
  #ckptQueued?: Promise<void>;
  #eniConfigs: Record<string, EniConfigSpec> = {};
  readonly clock: Clock;

  private constructor(readonly o: DaemonOptions) {
    this.ds = new Datastore({ cooldownMs: o.config.ipCooldownMs });
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? new Logger(o.config.logLevel, o.config.logFile);
  }

  /** Runs start-up and begins serving; throws {@link StartupError} when it cannot. */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(o);
    try {
      await d.#startup();
    } catch (e) {
      await d.stop();
      throw e instanceof StartupError
        ? e
        : new StartupError(`start-up failed: ${(e as Error).message}`, { cause: e });
    }
    return d;
  }

  /**
   * Writes the assignments to the checkpoint. Writes are serialised and each sees every earlier change;
   * callers arriving while a write waits to start share it (one fsync for a burst of ADDs).
   */
  persist(): Promise<void> {
    if (this.#ckptQueued) return this.#ckptQueued;
    const p = this.#ckpt.then(() => {
      this.#ckptQueued = undefined;
      return writeCheckpoint(this.o.config.backingStore, toCheckpoint(this.ds.assignments()));
    });
    this.#ckptQueued = p;
    this.#ckpt = p.catch((e) => {
      this.metrics.ipamdErr.inc({ fn: "checkpoint" });
      this.log.error("checkpoint write failed", { err: e });
    });
    return p;
  }

  async #waitForKube(): Promise<void> {
    const { kube, kubeServer } = this.o.ports;
    const timeoutMs = this.o.kubeWaitMs ?? 60_000;
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

  async #startup(): Promise<void> {
    const clock = this.clock;
    const startedAt = clock.now();
    const { config: c, ports } = this.o;
    const { imds, kube } = ports;
    const ec2 = this.ec2 = this.#rateLimited(ports.ec2);
    this.metrics.buildInfo.set(1, { version: VERSION, runtime: `deno-${Deno.version.deno}` });
    if (ports.netlink) this.host = new HostNetwork(ports.netlink);
    // AWS_VPC_ENI_MTU on the primary interface before any connection is opened: a TCP connection set up at the
    // old MTU keeps its larger MSS, and the peer's segments would no longer fit.
    this.host?.setDefaultRouteMtu(c.eniMtu);
    await this.#waitForKube();
    this.log.info("Kubernetes API reachable", { server: ports.kubeServer });

    const [instanceId, instanceType, primaryMac, imdsIfs] = await Promise.all([
      imds.instanceId(),
      imds.instanceType(),
      imds.primaryMac(),
      imds.interfaces(),
    ]);
    this.instanceId = instanceId;
    // ENIs a previous run created but never attached (killed inside create → attach): deleted now, in
    // parallel with the rest of start-up, and awaited (bounded) before the pool can grow.
    const sweep = c.disableLeakedEniCleanup ? undefined : sweepOrphanedEnis({
      ec2,
      instanceId,
      clusterName: c.clusterName,
      startedAt,
      metrics: this.metrics,
      log: this.log,
      deadlineMs: this.o.startupSweepDeadlineMs,
      signal: this.#abort.signal,
      clock,
    });
    const limits = lookupInstanceType(instanceType) ?? (await ec2.describeInstanceTypes([instanceType]))[0];
    if (!limits) throw new StartupError(`unknown instance type ${instanceType}`);
    checkPrefixDelegation(c.enablePrefixDelegation, { ...limits, instanceType });
    const primaryImds = imdsIfs.find((i) => i.mac.toLowerCase() === primaryMac.toLowerCase());
    this.vpcCidrs = primaryImds?.vpcCidrs ?? [];
    this.metrics.eniMax.set(Math.min(limits.maxEnis, c.maxEni ?? Infinity));
    // Pod addresses at most: the primary ENI carries none with custom networking; a slot is a /28 in prefix mode.
    this.metrics.ipMax.set(
      (Math.min(limits.maxEnis, c.maxEni ?? Infinity) - (c.customNetworking ? 1 : 0)) *
        (limits.ipv4PerEni - 1) * (c.enablePrefixDelegation ? 16 : 1),
    );

    const subnets = (id: string) => ec2.describeSubnets({ subnetIds: [id] }).then((s) => s[0]);
    const bootstrap = new EniManager({
      ec2,
      imds,
      instanceId,
      subnetId: "",
      securityGroupIds: [],
      clusterName: c.clusterName,
      metrics: this.metrics,
      log: this.log,
      clock,
    });
    const enis = await nodeEnis({ eni: bootstrap, imdsIfs, describeSubnet: subnets, log: this.log });
    const primary = enis.find((e) => e.deviceNumber === 0);
    if (!primary) throw new StartupError(`EC2 lists no primary ENI (device 0) on ${instanceId}`);

    const { subnetId, securityGroupIds } = primary.eni;
    let placement: (() => Promise<{ subnetId: string; securityGroupIds: string[] }>) | undefined;
    if (c.customNetworking) {
      const w = this.eniConfig = new EniConfigWatcher({
        kube,
        nodeName: c.nodeName,
        keys: c,
        fallbackGroups: securityGroupIds,
        log: this.log,
      });
      await w.init().catch((e) => {
        throw new StartupError((e as Error).message);
      });
      this.#eniConfigs = w.seen;
      w.watch(this.#abort.signal).catch((e) => this.log.warn("node watch ended", { err: e }));
      placement = () => w.placement();
    } else if (this.o.subnetDiscovery ?? true) {
      const where = { vpcId: primary.eni.vpcId, availabilityZone: primary.eni.availabilityZone };
      placement = async () => {
        const r = await discoverSubnet(ec2, { ...where, primarySubnetId: subnetId });
        if (r.error) this.log.warn("subnet discovery failed; using the primary subnet", { err: r.error });
        return { subnetId: r.subnetId, securityGroupIds };
      };
    }
    this.eniManager = new EniManager({
      ec2,
      imds,
      instanceId,
      subnetId,
      securityGroupIds,
      placement,
      clusterName: c.clusterName,
      additionalTags: c.additionalEniTags,
      linkPresent: this.host ? (mac) => this.host!.linkPresent(mac) : undefined,
      metrics: this.metrics,
      log: this.log,
      attachWaitMs: this.o.attachWaitMs,
      clock,
    });

    // Host: node rule, secondary ENIs, iptables.
    this.host?.setupNode({
      primaryMac,
      mtu: c.eniMtu,
      // Upstream keeps the fwmark rule while it does SNAT even without NodePort support (the veth restore rule).
      fwmark: c.nodePortSupport || !c.externalSnat ? c.connmark : undefined,
      externalServiceCidrs: c.externalServiceCidrs,
    });
    await loadEnis(this.ds, enis, { host: this.host, mtu: c.eniMtu, clock, log: this.log });
    if (ports.iptables !== false) {
      await applyRules(
        renderRules({
          primaryIp: primary.eni.privateIpAddress,
          // The primary ENI's interface, found by its MAC as upstream does (eth0, ens5, ...).
          primaryIf: this.o.primaryIf ?? this.host?.primaryInterface(primaryMac) ?? "eth0",
          vpcCidrs: this.vpcCidrs,
          excludeCidrs: c.excludeSnatCidrs,
          externalSnat: c.externalSnat,
          randomizeSnat: c.randomizeSnat,
          vethPrefix: c.vethPrefix,
          nodePortSupport: c.nodePortSupport,
          connmark: c.connmark,
        }),
        ports.iptables ?? {},
      );
    }

    // Checkpoint.
    // An unreadable checkpoint is fatal (as upstream): starting empty would hand out addresses that live
    // pods still use. Writes are atomic, so this is real damage; move the file aside to start over.
    const saved = await readCheckpoint(c.backingStore).catch((e) => {
      this.log.error("checkpoint unreadable; refusing to start", { err: e, path: c.backingStore });
      throw new Error(
        `${(e as Error).message}: refusing to start, live pods' addresses would be handed out again ` +
          `(move ${c.backingStore} aside to start with no assignments)`,
        { cause: e },
      );
    });
    const { restored, dropped } = restoreAssignments(this.ds, saved ? fromCheckpoint(saved) : [], {
      host: this.host,
      vethPrefix: c.vethPrefix,
      log: this.log,
    });
    if (saved) await this.persist();
    this.log.info("state restored", { enis: enis.length, restored, dropped: dropped.length });
    if (sweep) {
      const r = this.startupSweep = await sweep;
      this.log.info("start-up ENI sweep done", {
        deleted: r.deleted.length,
        skipped: r.skipped.length,
        failed: r.failed.length,
        deferred: r.deferred,
        incomplete: r.incomplete,
      });
    }

    this.driver = new PoolDriver({
      ds: this.ds,
      eni: this.eniManager,
      imds,
      host: this.host,
      config: c,
      limits: { maxEnis: limits.maxEnis, ipv4PerEni: limits.ipv4PerEni },
      primaryEniId: primary.eni.networkInterfaceId,
      metrics: this.metrics,
      log: this.log,
      clock,
    });
    await this.#serve();
    this.ready = true;
    const secs = (clock.now() - startedAt) / 1000;
    this.metrics.startupSeconds.set(secs);
    this.log.info("ipamd ready", { instanceId, instanceType, startupSeconds: secs });
    void this.driver.trigger();
    this.driver.start({ planEveryMs: this.o.planEveryMs, reconcileEveryMs: this.o.reconcileEveryMs });
    if (!c.disableLeakedEniCleanup) {
      this.eniGc = new EniGc({
        ec2,
        instanceId,
        clusterName: c.clusterName,
        metrics: this.metrics,
        log: this.log,
        clock,
        ...this.o.eniGc,
      });
      this.eniGc.start();
    }
    await new PodWatch({
      kube,
      nodeName: c.nodeName,
      ds: this.ds,
      graceMs: c.podLeakGraceMs,
      release: (a) => this.releaseLeaked(a),
      log: this.log,
      clock,
    }).start(this.#abort.signal);
  }

  /** `ec2` behind the client-side token buckets with jittered retries; throttled calls are counted. */
  #rateLimited(ec2: Ec2Port): Ec2Port {
    if (this.o.rateLimit === false || ec2 instanceof RateLimitedEc2) return ec2;
    const throttled = this.metrics.registry.counter(
      "awscni_ec2api_throttled_count",
      "The number of EC2 API calls answered RequestLimitExceeded",
    );
    return new RateLimitedEc2(ec2, {
      clock: this.clock,
      ...this.o.rateLimit,
      onThrottle: (action) => {
        throttled.inc({ fn: action });
        this.o.rateLimit && this.o.rateLimit.onThrottle?.(action);
      },
    });
  }

  /** Releases an assignment found leaked (pod gone). */
  async releaseLeaked(a: Assignment): Promise<void> {
    if (!this.ds.release(a, this.clock.now())) return;
    this.metrics.forceRemovedIps.inc({ reason: "pod_gone" });
    await this.persist();
    void this.driver.trigger();
  }

  async #serve(): Promise<void> {
    const c = this.o.config;
    const ready = () => this.ready;
    const now = () => this.clock.now();
    const api = apiHandler({
      ds: this.ds,
      driver: this.driver,
      config: c,
      vpcCidrs: this.vpcCidrs,
      persist: () => this.persist(),
      ready,
      addWaitMs: this.o.addWaitMs,
      metrics: this.metrics,
      log: this.log,
      clock: this.clock,
      extraGets: { "/v1/enis": () => enisView(this.ds, now()), "/v1/pods": () => podsView(this.ds) },
    });
    this.#servers.push(await serveUnix(c.ipamdSocket, api));
    const quiet = { onListen: () => {}, signal: this.#abort.signal };
    if (!c.disableIntrospection) {
      const bind = parseBind(c.introspectionBindAddress);
      const handler = introspectionHandler({
        ds: this.ds,
        config: c,
        eniConfigs: () => this.#eniConfigs,
        ready,
        now,
      });
      if ("path" in bind) {
        await Deno.remove(bind.path).catch(() => {}); // a socket a previous run left behind
        this.#servers.push(Deno.serve({ ...bind, ...quiet }, handler));
      } else {
        const s = Deno.serve({ ...bind, ...quiet }, handler);
        this.introspectionAddr = s.addr;
        this.#servers.push(s);
      }
    }
    if (!c.disableMetrics) {
      const s = Deno.serve(
        { hostname: this.o.metricsHostname ?? "0.0.0.0", port: c.metricsPort, ...quiet },
        metricsHandler(this.metrics),
      );
      this.metricsAddr = s.addr as Deno.NetAddr;
      this.#servers.push(s);
    }
    this.log.info("serving", {
      socket: c.ipamdSocket,
      introspection: this.introspectionAddr,
      metrics: this.metricsAddr,
    });
  }

  /** Stops serving and the loops; waits for in-flight work and the last checkpoint write. */
  async stop(): Promise<void> {
    this.ready = false;
    this.#abort.abort();
    await Promise.allSettled(this.#servers.map((s) => s.shutdown()));
    await this.driver?.stop();
    await this.eniGc?.stop();
    await this.#ckpt;
    this.log.close();
  }
}
