/** cmdCheck: the wiring and ipamd's record still match prevResult. */
import { MAIN_TABLE } from "../common/routing.ts";
import type { CniEnv } from "./args.ts";
import type { NetConf } from "./conf.ts";
import { IpamdClient } from "./ipamd_client.ts";
import type { Logger } from "./log.ts";
import { findAttachment } from "./result.ts";
import { CniError, Code } from "./spec.ts";
import { openPodNs } from "./wiring.ts";
import { checkWiring } from "./wiring_check.ts";

/** CHECK: throws code 105 listing every mismatch. */
export async function cmdCheck(env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  if (!conf.prevResult) throw new CniError(Code.INVALID_CONFIG, "network config: CHECK needs prevResult");
  const prev = findAttachment(conf.prevResult, env.ifName);
  if (!prev.hostVeth) {
    throw new CniError(Code.INVALID_CONFIG, "network config: prevResult.interfaces has no host veth");
  }
  if (!prev.ip) {
    throw new CniError(
      Code.INVALID_CONFIG,
      `network config: prevResult.ips has no address for ${env.ifName}`,
    );
  }
  // A CNI_NETNS that is gone or not a namespace is the runtime's error (code 3): say so before asking ipamd.
  openPodNs(env.netns).close();
  const client = new IpamdClient(conf.ipamdSocket);
  let routeTable: number;
  try {
    const r = await client.checkNetwork({
      netName: conf.name,
      containerId: env.containerId,
      ifName: env.ifName,
    });
    if (!r.held) {
      throw new CniError(
        Code.CHECK_MISMATCH,
        `ipamd does not hold an IP for ${env.containerId}/${env.ifName}`,
      );
    }
    const held = r.ipv6 || r.ipv4;
    if (held && held !== prev.ip) {
      throw new CniError(Code.CHECK_MISMATCH, `ipamd holds ${held}, prevResult says ${prev.ip}`);
    }
    routeTable = r.routeTable ?? MAIN_TABLE;
  } finally {
    client.close();
  }
  const problems = checkWiring({
    hostVeth: prev.hostVeth,
    ifName: env.ifName,
    netnsPath: env.netns,
    ip: prev.ip,
    routeTable,
    mtu: 0,
    hostMac: prev.hostMac,
    podMac: prev.podMac,
  });
  if (problems.length) {
    log.warn("check failed", { problems });
    throw new CniError(Code.CHECK_MISMATCH, problems.join("; "));
  }
  log.debug("check passed", { ip: prev.ip });
}
