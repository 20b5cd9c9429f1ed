import assert from "node:assert/strict";
import { knownInstanceTypes, lookupInstanceType } from "../aws/instance_types.ts";
import { ConfigError } from "./config.ts";
import { checkPrefixDelegation } from "./prefix.ts";

Deno.test("checkPrefixDelegation: Nitro or disabled passes; Xen with it on is a ConfigError naming the type", () => {
  const types = knownInstanceTypes().map((n) => lookupInstanceType(n)!);
  assert.ok(types.some((t) => t.hypervisor === "xen"));
  for (const t of types) {
    checkPrefixDelegation(false, t);
    if (t.hypervisor === "nitro") checkPrefixDelegation(true, t);
    else {
      assert.throws(
        () => checkPrefixDelegation(true, t),
        (e) =>
          e instanceof ConfigError && e.variable === "ENABLE_PREFIX_DELEGATION" &&
          e.message.includes(t.instanceType) && /Nitro/.test(e.message) && /xen/.test(e.message),
      );
    }
  }
});
