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
import { Rng } from "./realism_rng.ts";

/** Latency presets. */
export type LatencyPreset = "none" | "realistic";

/** Injected faults. Probabilities are in [0, 1]. */
export interface Faults {
  /** Chance a call answers RequestLimitExceeded regardless of the buckets. */
  throttle: number;
  /** Chance a call answers 500 InternalError (nothing changes). */
  serverError: number;
  /** Chance an AttachNetworkInterface fails with 500 InternalError (nothing changes). */
  attachFail: number;
  /** How long after EC2 an attached ENI / assigned IP shows up in IMDS. */
  imdsLagMs: number;
}

/** No faults. */
export const NO_FAULTS: Readonly<Faults> = { throttle: 0, serverError: 0, attachFail: 0, imdsLagMs: 0 };

function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a duration: "${text}" (use e.g. 500ms, 2s)`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
}

function parseProbability(key: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new RangeError(`fault ${key} needs a probability in [0, 1], got "${text}"`);
  }
  return n;
}

/** Parses `throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.1` ("" means no faults). Throws RangeError. */
export function parseFaults(spec: string): Faults {
  const f: Faults = { ...NO_FAULTS };
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new RangeError(`fault "${part}" needs a value (key=value)`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    switch (key) {
      case "throttle":
        f.throttle = parseProbability(key, value);
        break;
      case "5xx":
        f.serverError = parseProbability(key, value);
        break;
      case "attach-fail":
        f.attachFail = parseProbability(key, value);
        break;
      case "imds-lag":
        f.imdsLagMs = parseDurationMs(value);
        break;
      default:
        throw new RangeError(`unknown fault "${key}" (known: throttle, 5xx, attach-fail, imds-lag)`);
    }
  }
  return f;
}

/** Formats faults back to the spec syntax (only non-zero entries). */
export function formatFaults(f: Faults): string {
  const out: string[] = [];
  if (f.throttle) out.push(`throttle=${f.throttle}`);
  if (f.serverError) out.push(`5xx=${f.serverError}`);
  if (f.imdsLagMs) out.push(`imds-lag=${f.imdsLagMs}ms`);
  if (f.attachFail) out.push(`attach-fail=${f.attachFail}`);
  return out.join(",");
}

/** Latency range [min, max] ms per action under the `realistic` preset (EC2's observed figures). */
export const REALISTIC_LATENCY_MS: Readonly<Record<string, readonly [number, number]>> = {
  CreateNetworkInterface: [500, 1800],
  AttachNetworkInterface: [650, 850],
  DetachNetworkInterface: [150, 300],
  DeleteNetworkInterface: [100, 300],
  AssignPrivateIpAddresses: [100, 300],
  UnassignPrivateIpAddresses: [250, 500],
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
  errors: number;
  throttles: number;
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
    if (!s) this.#stats.set(action, s = { calls: 0, errors: 0, throttles: 0 });
    return s;
  }
}
