/**
 * Input validation for the binding: IPv4 addresses, CIDRs and MACs are parsed here,
 * before any syscall, throwing TypeError (unparsable) or RangeError (out of range).
 *
 * @module
 */

/** A parsed IPv4 prefix. */
export interface Cidr4 {
  bytes: Uint8Array<ArrayBuffer>;
  prefixLen: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parse a dotted-quad IPv4 address. */
export function parseIpv4(s: string, what = "IPv4 address"): Uint8Array<ArrayBuffer> {
  const m = typeof s === "string" ? IPV4.exec(s) : null;
  if (!m) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) throw new RangeError(`invalid ${what}: ${s} (octet ${n} > 255)`);
    out[i] = n;
  }
  return out;
}

/** Parse `a.b.c.d/len`; with `bareIsHost`, a bare address means /32. */
export function parseCidr4(s: string, what = "IPv4 CIDR", bareIsHost = false): Cidr4 {
  if (typeof s !== "string") throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  const slash = s.indexOf("/");
  if (slash < 0) {
    if (!bareIsHost) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)} (want a.b.c.d/len)`);
    return { bytes: parseIpv4(s, what), prefixLen: 32 };
  }
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,2}$/.test(lenText)) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  const prefixLen = Number(lenText);
  if (prefixLen > 32) throw new RangeError(`invalid ${what}: ${s} (prefix length > 32)`);
  return { bytes: parseIpv4(s.slice(0, slash), what), prefixLen };
}

/** True when `c` has no bits set beyond its prefix. */
export function isNetwork(c: Cidr4): boolean {
  const v = ((c.bytes[0] << 24) | (c.bytes[1] << 16) | (c.bytes[2] << 8) | c.bytes[3]) >>> 0;
  const mask = c.prefixLen === 0 ? 0 : (0xffffffff << (32 - c.prefixLen)) >>> 0;
  return ((v & ~mask) >>> 0) === 0;
}

const MAC = /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/;

/** Parse `aa:bb:cc:dd:ee:ff` (or with `-`). */
export function parseMac(s: string): Uint8Array<ArrayBuffer> {
  if (typeof s !== "string" || !MAC.test(s)) throw new TypeError(`invalid MAC address: ${JSON.stringify(s)}`);
  return new Uint8Array(s.split(/[:-]/).map((h) => parseInt(h, 16)));
}

/** Format 4 bytes as dotted quad. */
export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Format bytes as lower-case colon-separated hex. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Check a Linux interface name (1..15 bytes, no `/`, whitespace or `:`). */
export function checkIfName(name: string, what = "interface name"): string {
  if (typeof name !== "string" || name.length === 0 || new TextEncoder().encode(name).length > 15) {
    throw new TypeError(`invalid ${what}: ${JSON.stringify(name)} (1..15 bytes)`);
  }
  if (/[\/\s:]/.test(name) || name === "." || name === "..") {
    throw new TypeError(`invalid ${what}: ${JSON.stringify(name)}`);
  }
  return name;
}

/** Check an unsigned 32-bit integer. */
export function checkU32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`invalid ${what}: ${n}`);
  return n;
}

/** Check an interface index (positive int32). */
export function checkIfindex(n: number): number {
  if (!Number.isInteger(n) || n <= 0 || n > 0x7fffffff) throw new RangeError(`invalid ifindex: ${n}`);
  return n;
}
