/**
 * Seeded random choices for tests: `withSeed(label, async (rng) => …)` hands the test an {@linkcode Rng}
 * seeded from `VPC_CNI_TEST_SEED` (or a fresh seed), and when the test throws it prints the seed and puts the
 * replay line into the error: `VPC_CNI_TEST_SEED=<seed> deno task test <file>` makes the same choices again.
 * @module
 */
import { Rng } from "../src/sim/realism_rng.ts";

export { Rng };

/** The environment variable that replays a seed. */
export const SEED_ENV = "VPC_CNI_TEST_SEED";

/** The seed to use: `VPC_CNI_TEST_SEED` when set (a 32-bit unsigned integer), else a fresh random one. */
export function testSeed(): number {
  const text = Deno.env.get(SEED_ENV);
  if (text === undefined || text === "") return crypto.getRandomValues(new Uint32Array(1))[0];
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`${SEED_ENV}="${text}": expected an integer in 0..4294967295`);
  }
  return seed;
}

/** `VPC_CNI_TEST_SEED` when set, else `fixed`: for runs that stay on one seed unless asked to vary. */
export function seedOr(fixed: number): number {
  return Deno.env.get(SEED_ENV) ? testSeed() : fixed;
}

/** The line a failure prints so the run can be replayed. */
export function replayLine(label: string, seed: number): string {
  return `${label}: seed ${seed} (replay: ${SEED_ENV}=${seed})`;
}

/**
 * Runs `fn` with an Rng seeded by {@linkcode testSeed} (or, with `fixed`, by {@linkcode seedOr}). On failure
 * the seed is printed and appended to the error's message, then the error is rethrown.
 */
export async function withSeed<T>(
  label: string,
  fn: (rng: Rng, seed: number) => Promise<T>,
  o: { fixed?: number } = {},
): Promise<T> {
  const seed = o.fixed === undefined ? testSeed() : seedOr(o.fixed);
  try {
    return await fn(new Rng(seed), seed);
  } catch (e) {
    const line = replayLine(label, seed);
    console.error(line);
    if (e instanceof Error) e.message = `${e.message}\n${line}`;
    throw e;
  }
}
