/** cmdGc: ipamd releases what is not in cni.dev/valid-attachments; we remove those pods' host side. */
import type { CniEnv } from "./args.ts";
import type { NetConf } from "./conf.ts";
import { IpamdClient } from "./ipamd_client.ts";
import type { Logger } from "./log.ts";
import { hostVethForIp, teardownHost } from "./teardown.ts";

/** GC. Returns nothing on success. */
export async function cmdGc(_env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  const client = new IpamdClient(conf.ipamdSocket);
  let released;
  try {
    released = (await client.gc({ netName: conf.name, valid: conf.validAttachments ?? [] })).released;
  } finally {
    client.close();
  }
  for (const r of released) {
    const ip = r.ipv6 || r.ipv4;
    const veth = hostVethForIp(ip, conf.vethPrefix);
    const t = teardownHost(veth, ip, log);
    log.info("gc released", {
      containerId: r.containerId,
      ifName: r.ifName,
      ip,
      hostVeth: veth,
      ...t,
    });
  }
}
