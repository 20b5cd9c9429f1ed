/** cmdAdd: ask ipamd for an IP, wire the pod, and undo everything (and release the IP) on failure. */
import type { AddNetworkRequest, AttachmentKey } from "./api.ts";
import type { CniEnv } from "./args.ts";
import type { NetConf } from "./conf.ts";
import { IpamdClient } from "./ipamd_client.ts";
import type { Logger } from "./log.ts";
import { formatResult } from "./result.ts";
import { CniError, Code } from "./spec.ts";
import { hostVethName } from "../common/veth_name.ts";
import { assertNoPodInterface, wirePod } from "./wiring.ts";
import { isIp4, isIp6 } from "./result.ts";
import { trace } from "../common/phase_trace.ts";

/** The pod MTU: the config's, else ipamd's, else 9001. */
export function podMtu(confMtu: number | undefined, ipamdMtu: unknown): number {
  if (confMtu !== undefined) return confMtu;
  if (typeof ipamdMtu === "number" && Number.isInteger(ipamdMtu) && ipamdMtu >= 576 && ipamdMtu <= 9001) {
    return ipamdMtu;
  }
  return 9001;
}

/** ADD: returns the result object shaped for conf.cniVersion. */
export async function cmdAdd(env: CniEnv, conf: NetConf, log: Logger): Promise<Record<string, unknown>> {
  // Checked before ipamd: a repeated ADD must not make ipamd hand out (and us release) the live pod's IP.
  assertNoPodInterface(env.netns, env.ifName);
  const hostVeth = hostVethName(conf.vethPrefix, {
    namespace: env.k8s.podNamespace,
    name: env.k8s.podName,
    containerId: env.containerId,
  });
  const key: AttachmentKey = { netName: conf.name, containerId: env.containerId, ifName: env.ifName };
  const req: AddNetworkRequest = { ...key, netns: env.netns };
  if (env.k8s.podNamespace) req.k8sPodNamespace = env.k8s.podNamespace;
  if (env.k8s.podName) req.k8sPodName = env.k8s.podName;
  if (env.k8s.podUid) req.k8sPodUid = env.k8s.podUid;

  const client = new IpamdClient(conf.ipamdSocket);
  try {
    const reply = await client.addNetwork(req);
    trace.mark("ipamd");
    for (const [k, ms] of Object.entries(client.serverTiming)) trace.add(`ipamd/${k}`, ms);
    const ip = reply.ipv6 || reply.ipv4;
    log.info("ipamd assigned", { ip, routeTable: reply.routeTable, eni: reply.eniId, hostVeth });
    trace.mark("log");
    try {
      if (reply.ipv6 ? !isIp6(reply.ipv6) : !isIp4(reply.ipv4)) {
        throw new CniError(Code.IPAMD_PROTOCOL, `ipamd gave a bad address "${ip}"`);
      }
      const mtu = podMtu(conf.mtu, reply.mtu);
      const spec = {
        hostVeth,
        ifName: env.ifName,
        netnsPath: env.netns,
        ip,
        routeTable: reply.routeTable,
        mtu,
      };
      const att = wirePod(spec, log);
      if (reply.ipv6) {
        try {
          await (await import("./ipv6_settle.ts")).settleIpv6(spec);
        } catch (e) {
          (await import("./teardown.ts")).teardownHost(hostVeth, ip, log);
          throw e;
        }
      }
      log.info("pod wired", { ip, hostVeth, hostMac: att.hostVeth.mac, mtu });
      trace.mark("log");
      return formatResult(att, conf.cniVersion);
    } catch (e) {
      log.error("wiring failed, releasing the IP", { ip, err: (e as Error).message });
      try {
        await client.delNetwork(key);
      } catch (r) {
        log.error("release after failed ADD failed", { ip, err: (r as Error).message });
      }
      throw e;
    }
  } finally {
    client.close();
  }
}
