import assert from "node:assert/strict";
import { summarize } from "./report.ts";
import { DEFAULT_SCENARIO, runScenario, type Scenario } from "./scenario.ts";

const small: Scenario = { ...DEFAULT_SCENARIO, nodes: 4, podsPerNode: 12, joinSeconds: 2, quietSeconds: 20 };

Deno.test("fleet scenario: the same seed gives the same run, to the call and the millisecond", async () => {
  const a = summarize(await runScenario(small));
  const b = summarize(await runScenario(small));
  assert.deepEqual(
    { ...a, wallSeconds: 0 },
    { ...b, wallSeconds: 0 },
  );
  assert.equal(a.failedPods, 0);
  assert.ok(a.readyPods === 48 && a.ec2Calls > 0);
  const c = summarize(await runScenario({ ...small, seed: 2 }));
  assert.notDeepEqual(c.latencies, a.latencies, "another seed, other latencies");
});

Deno.test("fleet scenario: prefix delegation networks every pod with a handful of mutating calls", async () => {
  const s = summarize(await runScenario({ ...small, env: { ENABLE_PREFIX_DELEGATION: "true" } }));
  assert.equal(s.failedPods, 0);
  assert.equal(s.ec2ByAction.CreateNetworkInterface?.calls ?? 0, 0, "12 pods fit in the primary ENI's /28s");
  assert.ok((s.ec2ByAction.AssignPrivateIpAddresses?.calls ?? 0) <= 4 * 3);
});

Deno.test("fleet scenario: the upstream-like policy grows one action per 5 s pass and waits 10 s after attach", async () => {
  const ours = summarize(await runScenario({ ...small, policy: "ours" }));
  const up = summarize(await runScenario({ ...small, policy: "upstream-like" }));
  assert.equal(up.failedPods, 0);
  // Every secondary ENI takes at least the 10 s after its attach, and ADDs never wait for growth.
  assert.ok(up.p99 > 10 && up.p99 > ours.p99, `upstream-like p99 ${up.p99} vs ours ${ours.p99}`);
  assert.ok(up.addsPerPod > ours.addsPerPod);
});

Deno.test("fleet scenario: an account with too little mutate budget says which bucket bound it", async () => {
  // 80 nodes × 30 pods need ~560 mutating calls: the mutate bucket (100 + 5/s) admits them in no less than 90 s.
  const s = summarize(await runScenario({ ...small, nodes: 80, podsPerNode: 30, joinSeconds: 10 }));
  assert.equal(s.failedPods, 0);
  assert.equal(s.boundBy, "mutate");
  assert.ok(s.p99 > 60);
});
