/**
 * Address accounting for one EC2 subnet: which addresses are taken, EC2's five reserved addresses
 * (network, .1 router, .2 DNS, .3 future use, broadcast), and aligned /28 prefix allocation.
 */
import { cidrSize, intToIp, ipToInt, parseCidr } from "../net/ipv4.ts";
import type { Rng } from "./realism_rng.ts";

/** Addresses EC2 keeps back in every subnet. */
export const RESERVED_PER_SUBNET = 5;

/** Free-address bookkeeping for one subnet. Addresses are tracked as offsets into the block. */
export class SubnetPool {
  readonly cidr: string;
  readonly size: number;
  readonly #base: number;
  readonly #used: Uint8Array;
  #usedCount = 0;

  constructor(cidr: string) {
    const c = parseCidr(cidr);
    if (c.prefixLen > 28 || c.prefixLen < 16) throw new RangeError(`subnet must be /16../28: ${cidr}`);
    this.cidr = `${c.network}/${c.prefixLen}`;
    this.size = cidrSize(this.cidr);
    this.#base = ipToInt(c.network);
    this.#used = new Uint8Array(this.size);
  }

  /** Addresses still assignable (EC2's AvailableIpAddressCount). */
  get available(): number {
    return this.size - RESERVED_PER_SUBNET - this.#usedCount;
  }

  /** Whether the offset is one of EC2's reserved addresses. */
  #reserved(off: number): boolean {
    return off <= 3 || off === this.size - 1;
  }

  #offset(ip: string): number | undefined {
    let n: number;
    try {
      n = ipToInt(ip);
    } catch {
      return undefined;
    }
    const off = n - this.#base;
    return off >= 0 && off < this.size ? off : undefined;
  }

  /** Whether `ip` lies in the subnet. */
  contains(ip: string): boolean {
    return this.#offset(ip) !== undefined;
  }

  /** Whether `ip` is in the subnet, not reserved and not taken. */
  isFree(ip: string): boolean {
    const off = this.#offset(ip);
    return off !== undefined && !this.#reserved(off) && this.#used[off] === 0;
  }

  /** Takes a specific address; false when it is outside, reserved or taken. */
  take(ip: string): boolean {
    if (!this.isFree(ip)) return false;
    this.#used[this.#offset(ip)!] = 1;
    this.#usedCount++;
    return true;
  }

  /** Takes `n` free addresses chosen by `rng` (EC2 picks at random); undefined when fewer are free. */
  takeAny(n: number, rng: Rng): string[] | undefined {
    if (n > this.available) return undefined;
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      let off = rng.int(this.size);
      while (this.#reserved(off) || this.#used[off] === 1) off = (off + 1) % this.size;
      this.#used[off] = 1;
      this.#usedCount++;
      out.push(intToIp(this.#base + off));
    }
    return out;
  }

  /** Takes `n` aligned, entirely free /28 blocks (no reserved address inside); undefined if not possible. */
  takePrefixes(n: number, rng: Rng): string[] | undefined {
    const blocks = this.size / 16;
    const free: number[] = [];
    for (let b = 0; b < blocks; b++) {
      let ok = true;
      for (let i = 0; i < 16 && ok; i++) {
        const off = b * 16 + i;
        if (this.#reserved(off) || this.#used[off] === 1) ok = false;
      }
      if (ok) free.push(b);
    }
    if (free.length < n) return undefined;
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      const b = free.splice(rng.int(free.length), 1)[0];
      for (let i = 0; i < 16; i++) this.#used[b * 16 + i] = 1;
      this.#usedCount += 16;
      out.push(`${intToIp(this.#base + b * 16)}/28`);
    }
    return out.sort((a, b) => ipToInt(a.split("/")[0]) - ipToInt(b.split("/")[0]));
  }

  /** Returns an address to the pool (no-op when not taken). */
  release(ip: string): void {
    const off = this.#offset(ip);
    if (off === undefined || this.#reserved(off) || this.#used[off] === 0) return;
    this.#used[off] = 0;
    this.#usedCount--;
  }

  /** Returns a /28 prefix's 16 addresses to the pool. */
  releasePrefix(prefix: string): void {
    const base = ipToInt(parseCidr(prefix).network);
    for (let i = 0; i < 16; i++) this.release(intToIp(base + i));
  }
}
