/**
 * Retrying a pod sandbox whose CNI ADD answered "try again later" (CNI code 11: ipamd starting, pool
 * growing, EC2 throttled). Two schedules:
 * - kubelet's own: its pod worker requeues a failed sync after `wait.Jitter(backOffPeriod, 0.5)`, that is
 *   10–15 s (kubernetes pkg/kubelet/pod_workers.go); the fleet simulation's pods retry so;
 * - the lab's quicker one for `lab pod add` and tests: 250 ms doubling to 4 s.
 */
import { type Clock, systemClock } from "../common/clock.ts";

/** The lab's first retry delay. */
export const KUBELET_RETRY_FIRST_MS = 250;
/** The lab's retry delay cap. */
export const KUBELET_RETRY_MAX_MS = 4_000;
/** kubelet's pod worker back-off period and its jitter factor. */
export const KUBELET_BACKOFF = { periodMs: 10_000, jitter: 0.5 } as const;

/** kubelet's delay before the next sync of a pod whose sync failed: 10 s plus up to 50 %. */
export function kubeletPodWorkerDelay(random: () => number): () => number {
  return () => KUBELET_BACKOFF.periodMs * (1 + KUBELET_BACKOFF.jitter * random());
}

/** Options for {@link retryLikeKubelet}. */
export interface KubeletRetryOptions {
  /** Whether a failure is worth another try (else it is final). */
  retryable: (e: unknown) => boolean;
  /** Give up when the next try would start later than this after the first (default no limit). */
  budgetMs?: number;
  /** Default `systemClock`. */
  clock?: Clock;
  /** The wait before the next try; default the lab's 250 ms doubling to 4 s. */
  nextDelayMs?: (previousMs: number | undefined) => number;
  /** Before each wait. */
  onRetry?: (e: unknown, delayMs: number) => void;
}

const labDelay = (previous: number | undefined) =>
  previous === undefined ? KUBELET_RETRY_FIRST_MS : Math.min(previous * 2, KUBELET_RETRY_MAX_MS);

/** Runs `add` until it succeeds, fails for good, or the budget is spent (then its last error is thrown). */
export async function retryLikeKubelet<T>(add: () => Promise<T>, o: KubeletRetryOptions): Promise<T> {
  const clock = o.clock ?? systemClock;
  const next = o.nextDelayMs ?? labDelay;
  const end = clock.now() + (o.budgetMs ?? Infinity);
  for (let delay: number | undefined;;) {
    try {
      return await add();
    } catch (e) {
      delay = next(delay);
      if (!o.retryable(e) || clock.now() + delay > end) throw e;
      o.onRetry?.(e, delay);
      await clock.sleep(delay);
    }
  }
}
