/**
 * The ADD result, shaped for the requested cniVersion, and the reading of prevResult.
 *
 * Layout (every version): `interfaces[0]` is the host veth (no sandbox), `interfaces[1]` the pod interface
 * (with sandbox), `ips[0]` the pod's `IP/32` on interface 1 with gateway 169.254.1.1, one default route; an
 * IPv6 pod's is `IP/128` with gateway fe80::1 and a `::/0` route.
 * DEL and CHECK need only the host veth name and the IP from prevResult; the ENI's route table is not
 * encoded: DEL finds the policy rules by priority and IP, CHECK asks ipamd for the table.
 * @module
 */
import { CniError, Code, compareVersions, isSemver, isSupportedVersion } from "./spec.ts";

/** The link-local gateway every IPv4 pod routes through. */
export const GATEWAY = "169.254.1.1";
/** The link-local gateway every IPv6 pod routes through (upstream's). */
export const GATEWAY6 = "fe80::1";

/** What the pod's address family changes: gateway, host prefix length, default route. */
export interface FamilyWiring {
  family: 4 | 6;
  gateway: string;
  hostLen: 32 | 128;
  defaultDst: string;
}

const WIRING4: FamilyWiring = { family: 4, gateway: GATEWAY, hostLen: 32, defaultDst: "0.0.0.0/0" };
const WIRING6: FamilyWiring = { family: 6, gateway: GATEWAY6, hostLen: 128, defaultDst: "::/0" };

/** The wiring constants of `ip`'s family (IPv6 when the text has a colon). */
export function wiringOf(ip: string): FamilyWiring {
  return ip.includes(":") ? WIRING6 : WIRING4;
}

/** What ADD produced, independent of the wire version. */
export interface PodAttachment {
  hostVeth: { name: string; mac: string; mtu: number };
  pod: { name: string; mac: string; sandbox: string; mtu: number };
  /** Pod address (no prefix), IPv4 or IPv6. */
  ip: string;
}

/** Renders the spec result for `cniVersion` (0.3.x/0.4.0 carry `ips[].version`; 1.1.0 adds `mtu`). */
export function formatResult(a: PodAttachment, cniVersion: string): Record<string, unknown> {
  const w = wiringOf(a.ip);
  const v1 = compareVersions(cniVersion, "1.0.0") >= 0;
  const v11 = compareVersions(cniVersion, "1.1.0") >= 0;
  const host: Record<string, unknown> = { name: a.hostVeth.name, mac: a.hostVeth.mac };
  const pod: Record<string, unknown> = { name: a.pod.name, mac: a.pod.mac, sandbox: a.pod.sandbox };
  if (v11) {
    host.mtu = a.hostVeth.mtu;
    pod.mtu = a.pod.mtu;
  }
  const ip: Record<string, unknown> = { address: `${a.ip}/${w.hostLen}`, gateway: w.gateway, interface: 1 };
  if (!v1) ip.version = String(w.family);
  return {
    cniVersion,
    interfaces: [host, pod],
    ips: [ip],
    routes: [{ dst: w.defaultDst, gw: w.gateway }],
    dns: {},
  };
}

/** What DEL/CHECK can learn from a prevResult. */
export interface PrevResult {
  cniVersion?: string;
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { address: string; gateway?: string; interface?: number }[];
  routes: { dst: string; gw?: string }[];
}

function bad(field: string, why: string): never {
  throw new CniError(Code.INVALID_CONFIG, `network config: prevResult.${field} ${why}`);
}
function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const CIDR6 = /^[0-9a-fA-F:.]+\/\d{1,3}$/;
const IP4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Whether `s` is a dotted-quad IPv4 address. */
export function isIp4(s: string): boolean {
  const m = s.match(IP4);
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}
/** Whether `s` is an IPv6 address (RFC 4291 text, no zone). */
export function isIp6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => h === "" ? [] : h.split(":"));
  const v4 = groups.length > 0 && groups[groups.length - 1].includes(".");
  if (v4 && !isIp4(groups.pop()!)) return false;
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const n = groups.length + (v4 ? 2 : 0);
  return halves.length === 2 ? n <= 7 : n === 8;
}
function isCidr(s: string): boolean {
  const m = s.match(CIDR4);
  if (m) return isIp4(s.slice(0, s.indexOf("/"))) && Number(m[5]) <= 32;
  return CIDR6.test(s) && s.includes(":");
}
function isIp(s: string): boolean {
  return isIp4(s) || /^[0-9a-fA-F:.]+$/.test(s) && s.includes(":");
}

