/**
 * EC2 calls per caller: the instance behind the source address (or the instance the signing key was issued
 * to), else the source address; `lab.sock` for the lab's own control socket. `calls` counts the calls that
 * reached EC2's model (as the lab-wide `ec2Calls` does, so the callers add up to it); `rejected` counts the
 * ones answered before it: throttled, injected faults, refused signatures.
 * @module
 */

/** One caller's counts, per action. */
export interface CallerCounts {
  calls: Record<string, number>;
  rejected: Record<string, number>;
}

/** Counts per caller. */
export class Ec2CallCounts {
  readonly #by = new Map<string, CallerCounts>();

  /** Counts one call of `action` by `caller`. */
  add(caller: string, action: string, outcome: keyof CallerCounts): void {
    let c = this.#by.get(caller);
    if (!c) this.#by.set(caller, c = { calls: {}, rejected: {} });
    c[outcome][action] = (c[outcome][action] ?? 0) + 1;
  }

  /** One caller's counts (empty when it made none). */
  of(caller: string): CallerCounts {
    const c = this.#by.get(caller);
    return { calls: { ...c?.calls }, rejected: { ...c?.rejected } };
  }

  /** Every caller's counts. */
  toJSON(): Record<string, CallerCounts> {
    return Object.fromEntries([...this.#by.keys()].map((k) => [k, this.of(k)]));
  }
}
