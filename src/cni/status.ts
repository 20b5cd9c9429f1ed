/** cmdStatus: code 50 unless ipamd answers that it is ready. Needs no netlink. */
import type { CniEnv } from "./args.ts";
import type { NetConf } from "./conf.ts";
import { IpamdClient } from "./ipamd_client.ts";
import type { Logger } from "./log.ts";
import { CniError, Code } from "./spec.ts";

/** STATUS. Returns nothing when ready. */
export async function cmdStatus(_env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  const client = new IpamdClient(conf.ipamdSocket);
  try {
    await client.status();
  } catch (e) {
    const err = e as Error & { details?: string };
    log.warn("ipamd not available", { err: err.message });
    throw new CniError(Code.NOT_AVAILABLE, `ipamd not available: ${err.message}`, err.details ?? "", {
      cause: e,
    });
  } finally {
    client.close();
  }
}
