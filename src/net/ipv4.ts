/** Pure IPv4 and CIDR helpers. Addresses are dotted quads; numbers are unsigned 32-bit. */

/** Parses "a.b.c.d" to an unsigned 32-bit number; throws RangeError on anything else. */
export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: "${ip}"`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new RangeError(`not an IPv4 address: "${ip}"`);
    n = n * 256 + Number(p);
  }
  return n;
}

/** Formats an unsigned 32-bit number as "a.b.c.d". */
export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Whether `ip` is a dotted-quad IPv4 address. */
export function isIpv4(ip: string): boolean {
  try {
    ipToInt(ip);
    return true;
  } catch {
    return false;
  }
}

export interface Cidr {
  /** Network address (host bits cleared). */
  network: string;
  prefixLen: number;
}

/** Parses "a.b.c.d/len" (a bare address means /32); the network address has host bits cleared. */
export function parseCidr(cidr: string): Cidr {
  const [ip, len, extra] = cidr.split("/");
  if (extra !== undefined) throw new RangeError(`not an IPv4 CIDR: "${cidr}"`);
  const prefixLen = len === undefined ? 32 : Number(len);
  if (
    !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32 ||
    (len !== undefined && !/^\d+$/.test(len))
  ) {
    throw new RangeError(`not an IPv4 CIDR: "${cidr}"`);
  }
  return { network: intToIp((ipToInt(ip) & maskOf(prefixLen)) >>> 0), prefixLen };
}

/** The netmask of a prefix length as a number. */
export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Whether `ip` lies inside `cidr`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  return ((ipToInt(ip) & maskOf(c.prefixLen)) >>> 0) === ipToInt(c.network);
}

/** Number of addresses in the block. */
export function cidrSize(cidr: string): number {
  return 2 ** (32 - parseCidr(cidr).prefixLen);
}

/** The n-th address of the block (0 is the network address). */
export function nthAddress(cidr: string, n: number): string {
  const c = parseCidr(cidr);
  if (n < 0 || n >= 2 ** (32 - c.prefixLen)) throw new RangeError(`${n} is outside ${cidr}`);
  return intToIp(ipToInt(c.network) + n);
}

/** The subnet's gateway as EC2 places it: the block's first host address (".1"). */
export function subnetGateway(cidr: string): string {
  return nthAddress(cidr, 1);
}

/** All addresses of a block, e.g. the 16 of a /28 prefix. */
export function expandCidr(cidr: string): string[] {
  const c = parseCidr(cidr);
  const base = ipToInt(c.network);
  return Array.from({ length: 2 ** (32 - c.prefixLen) }, (_, i) => intToIp(base + i));
}
