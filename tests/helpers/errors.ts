/**
 * Catching what a call throws, for assertions on the error itself.
 * @module
 */
import assert from "node:assert/strict";
import { CniError } from "../../src/cni/spec.ts";

/** The `CniError` that `fn` throws; fails when it throws nothing or something else. */
export function cniErr(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, String(e));
    return e;
  }
  assert.fail("did not throw");
}

/** The error `p` rejects with; fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.fail("did not reject");
}
