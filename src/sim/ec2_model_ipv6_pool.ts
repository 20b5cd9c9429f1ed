/**
 * IPv6 address accounting for one EC2 subnet's /64: assigned addresses and delegated /80 prefixes. EC2 keeps
 * back the first four and the last address of the block, so the first and last /80 are never delegated. Choice
 * is random (the model's seeded RNG), as EC2's is.
 */
import { bigToIp6, cidr6Contains, ip6ToBig, nthAddress6, nthSubnet6, parseCidr6 } from "../net/ipv6.ts";
import type { Rng } from "./realism_rng.ts";

/** The size of a delegated IPv6 prefix. */
export const IPV6_PREFIX_LEN = 80;

const PREFIXES_PER_64 = 1 << (IPV6_PREFIX_LEN - 64);

/** IPv6 bookkeeping for one subnet. */
export class Ipv6SubnetPool {
  readonly cidr: string;
  readonly #base: bigint;
  /** Assigned addresses, as offsets into the /64. */
  readonly #addrs = new Set<bigint>();
  /** Delegated /80s, by index in the /64. */
  readonly #prefixes = new Set<number>();

  constructor(cidr: string) {
    const c = parseCidr6(cidr);
    if (c.prefixLen !== 64) throw new RangeError(`an EC2 subnet's IPv6 block is a /64: ${cidr}`);
    this.cidr = `${bigToIp6(c.network)}/64`;
    this.#base = c.network;
  }

  /** Whether `ip` lies in the subnet. */
  contains(ip: string): boolean {
    return cidr6Contains(this.cidr, ip);
  }

  #prefixOf(off: bigint): number {
    return Number(off >> BigInt(128 - IPV6_PREFIX_LEN));
  }

  #reserved(off: bigint): boolean {
    return off <= 3n || off === (1n << 64n) - 1n;
  }

  /** Whether `ip` (in the subnet) can be assigned: not reserved, assigned, or inside a delegated prefix. */
  isFree(ip: string): boolean {
    const off = ip6ToBig(ip) - this.#base;
    return !this.#reserved(off) && !this.#addrs.has(off) && !this.#prefixes.has(this.#prefixOf(off));
  }

  /** Takes a named address; false when it is not free. */
  take(ip: string): boolean {
    if (!this.contains(ip) || !this.isFree(ip)) return false;
    this.#addrs.add(ip6ToBig(ip) - this.#base);
    return true;
  }

  /** Takes `n` random free addresses (all or nothing). */
  takeAny(n: number, rng: Rng): string[] {
    const out: string[] = [];
    while (out.length < n) {
      const off = (BigInt(rng.int(0x100000000)) << 32n) | BigInt(rng.int(0x100000000));
      const ip = nthAddress6(this.cidr, off);
      if (!this.isFree(ip) || out.includes(ip)) continue;
      out.push(ip);
    }
    for (const ip of out) this.take(ip);
    return out;
  }

  /** Gives an address back. */
  release(ip: string): void {
    this.#addrs.delete(ip6ToBig(ip) - this.#base);
  }

  #prefixFree(i: number): boolean {
    if (i === 0 || i === PREFIXES_PER_64 - 1 || this.#prefixes.has(i)) return false;
    for (const off of this.#addrs) if (this.#prefixOf(off) === i) return false;
    return true;
  }

  /** Takes a named /80 (canonical text); false when it is not free. */
  takePrefix(prefix: string): boolean {
    const c = parseCidr6(prefix);
    if (c.prefixLen !== IPV6_PREFIX_LEN || !this.contains(bigToIp6(c.network))) return false;
    const i = this.#prefixOf(c.network - this.#base);
    if (!this.#prefixFree(i)) return false;
    this.#prefixes.add(i);
    return true;
  }

  /** Takes `n` random free /80s, or undefined when the /64 has fewer left. */
  takePrefixes(n: number, rng: Rng): string[] | undefined {
    const free = PREFIXES_PER_64 - 2 - this.#prefixes.size;
    if (free < n) return undefined;
    const out: string[] = [];
    while (out.length < n) {
      const i = 1 + rng.int(PREFIXES_PER_64 - 2);
      if (!this.#prefixFree(i)) continue;
      this.#prefixes.add(i);
      out.push(nthSubnet6(this.cidr, IPV6_PREFIX_LEN, BigInt(i)));
    }
    return out;
  }

  /** Gives a /80 back. */
  releasePrefix(prefix: string): void {
    this.#prefixes.delete(this.#prefixOf(parseCidr6(prefix).network - this.#base));
  }
}
