/**
 * The warm-ENI planner (the default mode): `targetEnis = max(1, ⌈used / usable⌉) + WARM_ENI_TARGET`, capped
 * at `min(instance max, MAX_ENI)`, every ENI filled to its `usable = ipv4PerEni − 1` IPs. With custom
 * networking the primary ENI carries no pods: `targetEnis = 1 + ⌈used / usable⌉ + WARM_ENI_TARGET`. With
 * WARM_ENI_TARGET=0 and every IP used, one more ENI (so a full node still grows). Over target, it deletes
 * ENIs through {@linkcode shrinkWarmEnis}. Pure.
 * @module
 */
import { byDevice, pausedPlan, pendingOn, type PoolFigures } from "./pool_figures.ts";
import { shrinkWarmEnis } from "./pool_shrink.ts";
import type { PoolAction, PoolInput, PoolPlan } from "./pool_types.ts";

/** The ENIs the warm-ENI rule wants (before the cap), pod ENIs plus the primary under custom networking. */
export function warmEniTarget(input: PoolInput, fig: PoolFigures): number {
  const need = fig.cap === 0 ? 0 : Math.ceil(fig.used / fig.cap);
  let podTarget = (input.customNetworking ? need : Math.max(1, need)) + input.config.warmEniTarget;
  // WARM_ENI_TARGET=0 on a node whose every IP is used: one more ENI, or pods could never get an IP.
  if (podTarget * fig.cap <= fig.used) podTarget++;
  return (input.customNetworking ? 1 : 0) + podTarget;
}

/** Plans the warm-ENI mode: fill every pod ENI, create the ENIs still wanted, or shrink what is over. */
export function planWarmEni(input: PoolInput, fig: PoolFigures): PoolPlan {
  const { cap, have, maxEnis } = fig;
  const wanted = warmEniTarget(input, fig);
  const target = Math.min(maxEnis, wanted);
  const actions: PoolAction[] = [];
  let short = 0;
  for (const eni of [...fig.podEnis].sort(byDevice)) {
    const room = cap - eni.stats.total - pendingOn(eni);
    if (room > 0) {
      actions.push({ kind: "assign-ips", eniId: eni.eniId, count: room });
      short += room;
    }
  }
  const create = cap > 0 ? Math.max(0, target - have) : 0;
  if (create > 0) {
    actions.push({ kind: "create-enis", count: create, ipsPerEni: cap });
    short += create * cap;
  }
  const capped = wanted > maxEnis ? ` (wanted ${wanted}, capped at ${maxEnis})` : "";
  if (!actions.length) return shrinkWarmEnis(input, fig, target, capped);
  const plan = {
    actions,
    short,
    over: 0,
    targetEnis: have + create,
    reason:
      `warm ENI: ${fig.used} IPs in use${fig.waitNote}, target ${target} ENIs${capped}; filling ENIs to ` +
      `${cap} IPs` + (create ? `, creating ${create}` : ""),
  };
  return fig.paused ? pausedPlan(input, fig, plan) : plan;
}
