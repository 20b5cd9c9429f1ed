/**
 * egress-cni entry: `deno run --allow-all src/egress/main.ts`, chained after aws-cni in `10-aws.conflist` in
 * IPv6 mode (upstream's `egress-cni` plugin, IPv4 egress of IPv6 pods). Same rules as aws-cni: no npm imports,
 * libnl loaded only by the commands that need it, spec error JSON on stdout.
 * @module
 */
import type { CniEnv } from "../cni/args.ts";
import type { Logger } from "../cni/log.ts";
import { type Dispatch, pluginMain, runPlugin } from "../cni/main.ts";
import { CniError, Code } from "../cni/spec.ts";
import { type EgressConf, parseEgressConf } from "./conf.ts";

/** Dispatches a parsed command (command code loaded on demand). */
export const egressDispatch: Dispatch<EgressConf> = async (env: CniEnv, conf: EgressConf, log: Logger) => {
  switch (env.command) {
    case "ADD":
      return (await import("./commands.ts")).cmdAdd(env, conf, log);
    case "DEL":
      return (await import("./commands.ts")).cmdDel(env, conf, log);
    case "CHECK":
      return (await import("./commands.ts")).cmdCheck(env, conf, log);
    case "GC":
      return (await import("./commands.ts")).cmdGc(env, conf, log);
    case "STATUS":
      return;
    default:
      throw new CniError(Code.INVALID_ENV, `CNI_COMMAND "${env.command}" is unknown`);
  }
};

if (import.meta.main) {
  await pluginMain((vars, stdin) => runPlugin(vars, stdin, parseEgressConf, egressDispatch));
}
