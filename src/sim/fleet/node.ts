/**
 * One simulated node: ipamd's real decision code — `RateLimitedEc2` (client-side buckets and retries),
 * `EniManager`, `Datastore`, `PoolDriver` over `planPool`, the socket API's handler (`apiHandler`), the
 * start-up sweep and the leaked-ENI GC — composed as `Daemon#startup` composes them, on the virtual clock,
 * without the parts that touch the host (Kubernetes wait, netlink, iptables, checkpoint file, sockets).
 *
 * The `upstream-like` policy drives the same code at upstream's documented cadence (FACTS.md): a pool pass
 * every 5 s with one pool action per pass, a 10 s wait after each attach, and ADDs that never wait for
 * growth. It is a model of upstream's documented constants, not upstream.
 */
import type { Ec2Port } from "../../aws/ec2_port.ts";
import type { ImdsInterface, ImdsPort } from "../../aws/imds_port.ts";
import { RateLimitedEc2 } from "../../aws/rate_limit.ts";
import { type Clock, every } from "../../common/clock.ts";
import type { IpamdConfig } from "../../ipamd/config.ts";
import { loadEnis, nodeEnis } from "../../ipamd/daemon_restore.ts";
import { Datastore } from "../../ipamd/datastore.ts";
import { EniGc, type EniGcOptions, GC_FIRST_JITTER_MS, sweepOrphanedEnis } from "../../ipamd/eni_gc.ts";
import { EniManager } from "../../ipamd/eni_manager.ts";
import { planPool, type PoolInput, type PoolPlan } from "../../ipamd/pool.ts";
import { POOL_BATCH_WINDOW_MS, PoolDriver } from "../../ipamd/pool_driver.ts";
import { addNetwork } from "../../ipamd/api_routes.ts";
import type { ApiContext } from "../../ipamd/server.ts";
import type { podRequest } from "./pods.ts";
import { readNodeIdentity, subnetDiscoveryPlacement } from "../../ipamd/daemon_startup.ts";
import { Logger } from "../../ipamd/log.ts";
import { Rng } from "../realism_rng.ts";

/** ipamd's warnings would drown the report; errors go to stderr. */
const QUIET_LOG = new Logger("error", "stderr");

/** How the pool is driven. */
export type Policy = "ours" | "upstream-like";

/** Upstream's documented constants (FACTS.md "Upstream's timing"). */
export const UPSTREAM_LIKE = { passEveryMs: 5_000, actionsPerPass: 1, afterAttachMs: 10_000 } as const;

/** What a node needs. */
export interface FleetNodeOptions {
  clock: Clock;
  /** The account's EC2 endpoint (shared by every node). */
  ec2: Ec2Port;
  imds: ImdsPort;
  config: IpamdConfig;
  policy: Policy;
  seed: number;
  /** LEAKED_ENI_CLEANUP_DELAY/INTERVAL; without a delay, a seeded draw in 0–300 s as ipamd's. */
  eniGc?: Pick<EniGcOptions, "firstDelayMs" | "everyMs">;
  /** ENABLE_SUBNET_DISCOVERY (default true, as in ipamd). */
  subnetDiscovery?: boolean;
  /** After every EC2 attempt this node makes (the rate limiter's hook). */
  onCall?: (action: string, ms: number, errorCode?: string) => void;
}

/** A running simulated ipamd. */
export class FleetNode {
  readonly ds: Datastore;
  driver!: PoolDriver;
  #api?: ApiContext;
  readyAt?: number;
  readonly #stops: (() => void)[] = [];
  #gc?: EniGc;

  constructor(readonly o: FleetNodeOptions) {
    this.ds = new Datastore({ cooldownMs: o.config.ipCooldownMs });
  }

  /** Start-up, in `Daemon#startup`'s order of EC2 and IMDS calls; then serving and the timers. */
  async start(): Promise<void> {
    const { clock, config: c } = this.o;
    const rng = new Rng(this.o.seed);
    const startedAt = clock.now();
    const ec2 = this.#ec2(rng);
    const { instanceId, imdsIfs, limits } = await readNodeIdentity(this.o.imds, ec2, c);
    const sweep = c.disableLeakedEniCleanup
      ? undefined
      : sweepOrphanedEnis({ ec2, instanceId, clusterName: c.clusterName, startedAt, clock });
    const { eni, primaryEniId } = await this.#loadEnis(ec2, instanceId, imdsIfs);
    await sweep;
    this.#serve(eni, primaryEniId, limits);
    this.readyAt = clock.now();
    void this.driver.trigger();
    this.driver.start();
    if (!c.disableLeakedEniCleanup) {
      const firstDelayMs = this.o.eniGc?.firstDelayMs ?? Math.floor(rng.next() * GC_FIRST_JITTER_MS);
      const gc = { firstDelayMs, everyMs: this.o.eniGc?.everyMs };
      this.#gc = new EniGc({ ec2, instanceId, clusterName: c.clusterName, clock, ...gc });
      this.#gc.start();
    }
  }

