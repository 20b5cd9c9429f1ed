/**
 * The figures every pool planner starts from, computed once from a {@linkcode PoolInput}: limits, demand
 * (waiting pods count as assigned), what is in flight, and whether shrinking is allowed now. Pure.
 * @module
 */
import {
  ENI_MIN_AGE_MS,
  type PoolEni,
  type PoolInput,
  type PoolPlan,
  SHRINK_INTERVAL_MS,
} from "./pool_types.ts";

/** Derived figures of one pool input. */
export interface PoolFigures {
  now: number;
  /** The instance's ENI limit with MAX_ENI applied (at least 1). */
  maxEnis: number;
  /** Usable addresses (or /28 slots) per ENI: IPv4 per ENI − 1. */
  cap: number;
  /** ENIs that carry pods (the primary is left out under custom networking). */
  podEnis: PoolEni[];
  /** ENIs attached plus pending. */
  have: number;
  /** Growth is paused (after InsufficientCidrBlocks or a failure). */
  paused: boolean;
  /** Pod ADDs waiting for an IP. */
  waiting: number;
  /** Addresses on the pod ENIs. */
  total: number;
  /** Free, cooled-down addresses, before the waiting pods take theirs. */
  rawFree: number;
  /** Free addresses once the waiting pods have theirs (may be negative). */
  free: number;
  /** Assigned + cooling + waiting. */
  used: number;
  /** Pods wait or addresses are in flight: nothing shrinks (their arrival changes `over`). */
  inFlight: boolean;
  /** The shrink interval has passed and nothing is in flight. */
  canShrink: boolean;
  /** WARM_IP_TARGET or MINIMUM_IP_TARGET is set. */
  ipMode: boolean;
  /** ENABLE_PREFIX_DELEGATION: counts are in /28 prefixes. */
  prefixMode: boolean;
  /** " (N pod(s) waiting)" or "", for reasons. */
  waitNote: string;
}

/** Addresses being assigned to an ENI right now. */
export function pendingOn(eni: PoolEni): number {
  return Math.max(0, eni.pendingIps ?? 0);
}

/** Lowest device first (then ENI id, so plans are stable). */
export function byDevice(left: PoolEni, right: PoolEni): number {
  return left.deviceNumber - right.deviceNumber || left.eniId.localeCompare(right.eniId);
}

/** An ENI that may be deleted: not the primary, old enough, and holding no assigned or cooling address. */
export function deletable(eni: PoolEni, now: number): boolean {
  return !eni.primary && eni.deviceNumber !== 0 && now - eni.createdAt >= ENI_MIN_AGE_MS &&
    eni.stats.assigned === 0 && eni.stats.cooling === 0;
}

/** The sum of `f` over `enis`. */
export function sumOver(enis: PoolEni[], measure: (eni: PoolEni) => number): number {
  return enis.reduce((n, eni) => n + measure(eni), 0);
}

/** Computes the figures of `input`. */
export function poolFigures(input: PoolInput): PoolFigures {
  const { now, config } = input;
  const maxEniConfig = config.maxEni !== undefined && config.maxEni > 0 ? config.maxEni : Infinity;
  const podEnis = input.enis.filter((eni) => !(input.customNetworking && eni.primary));
  // Waiting pods count as assigned: they take free IPs first, then need new ones.
  const waiting = Math.max(0, input.waitingPods ?? 0);
  const rawFree = sumOver(podEnis, (eni) => eni.stats.free);
  const inFlight = waiting > 0 || (input.pendingIps ?? 0) > 0 || podEnis.some((eni) => pendingOn(eni) > 0);
  return {
    now,
    maxEnis: Math.max(1, Math.min(input.limits.maxEnis, maxEniConfig)),
    cap: Math.max(input.limits.ipv4PerEni - 1, 0),
    podEnis,
    have: input.enis.length + input.pendingEnis,
    paused: input.growthPausedUntil !== undefined && now < input.growthPausedUntil,
    waiting,
    total: sumOver(podEnis, (eni) => eni.stats.total),
    rawFree,
    free: rawFree - waiting,
    used: sumOver(podEnis, (eni) => eni.stats.assigned + eni.stats.cooling) + waiting,
    inFlight,
    canShrink: now - input.lastShrinkAt >= SHRINK_INTERVAL_MS && !inFlight,
    ipMode: (config.warmIpTarget ?? 0) > 0 || (config.minimumIpTarget ?? 0) > 0,
    prefixMode: config.enablePrefixDelegation,
    waitNote: waiting > 0 ? ` (${waiting} pod(s) waiting)` : "",
  };
}

/** A growth plan while growth is paused: no action, the reason says until when. */
export function pausedPlan(input: PoolInput, fig: PoolFigures, plan: PoolPlan): PoolPlan {
  return {
    ...plan,
    actions: [],
    targetEnis: fig.have,
    reason: `growth paused until ${new Date(input.growthPausedUntil!).toISOString()}: ${plan.reason}`,
  };
}
