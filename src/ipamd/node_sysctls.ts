/**
 * The node sysctls the init container sets (`ipamd install --init`; the lab's node agent sets the same).
 * @module
 */
import { ConfigError } from "./config.ts";

/** The interface of the main table's default route (the primary ENI); throws when there is none. */
export async function primaryInterface(): Promise<string> {
  const { Netlink } = await import("../../ffi/mod.ts");
  const nl = Netlink.open();
  try {
    const def = nl.routeList().find((r) => r.dst === "default" && r.ifindex !== undefined);
    if (!def) throw new Error("no default route in the main table; pass --primary-if");
    return nl.linkByIndex(def.ifindex!).name;
  } finally {
    nl.close();
  }
}

/**
 * The init sysctls: `rp_filter=2` (loose) on the primary interface, since replies to pods on secondary ENIs
 * leave through another interface than the one the request came in on; `ip_forward=1` (pods are routed by the
 * host); `tcp_early_demux=0` when `DISABLE_TCP_EARLY_DEMUX=true`. With `ENABLE_IPv6=true`, as upstream's init:
 * IPv6 on (`all.disable_ipv6=0`), forwarded (`all.forwarding=1`), and router advertisements still accepted on
 * the primary interface (`accept_ra=2`, which forwarding would otherwise turn off).
 */
export function initSysctls(
  primaryIf: string,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {
    [`net/ipv4/conf/${primaryIf}/rp_filter`]: "2",
    "net/ipv4/ip_forward": "1",
  };
  const demux = (env.DISABLE_TCP_EARLY_DEMUX ?? "").trim().toLowerCase();
  if (demux === "true" || demux === "1") out["net/ipv4/tcp_early_demux"] = "0";
  else if (demux !== "" && demux !== "false" && demux !== "0") {
    throw new ConfigError("DISABLE_TCP_EARLY_DEMUX", env.DISABLE_TCP_EARLY_DEMUX ?? "", "true or false");
  }
  const v6 = (env.ENABLE_IPv6 ?? "").trim().toLowerCase();
  if (v6 === "true" || v6 === "1") {
    out["net/ipv6/conf/all/disable_ipv6"] = "0";
    out["net/ipv6/conf/all/forwarding"] = "1";
    out[`net/ipv6/conf/${primaryIf}/accept_ra`] = "2";
  } else if (v6 !== "" && v6 !== "false" && v6 !== "0") {
    throw new ConfigError("ENABLE_IPv6", env.ENABLE_IPv6 ?? "", "true or false");
  }
  return out;
}
