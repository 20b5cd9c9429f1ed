/**
 * The shrink planners. Shrinking happens only when nothing is short, at most every SHRINK_INTERVAL_MS, never
 * deletes the primary ENI, one younger than ENI_MIN_AGE_MS, or one holding assigned or cooling IPs, never
 * removes more than is over (so the next plan does not regrow), and never while pods wait or growth is in
 * flight. Pure.
 * @module
 */
import { byDevice, deletable, type PoolFigures } from "./pool_figures.ts";
import type { UnitTargets } from "./pool_ip_target.ts";
import type { PoolAction, PoolInput, PoolPlan } from "./pool_types.ts";

/** Warm-ENI mode at or over `target` ENIs: delete the newest deletable ENIs over it. */
export function shrinkWarmEnis(input: PoolInput, fig: PoolFigures, target: number, capped: string): PoolPlan {
  const { have, now } = fig;
  const excess = have - target;
  const hold = (over: number, reason: string): PoolPlan => ({
    actions: [],
    short: 0,
    over,
    targetEnis: have,
    reason: `warm ENI: ${reason}`,
  });
  if (excess <= 0) return hold(0, `at target ${target} ENIs${capped}`);
  if (fig.inFlight) {
    return hold(
      0,
      `${excess} ENI(s) over target ${target}, shrink deferred (growth in flight or pods waiting)`,
    );
  }
  const victims = input.enis.filter((eni) => deletable(eni, now)).sort(byDevice).reverse().slice(0, excess);
  const over = victims.reduce((n, eni) => n + eni.stats.total, 0);
  if (!victims.length) {
    return hold(over, `${excess} ENI(s) over target ${target}, none deletable yet (young, busy or primary)`);
  }
  if (!fig.canShrink) return hold(over, `${excess} over target, shrink deferred (interval)`);
  return {
    actions: victims.map((eni) => ({ kind: "delete-eni", eniId: eni.eniId })),
    short: 0,
    over,
    targetEnis: have - victims.length,
    reason: `warm ENI: ${excess} ENI(s) over target ${target}; deleting ${victims.length}`,
  };
}

/**
 * IP-target or prefix mode with nothing short: release at most `overIps`, draining the highest device numbers
 * first (whole deletable ENIs when they fit, else free addresses or free prefixes).
 */
export function shrinkUnits(input: PoolInput, fig: PoolFigures, targets: UnitTargets): PoolPlan {
  const { overIps, what, unit } = targets;
  let budget = overIps;
  const actions: PoolAction[] = [];
  let deleted = 0;
  for (const eni of [...input.enis].sort(byDevice).reverse()) {
    if (deletable(eni, fig.now) && eni.stats.total <= budget) {
      actions.push({ kind: "delete-eni", eniId: eni.eniId });
      budget -= eni.stats.total;
      deleted++;
      continue;
    }
    if (input.customNetworking && eni.primary) continue;
    const releasable = fig.prefixMode ? (eni.freePrefixes ?? []) : eni.freeIps;
    const take = releasable.slice().reverse().slice(0, Math.floor(budget / unit));
    if (take.length) {
      actions.push(
        fig.prefixMode
          ? { kind: "unassign-prefixes", eniId: eni.eniId, prefixes: take }
          : { kind: "unassign-ips", eniId: eni.eniId, ips: take },
      );
      budget -= take.length * unit;
    }
  }
  const plan = (reason: string, targetEnis = fig.have): PoolPlan => ({
    actions: [],
    short: 0,
    over: overIps,
    targetEnis,
    reason: `${what}; ${reason}`,
  });
  if (!actions.length) return plan("at target");
  if (!fig.canShrink) return plan(`over by ${overIps} IPs, shrink deferred (interval)`);
  return { ...plan(`over by ${overIps} IPs, releasing ${overIps - budget}`, fig.have - deleted), actions };
}
