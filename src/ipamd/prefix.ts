/**
 * Prefix delegation start-up rule: `ENABLE_PREFIX_DELEGATION=true` needs a Nitro instance (EC2 refuses /28
 * prefixes elsewhere). Checked before any EC2 change so a misconfigured node fails at once, with a message
 * naming the variable, the instance type and its hypervisor.
 */
import { ConfigError } from "./config.ts";

/** Throws {@link ConfigError} when prefix delegation is on and the instance is not Nitro. */
export function checkPrefixDelegation(
  enabled: boolean,
  t: { instanceType: string; hypervisor: string },
): void {
  if (!enabled || t.hypervisor === "nitro") return;
  throw new ConfigError(
    "ENABLE_PREFIX_DELEGATION",
    "true",
    `false on ${t.instanceType}: prefix delegation needs a Nitro instance and this one is ${
      t.hypervisor || "not Nitro"
    }`,
  );
}
