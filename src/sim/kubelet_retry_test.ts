import assert from "node:assert/strict";
import { kubeletPodWorkerDelay, retryLikeKubelet } from "./kubelet_retry.ts";
import { VirtualClock } from "./fleet/virtual_clock.ts";

Deno.test("retryLikeKubelet: 250 ms doubling to 4 s between tries; a final error or the budget ends it", async () => {
  const clock = new VirtualClock(0);
  const at: number[] = [];
  const retryable = (e: unknown) => (e as Error).message === "again";
  const p = retryLikeKubelet(() => {
    at.push(clock.now());
    return at.length < 8 ? Promise.reject(new Error("again")) : Promise.resolve("ok");
  }, { clock, retryable });
  await clock.run(Infinity);
  assert.equal(await p, "ok");
  assert.deepEqual(at.slice(1).map((t, i) => t - at[i]), [250, 500, 1000, 2000, 4000, 4000, 4000]);

  let n = 0;
  const final = retryLikeKubelet(() => Promise.reject(new Error(++n === 2 ? "final" : "again")), {
    clock,
    retryable,
  });
  const finalChecked = assert.rejects(final, /final/);
  await clock.run(Infinity);
  await finalChecked;
  assert.equal(n, 2);

  const t0 = clock.now();
  const spent = retryLikeKubelet(() => Promise.reject(new Error("again")), {
    clock,
    retryable,
    budgetMs: 3000,
  });
  const spentChecked = assert.rejects(spent, /again/);
  await clock.run(Infinity);
  await spentChecked;
  assert.equal(clock.now() - t0, 250 + 500 + 1000, "the next try would start past the budget");
});

Deno.test("kubelet's pod worker back-off: 10 s plus up to 50 % jitter between tries", async () => {
  const clock = new VirtualClock(0);
  const at: number[] = [];
  const randoms = [0, 0.5, 0.999];
  const p = retryLikeKubelet(() => {
    at.push(clock.now());
    return at.length < 4 ? Promise.reject(new Error("again")) : Promise.resolve();
  }, { clock, retryable: () => true, nextDelayMs: kubeletPodWorkerDelay(() => randoms.shift()!) });
  await clock.run(Infinity);
  await p;
  assert.deepEqual(at.slice(1).map((t, i) => t - at[i]), [10_000, 12_500, 14_995]);
});
