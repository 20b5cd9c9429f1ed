/**
 * What ipamd changed in EC2 lately (ENIs made or freed, addresses assigned or returned), so that a reconcile
 * does not take EC2's eventually consistent view for a change of its own: Describe* may not show a new ENI or
 * new addresses for a while, nor stop showing removed ones at once. A change is expected until EC2 shows it,
 * or until the grace below has passed (then EC2's view wins).
 */

/** How long EC2's Describe* may lag behind a change ipamd made (EC2 documents seconds, without a bound). */
export const EC2_CONSISTENCY_GRACE_MS = 120_000;

/** Changes ipamd made, by ENI ID or address, waiting for EC2's Describe* to show them. */
export class RecentChanges {
  readonly #expect = new Map<string, { present: boolean; at: number }>();

  constructor(readonly graceMs = EC2_CONSISTENCY_GRACE_MS) {}

  /** ipamd made `keys` present (created, assigned) or absent (freed, unassigned) at `now`. */
  note(keys: Iterable<string>, present: boolean, now: number): void {
    for (const [k, e] of this.#expect) { // oldest first: forget what the grace has passed
      if (now - e.at < this.graceMs) break;
      this.#expect.delete(k);
    }
    for (const k of keys) {
      this.#expect.delete(k); // re-inserted last, keeping the map in time order
      this.#expect.set(k, { present, at: now });
    }
  }

  /**
   * Whether EC2 may still show `key` the old way: ipamd changed it to `present` less than the grace ago and
   * EC2 has not shown the change yet.
   */
  pending(key: string, present: boolean, now: number): boolean {
    const e = this.#expect.get(key);
    if (!e || e.present !== present) return false;
    if (now - e.at < this.graceMs) return true;
    this.#expect.delete(key);
    return false;
  }

  /** EC2 shows `key` present or absent: a change ipamd expected that way is done. */
  seen(key: string, present: boolean): void {
    if (this.#expect.get(key)?.present === present) this.#expect.delete(key);
  }

  /** How many changes are still expected (for status and tests). */
  get size(): number {
    return this.#expect.size;
  }
}
