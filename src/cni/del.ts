/**
 * cmdDel: release the IP at ipamd and remove the host side; succeeds whenever nothing is left to do. When
 * prevResult names the IP, the host side is torn down while ipamd works on the release (the request is on the
 * socket first): the veth's deletion waits on the kernel for ~20 ms, and ipamd's answer no longer adds to it.
 * @module
 */
import type { AttachmentKey } from "./api.ts";
import type { CniEnv } from "./args.ts";
import type { NetConf } from "./conf.ts";
import { IpamdClient, IpamdError, IpamdUnavailableError } from "./ipamd_client.ts";
import type { Logger } from "./log.ts";
import { findAttachment } from "./result.ts";
import { hostVethName } from "../common/veth_name.ts";
import { type Teardown, teardownHost } from "./teardown.ts";
import { trace } from "../common/phase_trace.ts";

/** ipamd's part of a DEL: the IP it released (if it held one), or the error the runtime must see. */
interface Release {
  ip?: string;
  failure?: IpamdError;
}

/** Asks ipamd to release the attachment; an unreachable or starting ipamd is logged, not an error. */
async function release(
  key: AttachmentKey,
  socket: string,
  log: Logger,
  onSent: () => void,
): Promise<Release> {
  const client = new IpamdClient(socket);
  try {
    const r = await client.delNetwork(key, onSent);
    trace.mark("ipamd");
    for (const [k, ms] of Object.entries(client.serverTiming)) trace.add(`ipamd/${k}`, ms);
    const released = r.ipv6 || r.ipv4;
    log.info("ipamd release", { released: r.released, ip: released });
    return r.released && released ? { ip: released } : {};
  } catch (e) {
    if (e instanceof IpamdUnavailableError || (e instanceof IpamdError && e.reason === "not_ready")) {
      log.warn("ipamd unavailable on DEL; tearing down the host side from prevResult", { err: e.message });
      return {};
    }
    if (e instanceof IpamdError) return { failure: e };
    throw e;
  } finally {
    client.close();
  }
}

/** DEL. Returns nothing (the spec's DEL prints nothing on success). */
export async function cmdDel(env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  const prev = conf.prevResult ? findAttachment(conf.prevResult, env.ifName) : {};
  const hostVeth = prev.hostVeth ?? hostVethName(conf.vethPrefix, {
    namespace: env.k8s.podNamespace,
    name: env.k8s.podName,
    containerId: env.containerId,
  });
  const key = { netName: conf.name, containerId: env.containerId, ifName: env.ifName };
  const sent = Promise.withResolvers<void>();
  const released = release(key, conf.ipamdSocket, log, sent.resolve);
  let t: Teardown | undefined;
  if (prev.ip) {
    await Promise.race([sent.promise, released]);
    t = teardownHost(hostVeth, prev.ip, log);
  }
  const r = await released;
  if (!t) t = teardownHost(hostVeth, r.ip ?? prev.ip, log);
  else if (r.ip && r.ip !== prev.ip) {
    // ipamd released another address than prevResult named: its rules go too.
    t.rulesDeleted += teardownHost(undefined, r.ip, log).rulesDeleted;
  }
  log.info("host side removed", { hostVeth, ...t });
  trace.mark("log");
  // ipamd answered with a real error: the runtime must retry so the IP does not leak.
  if (r.failure) throw r.failure;
}
