/**
 * Leaked-ENI GC: ENIs this node created that ended up `available` (a crash between create and attach, a
 * failed cleanup) are deleted after a while. Upstream runs this hourly after a random 0–300 s start.
 *
 * An ENI is leaked when it is `available`, carries this node's `node.k8s.amazonaws.com/instance_id` tag and
 * this cluster's `cluster.k8s.amazonaws.com/name` tag (no cluster tag when CLUSTER_NAME is unset), has an
 * `aws-K8S-*` description, and its `node.k8s.amazonaws.com/createdAt` tag is more than 5 minutes old. An ENI
 * tagged `node.k8s.amazonaws.com/no_manage=true` is never touched, nor one without a readable createdAt.
 *
 * At start-up, {@link sweepOrphanedEnis} deletes right away the ENIs that pass every rule but the age one and
 * were created before this ipamd started: only this node's ipamd creates them and a fresh ipamd has no
 * create → attach in flight, so they are orphans of a previous run (e.g. one SIGKILLed in that window).
 */
import { Ec2Error, type Ec2Port, type NetworkInterface } from "../aws/ec2_port.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import { ConfigError } from "./config.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";
import {
  ENI_DESCRIPTION_PREFIX,
  TAG_CLUSTER_NAME,
  TAG_CREATED_AT,
  TAG_INSTANCE_ID,
  TAG_NO_MANAGE,
} from "./eni_tags.ts";

/** ENIs younger than this are left (they may be on their way to an attach). */
export const GC_MIN_AGE_MS = 5 * 60_000;
/** Between runs. */
export const GC_EVERY_MS = 60 * 60_000;
/** The first run comes after a random delay up to this. */
export const GC_FIRST_JITTER_MS = 5 * 60_000;
/** Deletes per run (the rest waits for the next run). */
export const GC_MAX_DELETES = 10;

/** What decides leakage. */
export interface LeakCriteria {
  instanceId: string;
  /** CLUSTER_NAME; "" means the ENI must carry no cluster tag. */
  clusterName: string;
  now: number;
  minAgeMs?: number;
}

/** Why an ENI is not deleted, or `leaked`. Pure. */
export function leakVerdict(eni: NetworkInterface, c: LeakCriteria): "leaked" | string {
  const tag = (k: string) => eni.tags.find((t) => t.key === k)?.value;
  if (tag(TAG_NO_MANAGE) === "true") return "no_manage";
  if (eni.status !== "available" || eni.attachment && eni.attachment.status !== "detached") {
    return `status ${eni.status}`;
  }
  if (tag(TAG_INSTANCE_ID) !== c.instanceId) return "another node";
  if ((tag(TAG_CLUSTER_NAME) ?? "") !== c.clusterName) return "another cluster";
  if (!eni.description.startsWith(ENI_DESCRIPTION_PREFIX)) return "description";
  const created = Date.parse(tag(TAG_CREATED_AT) ?? "");
  if (!Number.isFinite(created)) return "no createdAt";
  if (c.now - created <= (c.minAgeMs ?? GC_MIN_AGE_MS)) return "too young";
  return "leaked";
}

/** The leaked ENIs, oldest first, at most `max`. Pure. */
export function selectLeakedEnis(
  enis: NetworkInterface[],
  c: LeakCriteria & { max?: number },
): NetworkInterface[] {
  const created = (e: NetworkInterface) =>
    Date.parse(e.tags.find((t) => t.key === TAG_CREATED_AT)?.value ?? "");
  return enis.filter((e) => leakVerdict(e, c) === "leaked")
    .sort((a, b) =>
      created(a) - created(b) ||
      (a.networkInterfaceId < b.networkInterfaceId ? -1 : a.networkInterfaceId > b.networkInterfaceId ? 1 : 0)
    )
    .slice(0, c.max ?? GC_MAX_DELETES);
}

/** Options for {@link EniGc}. */
export interface EniGcOptions {
  ec2: Pick<Ec2Port, "describeNetworkInterfaces" | "deleteNetworkInterface">;
  instanceId: string;
  clusterName: string;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Default `systemClock`. */
  clock?: Clock;
  minAgeMs?: number;
  maxDeletesPerRun?: number;
  /** Delay of the first run; default random in [0, GC_FIRST_JITTER_MS). */
  firstDelayMs?: number;
  everyMs?: number;
}

/** Result of one GC run. */
export interface GcRun {
  deleted: string[];
  failed: { eniId: string; error: string }[];
  /** Leaked ENIs left for the next run by the per-run limit. */
  deferred: number;
}

/** The periodic leaked-ENI collector. */
export class EniGc {
  #cancel?: () => void;
  #running?: Promise<GcRun>;
  runs = 0;

  constructor(readonly o: EniGcOptions) {}