/** Validates a prevResult's shape (code 7 naming the field) and returns its typed view. */
export function parsePrevResult(raw: unknown): PrevResult {
  if (!isObj(raw)) bad("", "is not an object");
  const out: PrevResult = { interfaces: [], ips: [], routes: [] };
  if (raw.cniVersion !== undefined) {
    if (!isSemver(raw.cniVersion) || !isSupportedVersion(raw.cniVersion)) {
      bad("cniVersion", `${JSON.stringify(raw.cniVersion)} is not a supported version`);
    }
    out.cniVersion = raw.cniVersion;
  }
  const arr = (k: string): unknown[] => {
    const v = raw[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) bad(k, "is not a list");
    return v;
  };
  arr("interfaces").forEach((x, i) => {
    const f = `interfaces[${i}]`;
    if (!isObj(x)) bad(f, "is not an object");
    if (typeof x.name !== "string" || x.name === "") bad(`${f}.name`, "is not a non-empty string");
    for (const k of ["mac", "sandbox"] as const) {
      if (x[k] !== undefined && typeof x[k] !== "string") bad(`${f}.${k}`, "is not a string");
    }
    out.interfaces.push({
      name: x.name,
      mac: x.mac as string | undefined,
      sandbox: x.sandbox as string | undefined,
    });
  });
  arr("ips").forEach((x, i) => {
    const f = `ips[${i}]`;
    if (!isObj(x)) bad(f, "is not an object");
    if (typeof x.address !== "string" || !isCidr(x.address)) bad(`${f}.address`, "is not an address/prefix");
    if (x.gateway !== undefined && (typeof x.gateway !== "string" || !isIp(x.gateway))) {
      bad(`${f}.gateway`, "is not an IP address");
    }
    if (x.interface !== undefined) {
      const n = x.interface;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= out.interfaces.length) {
        bad(`${f}.interface`, "is not an index into interfaces");
      }
    }
    if (x.version !== undefined && x.version !== "4" && x.version !== "6") {
      bad(`${f}.version`, `is not "4" or "6"`);
    }
    out.ips.push({
      address: x.address,
      gateway: x.gateway as string | undefined,
      interface: x.interface as number | undefined,
    });
  });
  arr("routes").forEach((x, i) => {
    const f = `routes[${i}]`;
    if (!isObj(x)) bad(f, "is not an object");
    if (typeof x.dst !== "string" || !isCidr(x.dst)) bad(`${f}.dst`, "is not an address/prefix");
    if (x.gw !== undefined && (typeof x.gw !== "string" || !isIp(x.gw))) {
      bad(`${f}.gw`, "is not an IP address");
    }
    out.routes.push({ dst: x.dst, gw: x.gw as string | undefined });
  });
  return out;
}

/** What of ours a prevResult names: the host veth, the pod interface and the pod's address. */
export interface OurAttachment {
  hostVeth?: string;
  podMac?: string;
  hostMac?: string;
  /** The pod's address (no prefix), IPv4 or IPv6. */
  ip?: string;
}

/**
 * Finds our attachment in a prevResult: the pod interface named `ifName` (with a sandbox), the first
 * interface without a sandbox as the host veth, and the pod interface's address: its IPv4 if it has one (an
 * IPv4 pod), else its IPv6 (an IPv6 pod).
 */
export function findAttachment(p: PrevResult, ifName: string): OurAttachment {
  const out: OurAttachment = {};
  const podIdx = p.interfaces.findIndex((i) => i.name === ifName && i.sandbox);
  const host = p.interfaces.find((i) => !i.sandbox);
  if (host) {
    out.hostVeth = host.name;
    out.hostMac = host.mac;
  }
  if (podIdx >= 0) out.podMac = p.interfaces[podIdx].mac;
  const mine = p.ips.filter((x) => x.interface === undefined || podIdx < 0 || x.interface === podIdx);
  const ip = mine.find((x) => CIDR4.test(x.address)) ?? mine.find((x) => x.address.includes(":"));
  if (ip) out.ip = ip.address.slice(0, ip.address.indexOf("/"));
  return out;
}
