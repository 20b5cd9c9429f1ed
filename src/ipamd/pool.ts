/**
 * The warm-pool policy: node state in, EC2 actions out. Pure; the runtime calls {@link planPool} after every
 * assign/release and on a timer, carries out the actions, and calls it again.
 *
 * Modes (upstream's, chosen by the config):
 * - **warm ENI** (default): `targetEnis = max(1, ⌈used / usable⌉) + WARM_ENI_TARGET`, capped at
 *   `min(instance max, MAX_ENI)`, every ENI filled to its `usable = ipv4PerEni − 1` IPs. `used` counts
 *   assigned and cooling IPs. With custom networking the primary ENI carries no pods:
 *   `targetEnis = 1 + ⌈used / usable⌉ + WARM_ENI_TARGET`. With WARM_ENI_TARGET=0 and every IP used, one more
 *   ENI (so a full node still grows).
 * - **IP targets** (WARM_IP_TARGET or MINIMUM_IP_TARGET > 0): `short = max(warm − available, minimum − total, 0)`,
 *   `over = max(min(available − warm, total − minimum), 0)`, where available = free and cooled down. Unlike
 *   upstream, the warm target is at least 1, so a node holding MINIMUM_IP_TARGET busy IPs still grows.
 * - **prefix delegation**: the same, counted in /28 prefixes of 16 IPs. With an IP target set, `short` IPs
 *   become `⌈short / 16⌉` prefixes and `over` IPs `⌊over / 16⌋` free prefixes; otherwise WARM_PREFIX_TARGET
 *   (default 1) whole free prefixes are kept, and at least one free IP. WARM_ENI_TARGET is not used here.
 *
 * Safety: growth first fills ENIs with room (lowest device first), then creates the ENIs still needed in one
 * `create-enis` action; pending ENIs count as already there. Pods waiting for an IP (`waitingPods`) count as
 * assigned, so a burst is planned at once; in-flight addresses (`pendingIps`, per-ENI `PoolEni.pendingIps`)
 * are not planned twice, and the room left on pending ENIs is used before creating more. Shrinking happens only when nothing is short, at
 * most every {@link SHRINK_INTERVAL_MS}, never deletes the primary ENI, one younger than {@link ENI_MIN_AGE_MS},
 * or one holding assigned/cooling IPs, and never removes more than `over` (so the next plan does not regrow);
 * nothing shrinks while pods wait or growth is in flight.
 * A plan never both grows and shrinks.
 */
import type { IpamdConfig } from "./config.ts";
import type { Datastore, IpStats } from "./datastore.ts";
import { IPS_PER_PREFIX } from "./max_pods.ts";

/** ENIs younger than this are never deleted (upstream: 1 minute). */
export const ENI_MIN_AGE_MS = 60_000;
/** Shrink actions at most this often (upstream: 30 s). */
export const SHRINK_INTERVAL_MS = 30_000;

/** One attached ENI as the pool sees it. */
export interface PoolEni {
  eniId: string;
  deviceNumber: number;
  createdAt: number;
  /** The instance's primary ENI (device 0): never deleted; carries no pods under custom networking. */
  primary: boolean;
  stats: IpStats;
  /** Free, cooled-down secondary IPs that may be unassigned (Datastore.freeIpsOn). */
  freeIps: string[];
  /** Number of /28 prefixes on the ENI. */
  prefixes: number;
  /** Prefixes with no assigned or cooling address (Datastore.freePrefixesOn). Without it, prefixes are never released. */
  freePrefixes?: string[];
  /** Addresses being assigned to this ENI right now (in-flight assign-ips/-prefixes); they take its room. */
  pendingIps?: number;
}

/** Everything the policy looks at. */
export interface PoolInput {
  now: number;
  enis: PoolEni[];
  /** Instance limits; maxEnis is min'd with config.maxEni here. */
  limits: { maxEnis: number; ipv4PerEni: number };
  config: Pick<
    IpamdConfig,
    | "warmEniTarget"
    | "warmIpTarget"
    | "minimumIpTarget"
    | "warmPrefixTarget"
    | "enablePrefixDelegation"
    | "maxEni"
  >;
  /** ENIs being created/attached right now; they count toward the target. */
  pendingEnis: number;
  /**
   * Addresses in flight: those the pending ENIs will bring plus those being assigned to attached ENIs
   * (`PoolEni.pendingIps`; prefix mode: 16 per prefix). Unset: each pending ENI is assumed to bring a full
   * ENI's worth. Set, the room left on pending ENIs (`pendingEnis × usable − their addresses`) is counted as
   * covering a shortfall (filled once they attach) before any further ENI is created.
   */
  pendingIps?: number;
  /**
   * Pod ADDs waiting for an IP right now (the socket API's demand): counted as already-assigned pods in every
   * mode, so a burst's growth is planned at once. While any wait, nothing shrinks.
   */
  waitingPods?: number;
  /** When shrink actions were last carried out (0 if never). */
  lastShrinkAt: number;
  /** No growth before this time (e.g. after InsufficientCidrBlocks). */
  growthPausedUntil?: number;
  /** The primary ENI carries no pods. */
  customNetworking?: boolean;
}

