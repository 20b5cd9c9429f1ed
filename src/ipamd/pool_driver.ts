/**
 * The pool driver: runs the pure `planPool` on every assign/release and on a safety-net timer, carries out
 * its actions (ENIs created in parallel), and periodically reconciles the datastore with EC2 (reconcile.ts). Plans, shrink
 * actions and reconciles go through one serial queue, so two never run at once. Grow actions do not hold the
 * queue: a plan starts them and the next plan may run while they are in flight, counting them as pending
 * (`pendingEnis`, `pendingIps`, per-ENI in-flight assigns) so nothing is planned twice. A burst is thus
 * planned for its whole demand (pods waiting in the socket API, `waitingPods`) while earlier ENIs attach.
 */
import type { NetworkInterface } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { type Clock, every, systemClock } from "../common/clock.ts";
import type { IpamdConfig } from "./config.ts";
import { addAttachedEni, eniRecordOf } from "./attached_eni.ts";
import type { Datastore } from "./datastore.ts";
import { classifyError, type EniError } from "./eni_errors.ts";
import type { EniManager } from "./eni_manager.ts";
import type { HostNetwork } from "./host_network.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";
import { IPS_PER_PREFIX } from "./max_pods.ts";
import { type ErrorBody, reasonForNoIp } from "./no_ip_reason.ts";
import { isGrowAction, planPool, type PoolAction, poolEnis, type PoolInput, type PoolPlan } from "./pool.ts";
import { RecentChanges } from "./recent_changes.ts";
import { carryOutShrink } from "./pool_shrink_actions.ts";
import { reconcileWithEc2 } from "./reconcile.ts";
import { setPoolGauges } from "./pool_gauges.ts";
import { BackgroundFailures } from "./background_failures.ts";

/** Every this many reconciles, EC2 is asked even when IMDS agrees with the datastore (a safety net). */
export const EC2_RECONCILE_EVERY = 10;

/**
 * Plans run at most once per this window: a trigger after a quiet spell plans at once, triggers arriving within
 * the window after a plan wait for its end and share one plan. The ADDs of a burst thus make a few
 * AssignPrivateIpAddresses calls instead of one per ADD (60 pods onto a pool of 30: 22 → 3), and a lone pod's
 * growth is not delayed (docs/PERFORMANCE.md, "The burst").
 */
export const POOL_BATCH_WINDOW_MS = 500;

/** Growth pause after a failed create/assign (other than InsufficientCidrBlocks). */
export const GROWTH_BACKOFF_MS = 2_000;
/**
 * After a failure that EC2 may have half done (a lost answer), reconcile this soon instead of at the next
 * minute: by then EC2's Describe* usually show what it did, and reconcile adopts or undoes it.
 */
export const RESYNC_AFTER_MS = 5_000;

export interface PoolDriverOptions {
  ds: Datastore;
  eni: EniManager;
  imds: ImdsPort;
  host?: HostNetwork;
  config: IpamdConfig;
  /**
   * maxEnis: how many ENIs the pool may hold (unmanaged ENIs already taken off);
   * deviceSlots: the instance's device indexes, which unmanaged ENIs occupy too (default maxEnis).
   */
  limits: { maxEnis: number; ipv4PerEni: number; deviceSlots?: number };
  primaryEniId: string;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Where background failures (plans, reconciles, IMDS reads) are logged, counted and listed. */
  failures?: BackgroundFailures;
  /** The pure planner; default `planPool` (the fleet simulation's upstream-like policy wraps it). */
  planner?: (input: PoolInput) => PoolPlan;
  /**
   * Why a planned action may not run now (a cordoned node, provisioning disabled), or undefined when it may.
   * Held actions are left out of the plan; the reason explains an ADD that gets no IP.
   */
  hold?: (a: PoolAction) => string | undefined;
  /** See {@linkcode POOL_BATCH_WINDOW_MS} (default 0: every trigger plans at once). */
  batchWindowMs?: number;
}

