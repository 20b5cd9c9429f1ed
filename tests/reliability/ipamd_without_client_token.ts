/**
 * The EC2 churn test's control: ipamd exactly as `src/ipamd/main.ts run` starts it, with a double around its
 * EC2 port that drops every ClientToken (the SDK then makes up a new one per attempt, as for a caller that
 * sends none). The lab runs this module instead of src/ipamd/main.ts (`ipamdEntry`).
 * @module
 */
import type { CreateNetworkInterfaceInput, Ec2Port } from "../../src/aws/ec2_port.ts";
import { runIpamd } from "../../src/ipamd/daemon_run.ts";

/** `port` with every CreateNetworkInterface sent without its ClientToken. */
export function withoutClientToken(port: Ec2Port): Ec2Port {
  return new Proxy(port, {
    get(target, key) {
      if (key === "createNetworkInterface") {
        return (input: CreateNetworkInterfaceInput) =>
          target.createNetworkInterface({ ...input, clientToken: undefined });
      }
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

if (import.meta.main) Deno.exit(await runIpamd(Deno.env.toObject(), { ec2: withoutClientToken }));