/** One step for the runtime to carry out. */
export type PoolAction =
  | { kind: "create-enis"; count: number; ipsPerEni: number; prefixesPerEni?: number }
  | { kind: "assign-ips"; eniId: string; count: number }
  | { kind: "assign-prefixes"; eniId: string; count: number }
  | { kind: "unassign-ips"; eniId: string; ips: string[] }
  | { kind: "unassign-prefixes"; eniId: string; prefixes: string[] }
  | { kind: "delete-eni"; eniId: string };

/** The plan: actions (possibly none), why, and the figures behind it. */
export interface PoolPlan {
  actions: PoolAction[];
  reason: string;
  /** Addresses the node is short of (before caps). */
  short: number;
  /** Addresses the node holds beyond its targets. */
  over: number;
  /** ENIs the node will have once the plan is carried out (attached + pending + created − deleted). */
  targetEnis: number;
}

/** The pool's view of a datastore's ENIs at `now`; the primary ENI is device 0. */
export function poolEnis(ds: Datastore, now: number): PoolEni[] {
  return ds.enis().map((e) => ({
    eniId: e.eniId,
    deviceNumber: e.deviceNumber,
    createdAt: e.createdAt,
    primary: e.deviceNumber === 0,
    stats: ds.eniStats(e.eniId, now),
    freeIps: ds.freeIpsOn(e.eniId, now),
    prefixes: e.prefixes.length,
    freePrefixes: ds.freePrefixesOn(e.eniId, now),
  }));
}

const GROW_KINDS = new Set(["create-enis", "assign-ips", "assign-prefixes"]);

/** Whether an action adds capacity (create/assign) rather than removing it. */
export function isGrowAction(a: PoolAction): boolean {
  return GROW_KINDS.has(a.kind);
}

