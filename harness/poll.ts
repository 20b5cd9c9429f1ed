/**
 * `until`: the tests' one poller.
 * @module
 */

/**
 * Calls `fn` every `everyMs` until it returns something truthy, and returns that; throws
 * `timed out waiting for <what>` once `timeoutMs` has passed. Errors from `fn` propagate.
 */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<Exclude<T, undefined | null | false>> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const v = await fn();
    if (v) return v as Exclude<T, undefined | null | false>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