  /** One pass: one DescribeNetworkInterfaces, then at most `maxDeletesPerRun` deletes. */
  runOnce(): Promise<GcRun> {
    return this.#running ??= this.#run().finally(() => this.#running = undefined);
  }

  async #run(): Promise<GcRun> {
    const o = this.o;
    this.runs++;
    const candidates = await o.ec2.describeNetworkInterfaces({
      filters: [
        { name: "status", values: ["available"] },
        { name: `tag:${TAG_INSTANCE_ID}`, values: [o.instanceId] },
      ],
    });
    const c = { instanceId: o.instanceId, clusterName: o.clusterName, now: (o.clock ?? systemClock).now() };
    const max = o.maxDeletesPerRun ?? GC_MAX_DELETES;
    const all = selectLeakedEnis(candidates, { ...c, minAgeMs: o.minAgeMs, max: Infinity });
    const run: GcRun = { deleted: [], failed: [], deferred: Math.max(0, all.length - max) };
    for (const eni of all.slice(0, max)) {
      const id = eni.networkInterfaceId;
      try {
        await o.ec2.deleteNetworkInterface(id);
        run.deleted.push(id);
        o.metrics?.forceRemovedEnis.inc();
        o.log?.info("deleted a leaked ENI", { eniId: id, description: eni.description });
      } catch (e) {
        if (e instanceof Ec2Error && e.code === "InvalidNetworkInterfaceID.NotFound") continue;
        run.failed.push({ eniId: id, error: (e as Error).message });
        o.metrics?.ipamdErr.inc({ fn: "leakedEniGc" });
        o.log?.warn("could not delete a leaked ENI", { eniId: id, err: (e as Error).message });
      }
    }
    if (run.deferred) o.log?.info("leaked ENIs left for the next run", { deferred: run.deferred });
    return run;
  }

  /** Schedules the runs (first after a jittered delay, then every `everyMs`); errors are logged. */
  start(): void {
    if (this.#cancel !== undefined) return;
    const clock = this.o.clock ?? systemClock;
    const every = this.o.everyMs ?? GC_EVERY_MS;
    const tick = (ms: number) => {
      this.#cancel = clock.timer(ms, async () => {
        try {
          await this.runOnce();
        } catch (e) {
          this.o.metrics?.ipamdErr.inc({ fn: "leakedEniGc" });
          this.o.log?.warn("leaked-ENI GC failed", { err: (e as Error).message });
        }
        if (this.#cancel !== undefined) tick(every);
      });
    };
    tick(this.o.firstDelayMs ?? Math.floor(Math.random() * GC_FIRST_JITTER_MS));
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#running?.catch(() => {});
  }
}

/** How long start-up waits for {@link sweepOrphanedEnis} at most. */
export const STARTUP_SWEEP_DEADLINE_MS = 10_000;

/** Options for {@link sweepOrphanedEnis}. */
export interface StartupSweepOptions {
  ec2: Pick<Ec2Port, "describeNetworkInterfaces" | "deleteNetworkInterface">;
  instanceId: string;
  clusterName: string;
  /** When this ipamd started: only ENIs whose createdAt is strictly earlier are orphans. */
  startedAt: number;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Bound on the whole sweep (default {@link STARTUP_SWEEP_DEADLINE_MS}); the rest is left to the GC. */
  deadlineMs?: number;
  /** Deletes at most (default {@link GC_MAX_DELETES}); the rest is left to the periodic GC. */
  max?: number;
  /** Ends the sweep early (ipamd stopping); it returns `incomplete`. */
  signal?: AbortSignal;
  /** For the deadline. Default `systemClock`. */
  clock?: Clock;
}

/** Result of the start-up sweep. */
export interface SweepRun extends GcRun {
  /** ENIs gone or attached meanwhile (NotFound / InUse): skipped. */
  skipped: string[];
  /** The deadline passed (or the describe failed); what is left waits for the periodic GC. */
  incomplete: boolean;
}

/**
 * Start-up sweep: deletes this node's `available` ENIs (this instance's and cluster's tags, `aws-K8S-*`
 * description, not no_manage) created before `startedAt`, whatever their age. Never throws; bounded by
 * `deadlineMs` (a call in flight at the deadline may still finish in the background, which is harmless:
 * it can only delete an ENI created before this ipamd started). Call it before the pool grows.
 */