/** Computes the next actions for the pool. */
export function planPool(input: PoolInput): PoolPlan {
  const { now, config: c } = input;
  const maxEnis = Math.max(
    1,
    Math.min(input.limits.maxEnis, c.maxEni !== undefined && c.maxEni > 0 ? c.maxEni : Infinity),
  );
  const cap = Math.max(input.limits.ipv4PerEni - 1, 0);
  const podEnis = input.enis.filter((e) => !(input.customNetworking && e.primary));
  const have = input.enis.length + input.pendingEnis;
  const paused = input.growthPausedUntil !== undefined && now < input.growthPausedUntil;
  const deletable = (e: PoolEni) =>
    !e.primary && e.deviceNumber !== 0 && now - e.createdAt >= ENI_MIN_AGE_MS && e.stats.assigned === 0 &&
    e.stats.cooling === 0;
  const sum = (f: (e: PoolEni) => number) => podEnis.reduce((n, e) => n + f(e), 0);
  // Waiting pods count as assigned: they take free IPs first, then need new ones.
  const waiting = Math.max(0, input.waitingPods ?? 0);
  const total = sum((e) => e.stats.total), rawFree = sum((e) => e.stats.free);
  const free = rawFree - waiting;
  const used = sum((e) => e.stats.assigned + e.stats.cooling) + waiting;
  const pendingOn = (e: PoolEni) => Math.max(0, e.pendingIps ?? 0);
  // Nothing shrinks while pods wait for an IP or addresses are in flight (their arrival changes `over`).
  const inFlight = waiting > 0 || (input.pendingIps ?? 0) > 0 || podEnis.some((e) => pendingOn(e) > 0);
  const canShrink = now - input.lastShrinkAt >= SHRINK_INTERVAL_MS && !inFlight;
  const ipMode = (c.warmIpTarget ?? 0) > 0 || (c.minimumIpTarget ?? 0) > 0;
  const prefixMode = c.enablePrefixDelegation;
  const byDevice = (a: PoolEni, b: PoolEni) =>
    a.deviceNumber - b.deviceNumber || a.eniId.localeCompare(b.eniId);

  const pausedPlan = (p: PoolPlan): PoolPlan => ({
    ...p,
    actions: [],
    targetEnis: have,
    reason: `growth paused until ${new Date(input.growthPausedUntil!).toISOString()}: ${p.reason}`,
  });

  const waitNote = waiting > 0 ? ` (${waiting} pod(s) waiting)` : "";
  if (!ipMode && !prefixMode) {
    // Warm ENI mode.
    const need = cap === 0 ? 0 : Math.ceil(used / cap);
    let podTarget = (input.customNetworking ? need : Math.max(1, need)) + c.warmEniTarget;
    // WARM_ENI_TARGET=0 on a node whose every IP is used: one more ENI, or pods could never get an IP.
    if (podTarget * cap <= used) podTarget++;
    const wanted = (input.customNetworking ? 1 : 0) + podTarget;
    const target = Math.min(maxEnis, wanted);
    const actions: PoolAction[] = [];
    let short = 0;
    for (const e of [...podEnis].sort(byDevice)) {
      const room = cap - e.stats.total - pendingOn(e);
      if (room > 0) {
        actions.push({ kind: "assign-ips", eniId: e.eniId, count: room });
        short += room;
      }
    }
    const create = Math.max(0, target - have);
    if (create > 0 && cap > 0) {
      actions.push({ kind: "create-enis", count: create, ipsPerEni: cap });
      short += create * cap;
    }
    const capped = wanted > maxEnis ? ` (wanted ${wanted}, capped at ${maxEnis})` : "";
    if (actions.length) {
      const plan = {
        actions,
        short,
        over: 0,
        targetEnis: have + (create > 0 && cap > 0 ? create : 0),
        reason:
          `warm ENI: ${used} IPs in use${waitNote}, target ${target} ENIs${capped}; filling ENIs to ${cap} IPs` +
          (create ? `, creating ${create}` : ""),
      };
      return paused ? pausedPlan(plan) : plan;
    }
    const excess = have - target;
    if (excess <= 0 || inFlight) {
      return {
        actions: [],
        short: 0,
        over: 0,
        targetEnis: have,
        reason: excess > 0
          ? `warm ENI: ${excess} ENI(s) over target ${target}, shrink deferred (growth in flight or pods waiting)`
          : `warm ENI: at target ${target} ENIs${capped}`,
      };
    }
    const victims = input.enis.filter(deletable).sort(byDevice).reverse().slice(0, excess);
    const over = victims.reduce((n, e) => n + e.stats.total, 0);
    if (!victims.length) {
      return {
        actions: [],
        short: 0,
        over,
        targetEnis: have,
        reason:
          `warm ENI: ${excess} ENI(s) over target ${target}, none deletable yet (young, busy or primary)`,
      };
    }
    if (!canShrink) {
      return {
        actions: [],
        short: 0,
        over,
        targetEnis: have,
        reason: `warm ENI: ${excess} over target, shrink deferred (interval)`,
      };
    }
    return {
      actions: victims.map((e) => ({ kind: "delete-eni", eniId: e.eniId })),
      short: 0,
      over,
      targetEnis: have - victims.length,
      reason: `warm ENI: ${excess} ENI(s) over target ${target}; deleting ${victims.length}`,
    };
  }

  // IP-target or prefix mode: count in units (an IP, or a /28 prefix).
  const unit = prefixMode ? IPS_PER_PREFIX : 1;
  const slotsUsed = (e: PoolEni) =>
    prefixMode ? e.prefixes + Math.max(0, e.stats.total - e.prefixes * IPS_PER_PREFIX) : e.stats.total;
  const releasable = (e: PoolEni) => prefixMode ? (e.freePrefixes ?? []) : e.freeIps;
  let shortUnits: number, overIps: number, shortIps: number, what: string;
  if (ipMode) {
    const warm = Math.max(c.warmIpTarget ?? 0, 1), min = c.minimumIpTarget ?? 0;
    shortIps = Math.max(warm - free, min - total, 0);
    overIps = Math.max(Math.min(free - warm, total - min), 0);
    shortUnits = Math.ceil(shortIps / unit);
    what =
      `IP target (warm ${c.warmIpTarget ?? 0}, minimum ${min}${prefixMode ? ", in /28 prefixes" : ""}):` +
      ` ${total} IPs, ${rawFree} available${waitNote}`;
  } else {
    const wpt = c.warmPrefixTarget ?? 1;
    const rawFreeUnits = sum((e) => e.freePrefixes?.length ?? Math.floor(e.stats.free / IPS_PER_PREFIX));
    // Waiting pods use the free addresses outside whole free prefixes first, then whole free prefixes.
    const partial = Math.max(0, rawFree - rawFreeUnits * IPS_PER_PREFIX);
    const freeUnits = rawFreeUnits - Math.ceil(Math.max(0, waiting - partial) / IPS_PER_PREFIX);
    shortUnits = Math.max(wpt - freeUnits, free <= 0 ? Math.ceil((1 - free) / IPS_PER_PREFIX) : 0, 0);
    shortIps = shortUnits * unit;
    overIps = Math.max(0, Math.min((freeUnits - wpt) * unit, free - 1));
    what = `warm prefix target ${wpt}: ${rawFreeUnits} free prefixes, ${rawFree} available IPs${waitNote}`;
  }

  if (shortUnits > 0) {
    const pendingUnits = input.pendingIps !== undefined
      ? Math.floor(input.pendingIps / unit)
      : input.pendingEnis * cap;
    // Room left on pending ENIs (created with fewer than `cap` units): filled once they attach.
    const onEnis = sum((e) => Math.floor(pendingOn(e) / unit));
    const pendingRoom = input.pendingIps !== undefined
      ? Math.max(0, input.pendingEnis * cap - Math.max(0, pendingUnits - onEnis))
      : 0;
    let rem = Math.max(0, shortUnits - pendingUnits);
    const actions: PoolAction[] = [];
    for (const e of [...podEnis].sort(byDevice)) {
      const room = cap - slotsUsed(e) - Math.ceil(pendingOn(e) / unit);
      if (rem <= 0) break;
      if (room <= 0) continue;
      const n = Math.min(room, rem);
      actions.push(
        prefixMode
          ? { kind: "assign-prefixes", eniId: e.eniId, count: n }
          : { kind: "assign-ips", eniId: e.eniId, count: n },
      );
      rem -= n;
    }
    const intoPending = Math.min(rem, pendingRoom);
    rem -= intoPending;
    let created = 0;
    if (rem > 0 && cap > 0) {
      const n = Math.min(Math.ceil(rem / cap), maxEnis - have);
      if (n > 0) {
        // n − 1 full ENIs and one with the remainder, so the plan does not overshoot (and later shrink).
        const full = Math.min(n, Math.floor(rem / cap));
        const last = n - full, lastUnits = Math.min(cap, rem - full * cap);
        const create = (count: number, per: number): PoolAction =>
          prefixMode
            ? { kind: "create-enis", count, ipsPerEni: 0, prefixesPerEni: per }
            : { kind: "create-enis", count, ipsPerEni: per };
        if (full > 0) actions.push(create(full, cap));
        if (last > 0 && lastUnits > 0) actions.push(create(last, lastUnits));
        created = n;
        rem = Math.max(0, rem - full * cap - (last > 0 ? lastUnits : 0));
      }
    }
    const unitName = prefixMode ? "prefix(es)" : "IP(s)";
    let reason = `${what}; short ${shortUnits} ${unitName}`;
    if (pendingUnits > 0 && shortUnits <= pendingUnits) {
      reason += `, covered by ${input.pendingEnis} pending ENI(s)`;
    } else if (pendingUnits > 0) reason += `, ${pendingUnits} in flight`;
    if (intoPending > 0) reason += `, ${intoPending} to fill pending ENIs' room once attached`;
    if (rem > 0) reason += `; ${rem} ${unitName} cannot be placed: max ENIs (${maxEnis}) reached`;
    const plan = { actions, short: shortIps, over: 0, targetEnis: have + created, reason };
    return paused && actions.length ? pausedPlan(plan) : plan;
  }

  // Nothing short: shrink within `overIps`, draining the highest device numbers first.
  let budget = overIps;
  const actions: PoolAction[] = [];
  let deleted = 0;
  for (const e of [...input.enis].sort(byDevice).reverse()) {
    if (deletable(e) && e.stats.total <= budget) {
      actions.push({ kind: "delete-eni", eniId: e.eniId });
      budget -= e.stats.total;
      deleted++;
      continue;
    }
    if (input.customNetworking && e.primary) continue;
    const take = releasable(e).slice().reverse().slice(0, Math.floor(budget / unit));
    if (take.length) {
      actions.push(
        prefixMode
          ? { kind: "unassign-prefixes", eniId: e.eniId, prefixes: take }
          : { kind: "unassign-ips", eniId: e.eniId, ips: take },
      );
      budget -= take.length * unit;
    }
  }
  if (!actions.length) {
    return { actions, short: 0, over: overIps, targetEnis: have, reason: `${what}; at target` };
  }
  if (!canShrink) {
    return {
      actions: [],
      short: 0,
      over: overIps,
      targetEnis: have,
      reason: `${what}; over by ${overIps} IPs, shrink deferred (interval)`,
    };
  }
  return {
    actions,
    short: 0,
    over: overIps,
    targetEnis: have - deleted,
    reason: `${what}; over by ${overIps} IPs, releasing ${overIps - budget}`,
  };
}
