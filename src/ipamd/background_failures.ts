/**
 * Failures of ipamd's background work (the EC2 reconcile, pool plans, the leaked-pod sweep, IMDS reads):
 * never swallowed. Each failure is logged with its cause and counted in a metric — upstream's
 * `awscni_ipamd_error_count{fn}`, or `awscni_aws_utils_error_count{fn, error}` for AWS helper calls — and
 * is listed by `ipamd status` (`failures` in `GET /v1/pool`) for as long as it persists: the next success
 * of the same task clears it (and logs the recovery).
 * @module
 */
import { type Clock, systemClock } from "../common/clock.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";

/** A background task that is failing, as `ipamd status` shows it. */
export interface BackgroundFailure {
  /** The task (also the metric's `fn` label), e.g. `eniReconcile`. */
  task: string;
  /** The last error's message (with its cause's, when it has one). */
  error: string;
  /** When the task started failing, and when it last failed (ISO 8601). */
  since: string;
  lastAt: string;
  /** Failures in a row. */
  count: number;
}

/** Which metric a failure counts in. */
export type FailureCounter = "ipamd" | "awsUtils";

/** The message of an error, followed by its cause's. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause === undefined ? "" : `: ${errorText(err.cause)}`;
  return `${err.message || err.name}${cause}`;
}

/** The failing background tasks of one ipamd. */
export class BackgroundFailures {
  readonly #failing = new Map<string, BackgroundFailure>();
  readonly #clock: Clock;

  constructor(readonly opts: { log?: Logger; metrics?: IpamdMetrics; clock?: Clock }) {
    this.#clock = opts.clock ?? systemClock;
  }

  /** Records a failure of `task`: logged with its cause, counted, and listed until the task succeeds. */
  failed(task: string, err: unknown, counter: FailureCounter = "ipamd"): void {
    const at = new Date(this.#clock.now()).toISOString();
    const prev = this.#failing.get(task);
    const error = errorText(err);
    this.#failing.set(task, {
      task,
      error,
      since: prev?.since ?? at,
      lastAt: at,
      count: (prev?.count ?? 0) + 1,
    });
    if (counter === "awsUtils") {
      this.opts.metrics?.awsUtilsErr.inc({
        fn: task,
        error: (err as { code?: string })?.code ?? (err as Error)?.name,
      });
    } else this.opts.metrics?.ipamdErr.inc({ fn: task });
    this.opts.log?.error(`${task} failed`, { err: error, failingSince: this.#failing.get(task)!.since });
  }

  /** `task` succeeded: a failure it had is over (logged once). */
  succeeded(task: string): void {
    const prev = this.#failing.get(task);
    if (!prev) return;
    this.#failing.delete(task);
    this.opts.log?.info(`${task} works again`, { failedTimes: prev.count, failingSince: prev.since });
  }

  /** Runs `fn` as `task`: a success clears its failure, a failure is recorded. Never rejects. */
  async run(task: string, fn: () => Promise<unknown>, counter: FailureCounter = "ipamd"): Promise<void> {
    try {
      await fn();
      this.succeeded(task);
    } catch (e) {
      this.failed(task, e, counter);
    }
  }

  /** The tasks failing now, oldest failure first. */
  list(): BackgroundFailure[] {
    return [...this.#failing.values()].sort((a, b) => a.since.localeCompare(b.since));
  }
}
