/**
 * Pure IPv6 and IPv6-CIDR helpers over BigInt (128-bit). Text is read in any RFC 4291 form and written in
 * RFC 5952's canonical form (the text forms are ffi/parse.ts's, which has no FFI in it).
 */
import { formatIpv6, parseIpv6 } from "../../ffi/parse.ts";

/** An IPv6 block: its network address (host bits clear) and prefix length. */
export interface Cidr6 {
  network: bigint;
  prefixLen: number;
}

/** Parses an IPv6 address to a 128-bit number; TypeError on anything else. */
export function ip6ToBig(ip: string): bigint {
  let n = 0n;
  for (const b of parseIpv6(ip)) n = (n << 8n) | BigInt(b);
  return n;
}

/** Formats a 128-bit number as canonical IPv6 text. */
export function bigToIp6(n: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, n >>= 8n) b[i] = Number(n & 0xffn);
  return formatIpv6(b);
}

/** Whether `s` is IPv6 text. */
export function isIpv6(s: string): boolean {
  try {
    ip6ToBig(s);
    return true;
  } catch {
    return false;
  }
}

/** Parses `addr/len` (a bare address is /128); host bits are cleared. */
export function parseCidr6(cidr: string): Cidr6 {
  const [ip, len, extra] = cidr.split("/");
  const prefixLen = len === undefined ? 128 : Number(len);
  if (
    extra !== undefined || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 128 ||
    (len !== undefined && !/^\d+$/.test(len))
  ) {
    throw new RangeError(`not an IPv6 CIDR: "${cidr}"`);
  }
  const host = (1n << BigInt(128 - prefixLen)) - 1n;
  return { network: ip6ToBig(ip) & ~host, prefixLen };
}

/** Formats a block as `addr/len`. */
export function formatCidr6(c: Cidr6): string {
  return `${bigToIp6(c.network)}/${c.prefixLen}`;
}

/** Canonical text of a block (`2600:1F13::/80` → `2600:1f13::/80`). */
export function normalizeCidr6(cidr: string): string {
  return formatCidr6(parseCidr6(cidr));
}

/** Whether `ip` lies inside `cidr`. */
export function cidr6Contains(cidr: string, ip: string): boolean {
  const c = parseCidr6(cidr);
  return (ip6ToBig(ip) >> BigInt(128 - c.prefixLen)) === (c.network >> BigInt(128 - c.prefixLen));
}

/** The n-th address of the block (0 is the network address); RangeError outside it. */
export function nthAddress6(cidr: string, n: bigint): string {
  const c = parseCidr6(cidr);
  if (n < 0n || n >= 1n << BigInt(128 - c.prefixLen)) throw new RangeError(`${n} is outside ${cidr}`);
  return bigToIp6(c.network + n);
}

/** The offset of `ip` in `cidr` (its n for {@link nthAddress6}); RangeError outside it. */
export function offsetIn6(cidr: string, ip: string): bigint {
  if (!cidr6Contains(cidr, ip)) throw new RangeError(`${ip} is outside ${cidr}`);
  return ip6ToBig(ip) - parseCidr6(cidr).network;
}

/** The n-th `/len` block inside `cidr` (e.g. the 5th /80 of a /64). */
export function nthSubnet6(cidr: string, len: number, n: bigint): string {
  const c = parseCidr6(cidr);
  if (len < c.prefixLen || n < 0n || n >= 1n << BigInt(len - c.prefixLen)) {
    throw new RangeError(`no /${len} number ${n} in ${cidr}`);
  }
  return formatCidr6({ network: c.network + (n << BigInt(128 - len)), prefixLen: len });
}
