/**
 * egress-cni's verbs. ADD reserves a node-local IPv4 (host_local.ts), wires `v4if0` (wiring.ts), SNATs it to
 * the node's IPv4 (snat.ts) and prints the previous result with the two new interfaces appended (no IPs, as
 * upstream: the pod's address stays its IPv6). DEL releases and removes all three; CHECK compares; GC
 * releases what the runtime no longer knows. With `enabled` not "true" ADD passes the result through and the
 * rest do nothing.
 * @module
 */
import type { CniEnv } from "../cni/args.ts";
import type { Logger } from "../cni/log.ts";
import { CniError, Code } from "../cni/spec.ts";
import type { EgressConf } from "./conf.ts";
import { HostLocalStore } from "./host_local.ts";
import { addSnat, delSnat, hasSnat } from "./snat.ts";
import { egressState, unwireEgress, wireEgress } from "./wiring.ts";

const store = (c: EgressConf) => new HostLocalStore(c.dataDir, c.name);
/** The iptables backend ipamd uses (the conflist's `iptablesBackend`), else the host's plain `iptables`. */
const ipt = (c: EgressConf) => ({ backend: c.iptablesBackend });

/** ADD: the previous result with egress-cni's host and pod interfaces appended. */
export async function cmdAdd(env: CniEnv, c: EgressConf, log: Logger): Promise<Record<string, unknown>> {
  if (!c.rawPrevResult) {
    throw new CniError(
      Code.INVALID_CONFIG,
      "network config: egress-cni must be chained after aws-cni (no prevResult)",
    );
  }
  const prev: Record<string, unknown> = { ...c.rawPrevResult, cniVersion: c.cniVersion };
  if (!c.enabled) return prev;
  if (!c.nodeIp) throw new CniError(Code.INVALID_CONFIG, "network config: nodeIP is required when enabled");
  const ip = await store(c).reserve(c.range, env.containerId, env.ifName).catch((e) => {
    throw new CniError(Code.INTERNAL, `egress IPAM: ${(e as Error).message}`, "", { cause: e });
  });
  log.info("egress address reserved", { ip, range: `${c.range.rangeStart}-${c.range.rangeEnd}` });
  try {
    const made = wireEgress(
      {
        netnsPath: env.netns,
        podIp: ip,
        subnet: c.range.subnet,
        gateway: c.range.gateway,
        routes: c.routes,
        mtu: c.mtu,
      },
      log,
    );
    await addSnat({
      network: c.name,
      containerId: env.containerId,
      podIp: ip,
      nodeIp: c.nodeIp,
      randomize: c.randomizeSnat,
    }, ipt(c)).catch((e) => {
      throw new CniError(Code.INTERNAL, `egress SNAT: ${(e as Error).message}`, "", { cause: e });
    });
    log.info("egress wired", { ip, hostVeth: made.host.name, snatTo: c.nodeIp });
    const interfaces = Array.isArray(prev.interfaces) ? prev.interfaces : [];
    return { ...prev, interfaces: [...interfaces, made.host, made.pod] };
  } catch (e) {
    log.error("egress ADD failed, undoing", { ip, err: (e as Error).message });
    try {
      unwireEgress(env.netns);
      await delSnat(c.name, env.containerId, ipt(c));
    } finally {
      await store(c).release(env.containerId, env.ifName);
    }
    throw e;
  }
}

/** DEL: releases the address, deletes v4if0 and the SNAT chain; succeeds when all are already gone. */
export async function cmdDel(env: CniEnv, c: EgressConf, log: Logger): Promise<void> {
  if (!c.enabled) return;
  const released = await store(c).release(env.containerId, env.ifName);
  const onLink = unwireEgress(env.netns);
  const snat = await delSnat(c.name, env.containerId, ipt(c));
  log.info("egress removed", { released, onLink, snatRemoved: snat });
}

/** CHECK: the reservation, v4if0 with it and the default route, and the SNAT jump exist (code 105 otherwise). */
export async function cmdCheck(env: CniEnv, c: EgressConf, _log: Logger): Promise<void> {
  if (!c.enabled) return;
  const mine = (await store(c).list()).find((r) =>
    r.containerId === env.containerId && r.ifName === env.ifName
  );
  const bad: string[] = [];
  if (!mine) bad.push(`no egress address reserved for ${env.containerId}/${env.ifName}`);
  const st = egressState(env.netns);
  if (!st) bad.push("v4if0 is missing");
  else {
    if (mine && !st.ips.includes(mine.ip)) bad.push(`v4if0 lacks ${mine.ip}`);
    if (c.routes.includes("0.0.0.0/0") && st.defaultVia !== c.range.gateway) {
      bad.push(`default route via ${c.range.gateway} is missing`);
    }
  }
  if (mine && !(await hasSnat(c.name, env.containerId, mine.ip, ipt(c)))) {
    bad.push(`SNAT for ${mine.ip} is missing`);
  }
  if (bad.length) throw new CniError(Code.CHECK_MISMATCH, bad.join("; "));
}

/** GC: releases reservations (and their SNAT chains) of attachments not in the valid list. */
export async function cmdGc(_env: CniEnv, c: EgressConf, log: Logger): Promise<void> {
  if (!c.enabled) return;
  const valid = new Set((c.validAttachments ?? []).map((a) => `${a.containerId}\u0000${a.ifName}`));
  for (const r of await store(c).list()) {
    if (valid.has(`${r.containerId}\u0000${r.ifName}`)) continue;
    await store(c).release(r.containerId, r.ifName);
    await delSnat(c.name, r.containerId, ipt(c));
    log.info("egress gc released", { ...r });
  }
}
