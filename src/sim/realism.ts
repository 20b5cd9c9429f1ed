/**
 * The lab's realism knobs: per-action latency presets, EC2's server-side token buckets, injected faults
 * (`throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.1`) and per-action counters. Deterministic per seed.
 */
import {
  type ActionClass,
  actionClass,
  type BucketShape,
  EC2_BUCKETS,
  TokenBucket,
} from "../aws/rate_limit_bucket.ts";
import { type Faults, formatFaults, NO_FAULTS, parseFaults } from "./realism_faults.ts";
import { Rng } from "./realism_rng.ts";

export { type Faults, formatFaults, NO_FAULTS, parseFaults } from "./realism_faults.ts";

/** Latency presets. */
export type LatencyPreset = "none" | "realistic";

/** Latency range [min, max] ms per action under the `realistic` preset (EC2's observed figures). */
export const REALISTIC_LATENCY_MS: Readonly<Record<string, readonly [number, number]>> = {
  CreateNetworkInterface: [500, 1800],
  AttachNetworkInterface: [650, 850],
  DetachNetworkInterface: [150, 300],
  DeleteNetworkInterface: [100, 300],
  AssignPrivateIpAddresses: [100, 300],
  UnassignPrivateIpAddresses: [250, 500],
  AssignIpv6Addresses: [100, 300],
  UnassignIpv6Addresses: [250, 500],
  ModifyNetworkInterfaceAttribute: [50, 150],
  CreateTags: [50, 150],
  Describe: [50, 150],
  other: [20, 80],
};

/** How long a detached ENI stays `detaching` under each preset (feed it to the model). */
export const DETACH_LATENCY_MS: Readonly<Record<LatencyPreset, number>> = { none: 0, realistic: 2000 };

/** What the server should do with one call. */
export type Verdict = "ok" | "throttled" | "injected-throttle" | "injected-5xx" | "attach-fail";

/** Counters for one action. */
export interface ActionStats {
  calls: number;
  /** Calls that did not answer success (throttled, injected or model errors, lost answers). */
  errors: number;
  throttles: number;
  /** Calls that succeeded but lost their answer (`lost-response`), counted in `errors` too. */
  lost: number;
}

/** How a committed call's answer is lost: a 500, or the connection drops in the middle of the answer. */
export type LostAnswer = "5xx" | "drop";

/** Whether an action changes EC2's state (every action but Describe*). */
export function isMutating(action: string): boolean {
  return !action.startsWith("Describe");
}

/** Options for `new Realism(...)`. */
export interface RealismOptions {
  latency?: LatencyPreset;
  /** Fault spec string or a partial `Faults`. */
  faults?: string | Partial<Faults>;
  /** RNG seed (latency jitter and fault dice). Default 1. */
  seed?: number;
  /** Server-side throttling: true = EC2's buckets (default), false = off, or per-class shapes. */
  buckets?: boolean | Partial<Record<ActionClass, BucketShape>>;
  /** Clock (ms) for the buckets. Default `Date.now`. */
  now?: () => number;
  /** How the handler waits. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** Realism state for one lab: buckets, dice, counters. */
export class Realism {
  readonly latency: LatencyPreset;
  faults: Faults;
  readonly #rng: Rng;
  readonly #buckets = new Map<ActionClass, TokenBucket>();
  readonly #stats = new Map<string, ActionStats>();
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(o: RealismOptions = {}) {
    this.latency = o.latency ?? "none";
    this.faults = typeof o.faults === "string" ? parseFaults(o.faults) : { ...NO_FAULTS, ...o.faults };
    this.#rng = new Rng(o.seed ?? 1);
    this.#sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const now = o.now ?? Date.now;
    if (o.buckets !== false) {
      const custom = typeof o.buckets === "object" ? o.buckets : {};
      for (const cls of Object.keys(EC2_BUCKETS) as ActionClass[]) {
        this.#buckets.set(cls, new TokenBucket(custom[cls] ?? EC2_BUCKETS[cls], now));
      }
    }
  }

  /** Replaces the faults at run time (spec syntax). */
  setFaults(spec: string | Partial<Faults>): void {
    this.faults = typeof spec === "string" ? parseFaults(spec) : { ...NO_FAULTS, ...spec };
  }

  /** IMDS lag in ms. */
  get imdsLagMs(): number {
    return this.faults.imdsLagMs;
  }

  /** A latency draw for the action (0 under `none`). */
  latencyMs(action: string): number {
    if (this.latency === "none") return 0;
    const r = REALISTIC_LATENCY_MS[action] ??
      (action.startsWith("Describe") ? REALISTIC_LATENCY_MS.Describe : REALISTIC_LATENCY_MS.other);
    return this.#rng.between(r[0], r[1]);
  }

  /** Waits (used by the handlers). */
  sleep(ms: number): Promise<void> {
    return ms > 0 ? this.#sleep(ms) : Promise.resolve();
  }

  /** Decides a call's fate: takes a bucket token, then rolls the fault dice. Counts the call. */
  admit(action: string): Verdict {
    this.#stat(action).calls++;
    const bucket = this.#buckets.get(actionClass(action));
    if (bucket && !bucket.tryTake()) return this.#throttled(action, "throttled");
    if (this.faults.throttle && this.#rng.next() < this.faults.throttle) {
      return this.#throttled(action, "injected-throttle");
    }
    if (this.faults.serverError && this.#rng.next() < this.faults.serverError) {
      this.#stat(action).errors++;
      return "injected-5xx";
    }
    if (
      action === "AttachNetworkInterface" && this.faults.attachFail &&
      this.#rng.next() < this.faults.attachFail
    ) {
      this.#stat(action).errors++;
      return "attach-fail";
    }
    return "ok";
  }

  /**
   * After a mutating call succeeded: whether its answer is lost (`lost-response`), and how. Counts it. Describe*
   * calls never lose their answer here.
   */
  loseAnswer(action: string): LostAnswer | undefined {
    if (!this.faults.lostResponse || !isMutating(action)) return undefined;
    if (this.#rng.next() >= this.faults.lostResponse) return undefined;
    const s = this.#stat(action);
    s.lost++;
    s.errors++;
    return this.#rng.next() < 0.5 ? "5xx" : "drop";
  }

  /** The model's share of the faults: its consistency and attach lags. */
  modelLags(): { consistencyLagMs: number; attachLagMs: number } {
    return { consistencyLagMs: this.faults.consistencyLagMs, attachLagMs: this.faults.attachLagMs };
  }

  /** Counts an error answered by the model (a 4xx). */
  recordError(action: string): void {
    this.#stat(action).errors++;
  }

  /** Counters per action. */
  stats(): Record<string, ActionStats> {
    return Object.fromEntries([...this.#stats].map(([k, v]) => [k, { ...v }]));
  }

  /** JSON view: preset, faults, counters. */
  toJSON(): { latency: LatencyPreset; faults: string; actions: Record<string, ActionStats> } {
    return { latency: this.latency, faults: formatFaults(this.faults), actions: this.stats() };
  }

  #throttled(action: string, v: Verdict): Verdict {
    const s = this.#stat(action);
    s.throttles++;
    s.errors++;
    return v;
  }

  #stat(action: string): ActionStats {
    let s = this.#stats.get(action);
    if (!s) this.#stats.set(action, s = { calls: 0, errors: 0, throttles: 0, lost: 0 });
    return s;
  }
}
