import assert from "node:assert/strict";
import { ConfigError } from "./config.ts";
import { checkUpstreamEnv, UPSTREAM_VARIABLES } from "./config_upstream.ts";

function refused(env: Record<string, string>, variable: string, why: RegExp): void {
  assert.throws(() => checkUpstreamEnv(env), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.variable, variable);
    assert.match(e.message, new RegExp(`^${variable}=`));
    assert.match(e.message, why);
    return true;
  });
}

Deno.test("upstream variables: listed once, A-Z, each accepted or refused one says what it means", () => {
  const names = UPSTREAM_VARIABLES.map((v) => v.name);
  assert.deepEqual(names, [...new Set(names)].sort());
  assert.ok(names.length >= 50, `${names.length} variables`);
  for (const v of UPSTREAM_VARIABLES) {
    if (v.support !== "implemented") assert.ok(v.note, `${v.name} has a note`);
    if (v.support === "refused") assert.ok(v.refuse, `${v.name} says what it refuses`);
  }
});

Deno.test("upstream variables: upstream's defaults are accepted everywhere", () => {
  const env = Object.fromEntries(UPSTREAM_VARIABLES.map((v) => [v.name, v.upstreamDefault]));
  const notes = checkUpstreamEnv(env);
  // Every accepted or refused variable that is set gets a line in the log; implemented ones none.
  const set = UPSTREAM_VARIABLES.filter((v) => v.support !== "implemented" && v.upstreamDefault !== "");
  assert.equal(notes.length, set.length);
  assert.ok(notes.some((n) => n.startsWith('NETWORK_POLICY_ENFORCING_MODE="standard": ')));
  assert.deepEqual(checkUpstreamEnv({}), []);
});

Deno.test("upstream variables: values promising what vpc-cni lacks are refused, naming the variable and why", () => {
  refused({ ENABLE_POD_ENI: "true" }, "ENABLE_POD_ENI", /security groups for pods/);
  refused({ ENABLE_MULTI_NIC: "1" }, "ENABLE_MULTI_NIC", /network card 0/);
  refused({ NETWORK_POLICY_ENFORCING_MODE: "strict" }, "NETWORK_POLICY_ENFORCING_MODE", /no policy agent/);
  refused(
    { NETWORK_POLICY_ENFORCING_MODE: "lax" },
    "NETWORK_POLICY_ENFORCING_MODE",
    /standard, strict or none/,
  );
  refused({ ENABLE_V6_EGRESS: "true" }, "ENABLE_V6_EGRESS", /IPv6 egress for IPv4 pods/);
  refused({ DISABLE_POD_V6: "true" }, "DISABLE_POD_V6", /tuning plugin/);
  refused({ ENABLE_POD_ENI: "yes" }, "ENABLE_POD_ENI", /true or false/);
  assert.deepEqual(
    checkUpstreamEnv({ ENABLE_POD_ENI: "false", NETWORK_POLICY_ENFORCING_MODE: "none" }).length,
    2,
  );
});
