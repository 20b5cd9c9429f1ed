/** cmdDel: release the IP at ipamd and remove the host side; succeeds whenever nothing is left to do. */
import type { CniEnv } from "./args.ts";
import type { NetConf } from "./conf.ts";
import { IpamdClient, IpamdError, IpamdUnavailableError } from "./ipamd_client.ts";
import type { Logger } from "./log.ts";
import { findAttachment } from "./result.ts";
import { hostVethName } from "../common/veth_name.ts";
import { teardownHost } from "./teardown.ts";
import { trace } from "../common/phase_trace.ts";

/** DEL. Returns nothing (the spec's DEL prints nothing on success). */
export async function cmdDel(env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  const prev = conf.prevResult ? findAttachment(conf.prevResult, env.ifName) : {};
  const hostVeth = prev.hostVeth ?? hostVethName(conf.vethPrefix, {
    namespace: env.k8s.podNamespace,
    name: env.k8s.podName,
    containerId: env.containerId,
  });
  const key = { netName: conf.name, containerId: env.containerId, ifName: env.ifName };
  let ip = prev.ip;
  let failure: IpamdError | undefined;
  const client = new IpamdClient(conf.ipamdSocket);
  try {
    const r = await client.delNetwork(key);
    trace.mark("ipamd");
    for (const [k, ms] of Object.entries(client.serverTiming)) trace.add(`ipamd/${k}`, ms);
    const released = r.ipv6 || r.ipv4;
    log.info("ipamd release", { released: r.released, ip: released });
    trace.mark("log");
    if (r.released && released) ip = released;
  } catch (e) {
    if (e instanceof IpamdUnavailableError || (e instanceof IpamdError && e.reason === "not_ready")) {
      log.warn("ipamd unavailable on DEL; tearing down the host side from prevResult", { err: e.message });
    } else if (e instanceof IpamdError) {
      failure = e;
    } else throw e;
  } finally {
    client.close();
  }
  const t = teardownHost(hostVeth, ip, log);
  log.info("host side removed", { hostVeth, ...t });
  trace.mark("log");
  // ipamd answered with a real error: the runtime must retry so the IP does not leak.
  if (failure) throw failure;
}
