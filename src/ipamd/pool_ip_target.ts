/**
 * The IP-target and prefix planners: both count in units (an IP, or a /28 prefix of 16 IPs).
 * - **IP targets** (WARM_IP_TARGET or MINIMUM_IP_TARGET > 0): `short = max(warm − available, minimum − total,
 *   0)`, `over = max(min(available − warm, total − minimum), 0)`, where available = free and cooled down.
 *   Unlike upstream, the warm target is at least 1, so a node holding MINIMUM_IP_TARGET busy IPs still grows.
 *   In prefix mode `short` IPs become `⌈short / 16⌉` prefixes and `over` IPs `⌊over / 16⌋` free prefixes.
 * - **warm prefixes** (prefix delegation, no IP target): WARM_PREFIX_TARGET (default 1) whole free prefixes
 *   are kept, and at least one free IP.
 * Growth fills ENIs with room (lowest device first), counts in-flight addresses and the room left on pending
 * ENIs, then creates the ENIs still needed, the last one holding only the remainder. Nothing short: see
 * {@linkcode shrinkUnits}. Pure.
 * @module
 */
import { IPS_PER_PREFIX } from "./max_pods.ts";
import { byDevice, pausedPlan, pendingOn, type PoolFigures, sumOver } from "./pool_figures.ts";
import { shrinkUnits } from "./pool_shrink.ts";
import type { PoolAction, PoolEni, PoolInput, PoolPlan } from "./pool_types.ts";

/** What the node is short of or over by, in the mode's unit. */
export interface UnitTargets {
  /** 1 (IPs) or 16 (prefixes). */
  unit: number;
  shortUnits: number;
  shortIps: number;
  overIps: number;
  /** The mode and its figures, the start of every reason. */
  what: string;
}

/** Short and over for IP targets (IPs, or prefixes in prefix mode) or the warm prefix target. */
export function unitTargets(input: PoolInput, fig: PoolFigures): UnitTargets {
  const { config } = input;
  const { free, rawFree, total, waiting, prefixMode } = fig;
  const unit = prefixMode ? IPS_PER_PREFIX : 1;
  if (fig.ipMode) {
    const warm = Math.max(config.warmIpTarget ?? 0, 1), min = config.minimumIpTarget ?? 0;
    const shortIps = Math.max(warm - free, min - total, 0);
    return {
      unit,
      shortUnits: Math.ceil(shortIps / unit),
      shortIps,
      overIps: Math.max(Math.min(free - warm, total - min), 0),
      what:
        `IP target (warm ${config.warmIpTarget ?? 0}, minimum ${min}${
          prefixMode ? ", in /28 prefixes" : ""
        }):` +
        ` ${total} IPs, ${rawFree} available${fig.waitNote}`,
    };
  }
  const wpt = config.warmPrefixTarget ?? 1;
  const rawFreeUnits = sumOver(
    fig.podEnis,
    (eni) => eni.freePrefixes?.length ?? Math.floor(eni.stats.free / IPS_PER_PREFIX),
  );
  // Waiting pods use the free addresses outside whole free prefixes first, then whole free prefixes.
  const partial = Math.max(0, rawFree - rawFreeUnits * IPS_PER_PREFIX);
  const freeUnits = rawFreeUnits - Math.ceil(Math.max(0, waiting - partial) / IPS_PER_PREFIX);
  const shortUnits = Math.max(wpt - freeUnits, free <= 0 ? Math.ceil((1 - free) / IPS_PER_PREFIX) : 0, 0);
  return {
    unit,
    shortUnits,
    shortIps: shortUnits * unit,
    overIps: Math.max(0, Math.min((freeUnits - wpt) * unit, free - 1)),
    what: `warm prefix target ${wpt}: ${rawFreeUnits} free prefixes, ${rawFree} available IPs${fig.waitNote}`,
  };
}

/** Plans the IP-target or prefix mode: grow when short, else shrink within what is over. */
export function planIpTarget(input: PoolInput, fig: PoolFigures): PoolPlan {
  const targets = unitTargets(input, fig);
  return targets.shortUnits > 0 ? planUnitGrowth(input, fig, targets) : shrinkUnits(input, fig, targets);
}

/** Units a pod ENI has in use: addresses, or prefixes plus loose addresses in prefix mode. */
function slotsUsed(eni: PoolEni, prefixMode: boolean): number {
  return prefixMode
    ? eni.prefixes + Math.max(0, eni.stats.total - eni.prefixes * IPS_PER_PREFIX)
    : eni.stats.total;
}

