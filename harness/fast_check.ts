/**
 * fast-check for every property test, with one seed policy: `VPC_CNI_TEST_SEED=<n>` replays a run (a failing
 * property prints its seed, `Seed: <n>`); unset, each run draws a fresh seed. Import `fc` from here, not from
 * "fast-check", so the variable reaches every property.
 * @module
 */
import fc from "fast-check";
import { SEED_ENV } from "./seed.ts";

const text = Deno.env.get(SEED_ENV);
if (text) {
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new RangeError(`${SEED_ENV}="${text}": expected an integer`);
  fc.configureGlobal({ seed: seed | 0 });
}

export default fc;
