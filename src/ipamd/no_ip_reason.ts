/**
 * Why an ADD got no IP, as the socket API's error body: growth in flight (`pool_growing` with the expected
 * time), a recent growth failure (its reason, retryable or not, with the pause left), every ENI attached and
 * full (`max_enis_reached`), or IPs cooling down (with the time until the first frees). Pure.
 * @module
 */
import type { IpamdErrorBody } from "../cni/api.ts";
import type { Datastore } from "./datastore.ts";
import type { EniError } from "./eni_errors.ts";

/** How long an ENI usually takes from CreateNetworkInterface to usable (create ≈1.8 s + attach + IMDS). */
export const EXPECTED_ENI_MS = 4_000;
/** How long a growth failure explains "no free IP" before it is considered stale. */
const ERROR_MEMORY_MS = 60_000;

/** The socket API's error body. */
export type ErrorBody = IpamdErrorBody["error"];

/** The pool driver's state that explains a missing IP. */
export interface NoIpState {
  now: number;
  ds: Datastore;
  /** The last growth failure, and when. */
  lastError?: { err: EniError; at: number };
  growthPausedUntil: number;
  pendingEnis: number;
  pendingIps: number;
  /** Grow actions are in flight. */
  growing: boolean;
  /** When the last ENI creation started. */
  growStartedAt: number;
  maxEnis: number;
  ipv4PerEni: number;
  /** Why the pool may not grow now (cordoned node, provisioning disabled), if so. */
  held?: string;
}

/** Why no IP is free; `coolingRetryMs` is the time until the first cooling IP frees, when one cools. */
export function reasonForNoIp(state: NoIpState, coolingRetryMs?: number): ErrorBody {
  const err = state.lastError;
  const fresh = err && state.now - err.at < ERROR_MEMORY_MS && err.err.reason !== "internal";
  // Backing off after a failure: growth still in flight was started before it and says less than the error.
  const backingOff = fresh && state.growthPausedUntil > state.now;
  if ((state.pendingEnis > 0 || state.growing) && !backingOff) return growing(state);
  if (err && fresh) return failed(state, err.err);
  if (state.held) return held(state, state.held, coolingRetryMs);
  return fullOrCooling(state, coolingRetryMs);
}

/** Growth is in flight: ENIs attaching (with the time they usually take) or IPs being assigned. */
function growing(state: NoIpState): ErrorBody {
  const left = state.pendingEnis > 0 ? Math.max(250, state.growStartedAt + EXPECTED_ENI_MS - state.now) : 250;
  return {
    reason: "pool_growing",
    message: state.pendingEnis > 0
      ? `no free IP: ${state.pendingEnis} ENI(s) being attached, expected within ${left} ms`
      : `no free IP: ${state.pendingIps} IP(s) being assigned`,
    retryable: true,
    retryAfterMs: left,
  };
}

/** The last growth failed (recently): its reason, retryable or not, with the pause left. */
function failed(state: NoIpState, err: EniError): ErrorBody {
  const paused = state.growthPausedUntil > state.now ? state.growthPausedUntil - state.now : undefined;
  return {
    reason: err.reason,
    message: `no free IP: ${err.message}`,
    retryable: err.retryable,
    ...(paused ? { retryAfterMs: paused } : err.retryable ? { retryAfterMs: 1000 } : {}),
  };
}

/** The pool may not grow now (a cordoned node, provisioning disabled): say why, and when an IP cools. */
function held(state: NoIpState, why: string, coolingRetryMs?: number): ErrorBody {
  const cooling = coolingRetryMs !== undefined ? state.ds.stats(state.now).cooling : 0;
  return {
    reason: "growth_held",
    message: `no free IP and the pool may not grow: ${why}` +
      (cooling > 0 ? `; ${cooling} IP(s) cooling down, the first frees in ${coolingRetryMs} ms` : ""),
    retryable: true,
    retryAfterMs: cooling > 0 ? coolingRetryMs : 5_000,
  };
}

/** Every ENI attached and full (`max_enis_reached` unless one cools), or at target with IPs cooling. */
function fullOrCooling(state: NoIpState, coolingRetryMs?: number): ErrorBody {
  const enis = state.ds.enis();
  const usable = state.ipv4PerEni - 1;
  const full = enis.every((e) => e.ips.length >= usable || e.prefixes.length > 0);
  const stats = state.ds.stats(state.now);
  const cooling = coolingRetryMs !== undefined ? stats.cooling : 0;
  const coolingMessage = `no free IP: ${cooling} IP(s) cooling down, the first frees in ${coolingRetryMs} ms`;
  if (enis.length >= state.maxEnis && full && cooling === 0) {
    return {
      reason: "max_enis_reached",
      message:
        `no free IP: all ${enis.length} ENIs of ${state.maxEnis} attached and full (${stats.assigned} assigned)`,
      retryable: false,
    };
  }
  // Full but cooling, or at its IP target with the rest cooling down: the pool is not growing; say what frees.
  return {
    reason: "pool_growing",
    message: cooling > 0 ? coolingMessage : "no free IP: the pool is growing",
    retryable: true,
    retryAfterMs: coolingRetryMs ?? 1000,
  };
}