/** Turns datastore state into EC2 actions, one plan at a time. */
export class PoolDriver {
  readonly #o: PoolDriverOptions;
  #queue: Promise<unknown> = Promise.resolve();
  #planQueued?: Promise<{ plan: PoolPlan; grown: Promise<unknown> } | undefined>;
  #timers: (() => void)[] = [];
  #lastPlanAt = -Infinity;
  pendingEnis = 0;
  /** Addresses in flight: those pending ENIs bring plus in-flight assigns to attached ENIs. */
  pendingIps = 0;
  /** In-flight addresses per attached ENI. */
  readonly #pendingOn = new Map<string, number>();
  /** Grow actions in flight. */
  #growing = 0;
  /** Bumped whenever a grow action (or one ENI of a create) finishes. */
  growthEvents = 0;
  #growthWaiters: (() => void)[] = [];
  /** Pod ADDs waiting for an IP (maintained by the socket API); the planner counts them as demand. */
  waitingPods = 0;
  #stopped = false;
  #growStartedAt = 0;
  lastShrinkAt = 0;
  growthPausedUntil = 0;
  lastError?: { err: EniError; at: number };
  lastPlan?: PoolPlan;
  /** Why the last plan's growth was held back (see `hold`), if it was. */
  held?: string;
  /** The failing background tasks (listed by `ipamd status`). */
  readonly failures: BackgroundFailures;
  /** Changes made to EC2 that its Describe* may not show yet (reconcile must not undo them). */
  readonly recent = new RecentChanges();
  #resync?: () => void;