  get #upstream(): boolean {
    return this.o.policy === "upstream-like";
  }

  /** The node's EC2: the shared endpoint behind its own client-side buckets and retries. */
  #ec2(rng: Rng): Ec2Port {
    const { clock } = this.o;
    const limited = new RateLimitedEc2(this.o.ec2, {
      clock,
      random: () => rng.next(),
      onCall: (action, ms, err) => this.o.onCall?.(action, ms, err?.code),
    });
    return this.#upstream ? withWaitAfterAttach(limited, clock, UPSTREAM_LIKE.afterAttachMs) : limited;
  }

  /** The node's ENIs into the datastore, and the ENI manager that places new ones. */
  async #loadEnis(ec2: Ec2Port, instanceId: string, imdsIfs: ImdsInterface[]) {
    const { clock, imds, config: c } = this.o;
    const base = { ec2, imds, instanceId, clusterName: c.clusterName, clock };
    const bootstrap = new EniManager({ ...base, subnetId: "", securityGroupIds: [] });
    const describeSubnet = (id: string) => ec2.describeSubnets({ subnetIds: [id] }).then((s) => s[0]);
    const enis = await nodeEnis({ eni: bootstrap, imdsIfs, describeSubnet });
    const primary = enis.find((e) => e.deviceNumber === 0);
    if (!primary) throw new Error(`EC2 lists no primary ENI on ${instanceId}`);
    const { subnetId, securityGroupIds } = primary.eni;
    const placement = this.o.subnetDiscovery === false
      ? undefined
      : subnetDiscoveryPlacement(ec2, primary.eni, QUIET_LOG);
    await loadEnis(this.ds, enis, { mtu: c.eniMtu, clock });
    const eni = new EniManager({ ...base, subnetId, securityGroupIds, placement });
    return { eni, primaryEniId: primary.eni.networkInterfaceId };
  }

  /** The pool driver (upstream-like: gated to one pass every 5 s) and the socket API's context. */
  #serve(eni: EniManager, primaryEniId: string, limits: { maxEnis: number; ipv4PerEni: number }): void {
    const { clock, imds, config } = this.o;
    const gate = { open: false };
    const upstream = this.#upstream;
    this.driver = new PoolDriver({
      ds: this.ds,
      eni,
      imds,
      config,
      limits: { maxEnis: limits.maxEnis, ipv4PerEni: limits.ipv4PerEni },
      primaryEniId,
      clock,
      planner: upstream ? (input) => upstreamPass(input, gate) : undefined,
      batchWindowMs: POOL_BATCH_WINDOW_MS, // as the daemon (the honesty test caught its absence)
    });
    this.#api = {
      ds: this.ds,
      driver: this.driver,
      config,
      vpcCidrs: [],
      persist: () => Promise.resolve(),
      ready: () => true,
      addWaitMs: upstream ? 0 : undefined,
      clock,
    };
    if (upstream) {
      this.#stops.push(every(clock, UPSTREAM_LIKE.passEveryMs, () => {
        gate.open = true;
        void this.driver.trigger();
      }));
    }
  }

  /** The socket API's add-network route (the HTTP framing left out); a refusal is its `ApiError`. */
  async add(body: ReturnType<typeof podRequest>): Promise<void> {
    await addNetwork(this.#api!, body);
  }

  /** Stops the timers and waits for work in flight. */
  async stop(): Promise<void> {
    for (const s of this.#stops) s();
    await this.#gc?.stop();
    await this.driver?.stop();
  }
}

/** One upstream-like pass: nothing between passes; at a pass, the first action of our plan (one ENI). */
function upstreamPass(input: PoolInput, gate: { open: boolean }): PoolPlan {
  if (!gate.open) {
    return { actions: [], reason: "upstream-like: between passes", short: 0, over: 0, targetEnis: 0 };
  }
  gate.open = false;
  const plan = planPool(input);
  const first = plan.actions.slice(0, UPSTREAM_LIKE.actionsPerPass)
    .map((a) => a.kind === "create-enis" ? { ...a, count: 1 } : a);
  return { ...plan, actions: first, reason: `upstream-like pass: ${plan.reason}` };
}

/** The port with upstream's fixed sleep after every AttachNetworkInterface (its `eniAttachTime`). */
function withWaitAfterAttach(inner: Ec2Port, clock: Clock, ms: number): Ec2Port {
  return new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "attachNetworkInterface") return typeof v === "function" ? v.bind(target) : v;
      return async (input: Parameters<Ec2Port["attachNetworkInterface"]>[0]) => {
        const r = await target.attachNetworkInterface(input);
        await clock.sleep(ms);
        return r;
      };
    },
  });
}
