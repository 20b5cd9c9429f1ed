/**
 * How kubelet retries a pod sandbox whose CNI ADD answered "try again later" (CNI code 11: ipamd starting,
 * pool growing, EC2 throttled): again after 250 ms, doubling to 4 s. One home for `lab pod add`, the fleet
 * simulation's pods and the honesty test, so the lab and the simulation retry alike.
 */
import { type Clock, systemClock } from "../common/clock.ts";

/** The first retry delay. */
export const KUBELET_RETRY_FIRST_MS = 250;
/** The retry delay's cap. */
export const KUBELET_RETRY_MAX_MS = 4_000;

/** Options for {@link retryLikeKubelet}. */
export interface KubeletRetryOptions {
  /** Whether a failure is worth another try (else it is final). */
  retryable: (e: unknown) => boolean;
  /** Give up when the next try would start later than this after the first (default no limit). */
  budgetMs?: number;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Before each wait. */
  onRetry?: (e: unknown, delayMs: number) => void;
}

/** Runs `add` until it succeeds, fails for good, or the budget is spent (then its last error is thrown). */
export async function retryLikeKubelet<T>(add: () => Promise<T>, o: KubeletRetryOptions): Promise<T> {
  const clock = o.clock ?? systemClock;
  const end = clock.now() + (o.budgetMs ?? Infinity);
  for (let delay = KUBELET_RETRY_FIRST_MS;; delay = Math.min(delay * 2, KUBELET_RETRY_MAX_MS)) {
    try {
      return await add();
    } catch (e) {
      if (!o.retryable(e) || clock.now() + delay > end) throw e;
      o.onRetry?.(e, delay);
      await clock.sleep(delay);
    }
  }
}