  constructor(opts: PoolDriverOptions) {
    this.#o = opts;
    this.failures = opts.failures ??
      new BackgroundFailures({ log: opts.log, metrics: opts.metrics, clock: opts.clock });
    // The pool's gauges are read from the datastore at scrape time: an ADD or DEL shows at once, not after
    // the next plan (plans are batched in POOL_BATCH_WINDOW_MS).
    opts.metrics?.registry.collect("pool", () => this.#updateGauges());
  }

  get #now(): number {
    return (this.#o.clock ?? systemClock).now();
  }

  /** The instance's ENI limit, with MAX_ENI applied. */
  get maxEnis(): number {
    return Math.min(this.#o.limits.maxEnis, this.#o.config.maxEni ?? Infinity);
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  /**
   * Plans (and carries out) once more; coalesces with a plan already waiting in the queue. Resolves once the
   * plan's actions, grow actions included, are done.
   */
  trigger(): Promise<PoolPlan | undefined> {
    return this.#triggerRun().then((r) => r && r.grown.then(() => r.plan));
  }

  /** Like {@link trigger}, but resolves once the plan is made and its grow actions started. */
  plan(): Promise<PoolPlan | undefined> {
    return this.#triggerRun().then((r) => r?.plan);
  }

  #triggerRun(): Promise<{ plan: PoolPlan; grown: Promise<unknown> } | undefined> {
    if (this.#planQueued) return this.#planQueued;
    const p = this.#enqueue(async () => {
      // Within the window after the last plan: wait for its end; triggers arriving meanwhile join this plan
      // (#planQueued is still set).
      const wait = this.#lastPlanAt + (this.#o.batchWindowMs ?? 0) - this.#now;
      if (wait > 0) await (this.#o.clock ?? systemClock).sleep(wait);
      this.#lastPlanAt = this.#now;
      this.#planQueued = undefined;
      try {
        const r = await this.#runPlan();
        this.failures.succeeded("runPlan");
        return r;
      } catch (e) {
        this.failures.failed("runPlan", e);
        return undefined;
      }
    });
    this.#planQueued = p;
    return p;
  }

  /** Whether grow actions are in flight. */
  get growing(): boolean {
    return this.#growing > 0;
  }

  /**
   * Resolves when a grow action (or one ENI of a create) finishes after `since` (a {@link growthEvents}
   * value; at once if one already has), or at once when nothing is in flight.
   */
  growthSettled(since = this.growthEvents): Promise<void> {
    if (this.growthEvents !== since || this.#growing === 0) return Promise.resolve();
    return new Promise((r) => this.#growthWaiters.push(r));
  }

  #growthEvent(): void {
    this.growthEvents++;
    const w = this.#growthWaiters;
    this.#growthWaiters = [];
    for (const r of w) r();
  }

  /** Starts the safety-net plan timer and the EC2 reconcile timer. */
  start(opts: { planEveryMs?: number; reconcileEveryMs?: number } = {}): void {
    const clock = this.#o.clock ?? systemClock;
    this.#timers.push(every(clock, opts.planEveryMs ?? 30_000, () => void this.trigger()));
    this.#timers.push(
      every(
        clock,
        opts.reconcileEveryMs ?? 60_000,
        () => void this.failures.run("eniReconcile", () => this.reconcile()),
      ),
    );
  }

  /** Stops the timers and waits for the queue to drain. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const cancel of this.#timers) cancel();
    this.#timers = [];
    this.#resync?.();
    await this.#queue;
    while (this.#inflight.size) await Promise.all(this.#inflight);
  }

  readonly #inflight = new Set<Promise<unknown>>();

  /** The pool input from the datastore. */
  input(): Parameters<typeof planPool>[0] {
    const { ds, config } = this.#o;
    const now = this.#now;
    return {
      now,
      enis: poolEnis(ds, now).map((e) => {
        const p = this.#pendingOn.get(e.eniId);
        return p ? { ...e, pendingIps: p } : e;
      }),
      limits: { maxEnis: this.maxEnis, ipv4PerEni: this.#o.limits.ipv4PerEni },
      config,
      pendingEnis: this.pendingEnis,
      pendingIps: this.pendingIps,
      waitingPods: this.waitingPods,
      lastShrinkAt: this.lastShrinkAt,
      growthPausedUntil: this.growthPausedUntil,
      customNetworking: config.customNetworking,
    };
  }

  /**
   * The plan for the pool as it is at this moment (pure: nothing is carried out), for `ipamd status`: a plan
   * remembered from an earlier moment would describe a pool that no longer exists.
   */
  currentPlan(): PoolPlan & { computedAt: number } {
    const input = this.input();
    return { ...this.#applyHold((this.#o.planner ?? planPool)(input)).plan, computedAt: input.now };
  }

  async #runPlan(): Promise<{ plan: PoolPlan; grown: Promise<unknown> }> {
    const plan = this.#withoutHeld((this.#o.planner ?? planPool)(this.input()));
    this.lastPlan = plan;
    if (plan.actions.length) this.#o.log?.info("pool plan", { reason: plan.reason, actions: plan.actions });
    // Grow actions touch different ENIs (or make new ones): start them all at once, so IPs assigned to an
    // existing ENI are usable while new ENIs attach; they count as pending from this moment (synchronously),
    // and do not hold the queue. Shrink actions (never in the same plan as growth) run one by one.
    const grown = Promise.all(plan.actions.filter(isGrowAction).map((a) => this.#grow(a)))
      .then(() => this.#updateGauges());
    if (plan.actions.some(isGrowAction)) {
      this.#inflight.add(grown);
      void grown.finally(() => this.#inflight.delete(grown));
    }
    for (const a of plan.actions) if (!isGrowAction(a)) await this.#act(a);
    this.#updateGauges();
    return { plan, grown };
  }

  /** The plan without the actions `hold` holds back, and why growth is held (pure). */
  #applyHold(plan: PoolPlan): { plan: PoolPlan; growthHeld?: string } {
    const hold = this.#o.hold;
    if (!hold) return { plan };
    const reasons = plan.actions.map((a) => hold(a));
    const why = reasons.find((r) => r !== undefined);
    if (why === undefined) return { plan };
    const growthHeld = plan.actions.some((a, i) => reasons[i] !== undefined && isGrowAction(a));
    return {
      plan: {
        ...plan,
        actions: plan.actions.filter((_, i) => reasons[i] === undefined),
        reason: `${plan.reason}; held: ${why}`,
      },
      growthHeld: growthHeld ? why : undefined,
    };
  }

  /** The plan without the actions `hold` holds back; `held` says why (logged when it changes). */
  #withoutHeld(plan: PoolPlan): PoolPlan {
    const r = this.#applyHold(plan);
    if (plan.actions.length) {
      if (r.growthHeld !== this.held && r.growthHeld) {
        this.#o.log?.info("pool growth held", { why: r.growthHeld });
      }
      this.held = r.growthHeld;
    }
    return r.plan;
  }

  /** Runs a grow action with its addresses counted as pending until it ends. */
  async #grow(action: PoolAction): Promise<void> {
    let ips = 0;
    if (action.kind === "assign-ips" || action.kind === "assign-prefixes") {
      ips = action.kind === "assign-ips" ? action.count : action.count * IPS_PER_PREFIX;
      this.#pendingOn.set(action.eniId, (this.#pendingOn.get(action.eniId) ?? 0) + ips);
      this.pendingIps += ips;
    }
    this.#growing++;
    try {
      await this.#act(action);
    } finally {
      this.#growing--;
      if (ips) {
        this.pendingIps -= ips;
        const left = (this.#pendingOn.get((action as { eniId: string }).eniId) ?? 0) - ips;
        if (left > 0) this.#pendingOn.set((action as { eniId: string }).eniId, left);
        else this.#pendingOn.delete((action as { eniId: string }).eniId);
      }
      this.#growthEvent();
    }
  }

  async #act(step: PoolAction): Promise<void> {
    const { ds, eni, metrics } = this.#o;
    metrics?.actionInProgress.inc({ fn: step.kind });
    try {
      switch (step.kind) {
        case "create-enis":
          return await this.#createEnis(step.count, step.ipsPerEni, step.prefixesPerEni);
        case "assign-ips": {
          const ips = await eni.assignIps(step.eniId, step.count);
          ds.addIps(step.eniId, ips);
          this.recent.note(ips, true, this.#now);
          this.lastError = undefined;
          return;
        }
        case "assign-prefixes":
          ds.addPrefixes(step.eniId, await eni.assignPrefixes(step.eniId, step.count));
          this.lastError = undefined;
          return;
        case "unassign-ips":
        case "unassign-prefixes":
        case "delete-eni": {
          const { host, ds, eni } = this.#o;
          const shrunk = await carryOutShrink(
            { ds, eni, host, recent: this.recent, now: () => this.#now },
            step,
          );
          if (shrunk) this.lastShrinkAt = this.#now;
          return;
        }
      }
    } catch (e) {
      const err = classifyError(e);
      if (isGrowAction(step)) this.#noteError(err);
      else this.#o.metrics?.ipamdErr.inc({ fn: step.kind });
      if (err.unsure || eni.leftovers.size) this.#resyncSoon();
      this.#o.log?.warn("pool action failed", { action: step.kind, reason: err.reason, err: err.message });
    } finally {
      metrics?.actionInProgress.dec({ fn: step.kind });
    }
  }

  #noteError(err: EniError): void {
    this.lastError = { err, at: this.#now };
    // Back off growth after a failure so ADDs do not hammer EC2; InsufficientCidrBlocks pauses 120 s.
    this.growthPausedUntil = Math.max(this.growthPausedUntil, this.#now + (err.pauseMs || GROWTH_BACKOFF_MS));
    this.#o.metrics?.ipamdErr.inc({ fn: err.reason });
  }

  async #createEnis(count: number, ips: number, prefixes?: number): Promise<void> {
    const per = ips + (prefixes ?? 0) * IPS_PER_PREFIX;
    this.pendingEnis += count;
    this.pendingIps += count * per;
    this.#growStartedAt = this.#now;
    const results = await Promise.allSettled(
      Array.from({ length: count }, async () => {
        let ok = false;
        try {
          const slots = this.#o.limits.deviceSlots ?? this.maxEnis;
          const made = await this.#o.eni.createEni({ ips, prefixes, maxEnis: slots });
          this.#adopt(made.eni, made.deviceIndex, made.subnetCidr);
          this.recent.note([made.eni.networkInterfaceId], true, this.#now);
          ok = true;
        } finally {
          this.pendingEnis--;
          this.pendingIps -= per;
          this.#growthEvent();
        }
        // A pending ENI's room may have been counted on (IP targets): plan again now that it is here.
        if (ok && !this.#stopped) void this.trigger();
      }),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length < results.length) this.lastError = undefined;
    for (const f of failed) this.#noteError(classifyError(f.reason));
    if (failed.some((f) => classifyError(f.reason).unsure) || this.#o.eni.unanswered) this.#resyncSoon();
    if (failed.length) {
      this.#o.log?.warn("ENI creation failed", {
        failed: failed.length,
        of: count,
        err: String(failed[0].reason),
      });
    }
  }

  /** Wires an attached ENI on the host and adds it with its addresses to the datastore. */
  #adopt(eni: NetworkInterface, deviceNumber: number, subnetCidr: string): void {
    const { ds, host, config } = this.#o;
    const rec = eniRecordOf(eni, deviceNumber, subnetCidr, this.#now);
    if (deviceNumber !== 0) host?.setupEni(rec, config.eniMtu);
    addAttachedEni(ds, rec, eni);
  }

  #reconciles = 0;

  /** Reconciles in `RESYNC_AFTER_MS` (once, however often asked meanwhile). */
  #resyncSoon(): void {
    if (this.#resync || this.#stopped) return;
    this.#resync = (this.#o.clock ?? systemClock).timer(RESYNC_AFTER_MS, () => {
      this.#resync = undefined;
      void this.reconcile().catch((e) => this.#o.log?.warn("resync with EC2 failed", { err: e }));
    });
  }

  /**
   * Retries what failed EC2 calls left (creates never answered, ENIs not deleted), then compares the
   * datastore with IMDS, and with EC2 when they differ or every {@link EC2_RECONCILE_EVERY}th time (see
   * reconcile.ts); never while grow actions are in flight.
   */
  async reconcile(): Promise<void> {
    // Outside the queue: retrying a leftover may wait on EC2, and plans need not wait for that.
    await this.#o.eni.settle();
    return this.#enqueue(async () => {
      // Not while ENIs attach or IPs are assigned: EC2 would show them before the datastore does.
      while (this.#inflight.size) await Promise.all(this.#inflight);
      const { ds, eni, imds, host, metrics, log } = this.#o;
      await reconcileWithEc2({
        ds,
        eni,
        imds,
        host,
        metrics,
        log,
        failures: this.failures,
        recent: this.recent,
        now: this.#now,
        force: this.#reconciles++ % EC2_RECONCILE_EVERY === EC2_RECONCILE_EVERY - 1,
        adopt: (n, deviceNumber, subnetCidr) => this.#adopt(n, deviceNumber, subnetCidr),
      });
      this.#updateGauges();
    });
  }

  /** Why no IP is free right now, as the socket API's error body (see no_ip_reason.ts). */
  reasonForNoIp(coolingRetryMs?: number): ErrorBody {
    return reasonForNoIp({
      now: this.#now,
      ds: this.#o.ds,
      lastError: this.lastError,
      growthPausedUntil: this.growthPausedUntil,
      pendingEnis: this.pendingEnis,
      pendingIps: this.pendingIps,
      growing: this.#growing > 0,
      growStartedAt: this.#growStartedAt,
      maxEnis: this.maxEnis,
      ipv4PerEni: this.#o.limits.ipv4PerEni,
      held: this.held,
    }, coolingRetryMs);
  }

  #updateGauges(): void {
    if (this.#o.metrics) setPoolGauges(this.#o.metrics, this.#o.ds, this.#now);
  }
}
