/**
 * Input validation for the binding: IPv4 and IPv6 addresses, CIDRs and MACs are parsed
 * here, before any syscall, throwing TypeError (unparsable) or RangeError (out of range).
 * IPv6 text is read in every RFC 4291 form (`::`, embedded IPv4) and written in RFC 5952's
 * canonical form (lower case, longest zero run compressed).
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

/** True when `c` has no bits set beyond its prefix (IPv4 or IPv6). */
export function isNetwork(c: { bytes: Uint8Array; prefixLen: number }): boolean {
  for (let bit = c.prefixLen; bit < c.bytes.length * 8; bit++) {
    if (c.bytes[bit >> 3] & (0x80 >> (bit & 7))) return false;
  }
  return true;
}

/** An address family: 4 (AF_INET) or 6 (AF_INET6). */
export type Family = 4 | 6;

/** A parsed IPv4 or IPv6 prefix. */
export interface Cidr {
  family: Family;
  bytes: Uint8Array<ArrayBuffer>;
  prefixLen: number;
}

/** Parse an IPv6 address (no zone, no prefix). */
export function parseIpv6(s: string, what = "IPv6 address"): Uint8Array<ArrayBuffer> {
  const bad = (why = ""): never => {
    throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}${why}`);
  };
  if (typeof s !== "string" || !/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) bad();
  const halves = s.split("::");
  if (halves.length > 2) bad(" (more than one ::)");
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    items.forEach((g, i) => {
      if (g.includes(".")) {
        if (i !== items.length - 1) bad(" (IPv4 part not last)");
        const v4 = parseIpv4(g, what);
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
        out.push(parseInt(g, 16));
      }
    });
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (halves.length === 2 && halves[1].startsWith(".")) bad();
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) bad(" (wrong number of groups)");
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Format 16 bytes as RFC 5952 text. */
export function formatIpv6(b: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => (b[2 * i] << 8) | b[2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Parse an IPv4 or IPv6 address. */
export function parseIp(s: string, what = "IP address"): { family: Family; bytes: Uint8Array<ArrayBuffer> } {
  if (typeof s === "string" && s.includes(":")) return { family: 6, bytes: parseIpv6(s, what) };
  return { family: 4, bytes: parseIpv4(s, what) };
}

/** Parse `addr/len` of either family; with `bareIsHost`, a bare address means /32 or /128. */
export function parseCidr(s: string, what = "CIDR", bareIsHost = false): Cidr {
  if (typeof s !== "string") throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  if (!s.slice(0, s.indexOf("/") < 0 ? s.length : s.indexOf("/")).includes(":")) {
    return { family: 4, ...parseCidr4(s, what, bareIsHost) };
  }
  const slash = s.indexOf("/");
  if (slash < 0) {
    if (!bareIsHost) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)} (want addr/len)`);
    return { family: 6, bytes: parseIpv6(s, what), prefixLen: 128 };
  }
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) throw new TypeError(`invalid ${what}: ${JSON.stringify(s)}`);
  const prefixLen = Number(lenText);
  if (prefixLen > 128) throw new RangeError(`invalid ${what}: ${s} (prefix length > 128)`);
  return { family: 6, bytes: parseIpv6(s.slice(0, slash), what), prefixLen };
}

/** Format 4 or 16 address bytes. */
export function formatIp(b: Uint8Array): string {
  return b.length === 16 ? formatIpv6(b) : formatIpv4(b);
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