/** Units in flight, and the room left on pending ENIs (filled once they attach). */
function inFlightUnits(input: PoolInput, fig: PoolFigures, unit: number): { pending: number; room: number } {
  if (input.pendingIps === undefined) return { pending: input.pendingEnis * fig.cap, room: 0 };
  const pending = Math.floor(input.pendingIps / unit);
  const onEnis = sumOver(fig.podEnis, (eni) => Math.floor(pendingOn(eni) / unit));
  return { pending, room: Math.max(0, input.pendingEnis * fig.cap - Math.max(0, pending - onEnis)) };
}

/** Assign actions on pod ENIs with room, lowest device first, for up to `want` units; and how many. */
function fillEnis(fig: PoolFigures, unit: number, want: number): { actions: PoolAction[]; placed: number } {
  const actions: PoolAction[] = [];
  let placed = 0;
  for (const eni of [...fig.podEnis].sort(byDevice)) {
    if (placed >= want) break;
    const room = fig.cap - slotsUsed(eni, fig.prefixMode) - Math.ceil(pendingOn(eni) / unit);
    if (room <= 0) continue;
    const count = Math.min(room, want - placed);
    actions.push(
      fig.prefixMode
        ? { kind: "assign-prefixes", eniId: eni.eniId, count }
        : { kind: "assign-ips", eniId: eni.eniId, count },
    );
    placed += count;
  }
  return { actions, placed };
}

/**
 * Create actions for `units`: n − 1 full ENIs and one with the remainder, so the plan does not overshoot
 * (and later shrink); at most up to the ENI limit. Answers the actions, ENIs created and units placed.
 */
function createEnis(
  fig: PoolFigures,
  units: number,
): { actions: PoolAction[]; created: number; placed: number } {
  const { cap } = fig;
  const n = cap > 0 ? Math.min(Math.ceil(units / cap), fig.maxEnis - fig.have) : 0;
  if (n <= 0) return { actions: [], created: 0, placed: 0 };
  const full = Math.min(n, Math.floor(units / cap));
  const last = n - full, lastUnits = Math.min(cap, units - full * cap);
  const create = (count: number, per: number): PoolAction =>
    fig.prefixMode
      ? { kind: "create-enis", count, ipsPerEni: 0, prefixesPerEni: per }
      : { kind: "create-enis", count, ipsPerEni: per };
  const actions: PoolAction[] = [];
  if (full > 0) actions.push(create(full, cap));
  if (last > 0 && lastUnits > 0) actions.push(create(last, lastUnits));
  return { actions, created: n, placed: full * cap + (last > 0 ? lastUnits : 0) };
}

/** Grows by `shortUnits`: in-flight units first, then ENIs with room, pending ENIs' room, new ENIs. */
export function planUnitGrowth(input: PoolInput, fig: PoolFigures, targets: UnitTargets): PoolPlan {
  const { unit, shortUnits, what } = targets;
  const flight = inFlightUnits(input, fig, unit);
  let rem = Math.max(0, shortUnits - flight.pending);
  const filled = fillEnis(fig, unit, rem);
  rem -= filled.placed;
  const intoPending = Math.min(rem, flight.room);
  rem -= intoPending;
  const made = rem > 0 ? createEnis(fig, rem) : { actions: [], created: 0, placed: 0 };
  rem = Math.max(0, rem - made.placed);

  const unitName = fig.prefixMode ? "prefix(es)" : "IP(s)";
  let reason = `${what}; short ${shortUnits} ${unitName}`;
  if (flight.pending > 0 && shortUnits <= flight.pending) {
    reason += `, covered by ${input.pendingEnis} pending ENI(s)`;
  } else if (flight.pending > 0) reason += `, ${flight.pending} in flight`;
  if (intoPending > 0) reason += `, ${intoPending} to fill pending ENIs' room once attached`;
  if (rem > 0) reason += `; ${rem} ${unitName} cannot be placed: max ENIs (${fig.maxEnis}) reached`;
  const actions = [...filled.actions, ...made.actions];
  const plan = { actions, short: targets.shortIps, over: 0, targetEnis: fig.have + made.created, reason };
  return fig.paused && actions.length ? pausedPlan(input, fig, plan) : plan;
}
