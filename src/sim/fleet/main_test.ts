import assert from "node:assert/strict";
import { main, scenariosFromArgs, UsageError } from "./main.ts";

Deno.test("fleet flags: scenarios per policy, ipamd env from the warm-pool flags, clear errors", () => {
  const c = scenariosFromArgs([
    "--nodes=3",
    "--pods-per-node=4",
    "--policy=both",
    "--warm-ip-target=2",
    "--prefix-delegation",
    "--ipamd-env=MINIMUM_IP_TARGET=5",
    "--arrival=steady",
    "--pod-rate=0.5",
  ]);
  assert.deepEqual(c.scenarios.map((s) => s.policy), ["ours", "upstream-like"]);
  assert.equal(c.scenarios[0].nodes, 3);
  assert.deepEqual(c.scenarios[0].env, {
    WARM_IP_TARGET: "2",
    ENABLE_PREFIX_DELEGATION: "true",
    MINIMUM_IP_TARGET: "5",
  });
  assert.equal(c.scenarios[0].arrival, "steady");
  for (
    const [argv, msg] of [
      [["--nodes=0"], /--nodes needs a whole number ≥ 1/],
      [["--policy=mine"], /--policy must be one of ours, upstream-like, both/],
      [["--instance-type=z9.huge"], /--instance-type z9.huge is not known/],
      [["--faults=throttle=2"], /--faults: fault throttle needs a probability/],
      [["--ipamd-env=nope"], /--ipamd-env needs KEY=VALUE/],
      [["--bogus"], /bogus/],
    ] as const
  ) {
    assert.throws(() => scenariosFromArgs([...argv]), (e) => e instanceof UsageError && msg.test(e.message));
  }
});

Deno.test("fleet --json: one line per policy with the issue's fields", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await main(["--nodes=2", "--pods-per-node=5", "--join-seconds=1", "--json"]), 0);
  } finally {
    console.log = log;
  }
  assert.equal(lines.length, 2);
  for (const [i, policy] of ["ours", "upstream-like"].entries()) {
    const j = JSON.parse(lines[i]);
    assert.equal(j.policy, policy);
    for (const k of ["p50", "p99", "max", "failedPods", "ec2Calls", "throttled", "simSeconds"]) {
      assert.equal(typeof j[k], "number", `${policy}: ${k}`);
    }
    assert.equal(j.failedPods, 0);
  }
});

Deno.test("fleet --help names the issue's flags: scenario, policy, instance type, arrival, warm pool, faults", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await main(["--help"]), 0);
  } finally {
    console.log = log;
  }
  const help = lines.join("\n");
  for (
    const flag of [
      "--nodes",
      "--pods-per-node",
      "--join-seconds",
      "--policy",
      "ours | upstream-like | both",
      "--json",
      "--instance-type",
      "--arrival",
      "--pod-rate",
      "--warm-eni-target",
      "--warm-ip-target",
      "--minimum-ip-target",
      "--warm-prefix-target",
      "--prefix-delegation",
      "--faults",
      "--table",
      "--write-readme",
    ]
  ) {
    assert.ok(help.includes(flag), `--help lacks ${flag}`);
  }
});