export async function sweepOrphanedEnis(o: StartupSweepOptions): Promise<SweepRun> {
  const run: SweepRun = { deleted: [], failed: [], deferred: 0, skipped: [], incomplete: false };
  const deadlineMs = o.deadlineMs ?? STARTUP_SWEEP_DEADLINE_MS;
  const deadline = deadlineOrAbort(deadlineMs, o.clock ?? systemClock, o.signal);
  const work = async () => {
    const all = await orphanCandidates(o);
    const max = o.max ?? GC_MAX_DELETES;
    run.deferred = Math.max(0, all.length - max);
    for (const eni of all.slice(0, max)) {
      if (deadline.expired) return;
      await deleteOrphan(o, eni, run);
    }
  };
  try {
    const r = await Promise.race([work().then(() => "done" as const), deadline.reached]);
    if (r === "deadline") {
      run.incomplete = true;
      o.log?.warn("start-up ENI sweep cut off; the rest is left to the leaked-ENI GC", {
        stopped: o.signal?.aborted ?? false,
        deadlineMs,
        deleted: run.deleted.length,
      });
    }
  } catch (e) {
    run.incomplete = true;
    o.metrics?.ipamdErr.inc({ fn: "startupEniSweep" });
    o.log?.warn("start-up ENI sweep failed; left to the leaked-ENI GC", { err: (e as Error).message });
  } finally {
    deadline.cancel();
  }
  if (run.deferred) o.log?.info("orphaned ENIs left for the leaked-ENI GC", { deferred: run.deferred });
  return run;
}

/** This node's `available` ENIs created before start-up (the age rule with now = startedAt, minimum age 0). */
async function orphanCandidates(o: StartupSweepOptions): Promise<NetworkInterface[]> {
  const candidates = await o.ec2.describeNetworkInterfaces({
    filters: [
      { name: "status", values: ["available"] },
      { name: `tag:${TAG_INSTANCE_ID}`, values: [o.instanceId] },
    ],
  });
  return selectLeakedEnis(candidates, {
    instanceId: o.instanceId,
    clusterName: o.clusterName,
    now: o.startedAt,
    minAgeMs: 0,
    max: Infinity,
  });
}

/** Deletes one orphan into `run`: deleted, skipped (gone or attached meanwhile) or failed; never throws. */
async function deleteOrphan(o: StartupSweepOptions, eni: NetworkInterface, run: SweepRun): Promise<void> {
  const id = eni.networkInterfaceId;
  try {
    await o.ec2.deleteNetworkInterface(id);
    run.deleted.push(id);
    o.metrics?.forceRemovedEnis.inc();
    o.log?.info("deleted an ENI orphaned by a previous ipamd run", {
      eniId: id,
      createdAt: eni.tags.find((t) => t.key === TAG_CREATED_AT)?.value,
      description: eni.description,
    });
  } catch (e) {
    const code = e instanceof Ec2Error ? e.code : "";
    if (code === "InvalidNetworkInterfaceID.NotFound" || code === "InvalidNetworkInterface.InUse") {
      run.skipped.push(id);
      o.log?.info("orphaned ENI skipped", { eniId: id, reason: code });
      return;
    }
    run.failed.push({ eniId: id, error: (e as Error).message });
    o.metrics?.ipamdErr.inc({ fn: "startupEniSweep" });
    o.log?.warn("could not delete an orphaned ENI; left to the leaked-ENI GC", {
      eniId: id,
      err: (e as Error).message,
    });
  }
}

/** Settles `reached` when `ms` pass on `clock` or `signal` aborts, whichever is first; `cancel()` stops both. */
function deadlineOrAbort(
  ms: number,
  clock: Clock,
  signal?: AbortSignal,
): { reached: Promise<"deadline">; readonly expired: boolean; cancel(): void } {
  let expired = false;
  let resolve!: (r: "deadline") => void;
  const reached = new Promise<"deadline">((r) => (resolve = r));
  const onEnd = () => {
    expired = true;
    resolve("deadline");
  };
  const cancelTimer = clock.timer(ms, onEnd);
  if (signal?.aborted) onEnd();
  signal?.addEventListener("abort", onEnd);
  return {
    reached,
    get expired() {
      return expired;
    },
    cancel() {
      cancelTimer();
      signal?.removeEventListener("abort", onEnd);
    },
  };
}

/**
 * Our extension, for labs and tests: `LEAKED_ENI_CLEANUP_DELAY` (seconds before the first run, default a random
 * 0–300) and `LEAKED_ENI_CLEANUP_INTERVAL` (seconds between runs, default 3600). Throws `ConfigError`.
 */
export function eniGcTimingFromEnv(
  env: Record<string, string | undefined>,
): Pick<EniGcOptions, "firstDelayMs" | "everyMs"> {
  const secs = (name: string, min: number): number | undefined => {
    const v = env[name]?.trim();
    if (!v) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
      throw new ConfigError(name, env[name]!, `a whole number of seconds ≥ ${min}`);
    }
    return n * 1000;
  };
  const out: Pick<EniGcOptions, "firstDelayMs" | "everyMs"> = {};
  const first = secs("LEAKED_ENI_CLEANUP_DELAY", 0);
  const every = secs("LEAKED_ENI_CLEANUP_INTERVAL", 1);
  if (first !== undefined) out.firstDelayMs = first;
  if (every !== undefined) out.everyMs = every;
  return out;
}
