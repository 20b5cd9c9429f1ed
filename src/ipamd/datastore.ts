/**
 * The node's address book: ENIs → pod IPs → assignments, with a cooldown on released IPs. Pure, no I/O.
 *
 * - An assignment is keyed by (netName, containerId, ifName); assigning the same key again returns the same
 *   assignment (an idempotent CNI ADD).
 * - Choice of IP is deterministic: the ENI with the lowest device number that has a free IP, then that ENI's
 *   numerically lowest free address. Older, lower-numbered ENIs fill first, so the newest (surplus) ENIs
 *   drain and can be deleted by the pool.
 * - A released IP cools until `now + cooldownMs` and is not handed out before then. The cooldown belongs to
 *   the address, so it survives the IP being removed and added again.
 * - An ENI's primary IP is never a pod IP: `addIps` ignores it.
 * - `EniRecord.ips` lists every pod-usable address: the secondary IPs from `addIps` and the 16 addresses of
 *   each /28 from `addPrefixes`. Prefix addresses are removed only with `removePrefixes`.
 * - IPv6 mode: `addIpv6Prefixes` gives an ENI /80 prefixes (2^48 addresses each, never listed). A pod gets the
 *   lowest address of the prefix that is neither assigned nor cooling, starting at the prefix's first address,
 *   as upstream's datastore hands out IPv6 addresses. IPv6 text is kept in RFC 5952 form.
 */
import { expandCidr, ipToInt, isIpv4, parseCidr } from "../net/ipv4.ts";
import { bigToIp6, ip6ToBig, isIpv6, parseCidr6 } from "../net/ipv6.ts";
import {
  type Assignment,
  type AttachmentKey,
  DatastoreError,
  type EniIdentity,
  type EniRecord,
  type IpStats,
  NoFreeIpError,
  type PodMeta,
} from "./datastore_types.ts";

export type {
  Assignment,
  AttachmentKey,
  EniIdentity,
  EniRecord,
  IpStats,
  PodMeta,
} from "./datastore_types.ts";
export { DatastoreError, NoFreeIpError } from "./datastore_types.ts";

interface EniState {
  rec: EniIdentity;
  /** address → the prefix it came from, or "" for a secondary IP */
  ips: Map<string, string>;
  prefixes: Set<string>;
  /** IPv6 prefix (canonical CIDR) → its first address and size */
  v6: Map<string, { first: bigint; size: bigint }>;
}

/** An assignment handed out: a copy (its fields are strings and numbers, its meta flat). */
const copyOf = (a: Assignment): Assignment => ({ ...a, meta: { ...a.meta } });
/** ipToInt, remembered: the assign loop and the ENI views order a node's addresses on every call. */
const INTS = new Map<string, number>();
function ipInt(ip: string): number {
  let n = INTS.get(ip);
  if (n === undefined) {
    if (INTS.size >= 65_536) INTS.clear();
    INTS.set(ip, n = ipToInt(ip));
  }
  return n;
}

const keyOf = (k: AttachmentKey) => JSON.stringify([k.netName, k.containerId, k.ifName]);
/** Address order for either family (IPv4 first). */
const byAddr = (a: string, b: string) => {
  const a6 = a.includes(":"), b6 = b.includes(":");
  if (!a6 && !b6) return ipInt(a) - ipInt(b);
  if (a6 !== b6) return a6 ? 1 : -1;
  const x = ip6ToBig(a), y = ip6ToBig(b);
  return x < y ? -1 : x > y ? 1 : 0;
};
/** IPv6 text in canonical form; IPv4 text as given. */
const canon = (ip: string) => ip.includes(":") && isIpv6(ip) ? bigToIp6(ip6ToBig(ip)) : ip;

/** ENIs, their pod IPs and the assignments on them. */
export class Datastore {
  readonly #cooldownMs: number;
  readonly #enis = new Map<string, EniState>();
  /** ip → eniId */
  readonly #ipEni = new Map<string, string>();
  /** key → assignment */
  readonly #byKey = new Map<string, Assignment>();
  /** ip → key */
  readonly #byIp = new Map<string, string>();
  /** ip → end of its cooldown */
  readonly #coolUntil = new Map<string, number>();

  constructor(opts: { cooldownMs: number }) {
    this.#cooldownMs = opts.cooldownMs;
  }

  /** Adds an ENI (no IPs yet); idempotent by eniId (a repeat updates nothing). */
  addEni(e: EniIdentity): void {
    if (this.#enis.has(e.eniId)) return;
    this.#enis.set(e.eniId, { rec: { ...e }, ips: new Map(), prefixes: new Set(), v6: new Map() });
  }

  /** Removes an ENI and its IPs; throws {@link DatastoreError} if any IP on it is assigned. Unknown: no-op. */
  removeEni(eniId: string): void {
    const s = this.#enis.get(eniId);
    if (!s) return;
    const held = [...s.ips.keys(), ...this.#v6Held(s)].filter((ip) => this.#byIp.has(ip));
    if (held.length) {
      throw new DatastoreError(`ENI ${eniId} still has assigned IPs: ${held.sort(byAddr).join(", ")}`);
    }
    for (const ip of s.ips.keys()) this.#ipEni.delete(ip);
    this.#enis.delete(eniId);
  }

  /** Adds secondary IPs to an ENI; idempotent; the ENI's primary IP is ignored. */
  addIps(eniId: string, ips: string[]): void {
    const s = this.#mustEni(eniId);
    for (const ip of ips) {
      if (!isIpv4(ip)) throw new DatastoreError(`not an IPv4 address: "${ip}"`);
      if (ip === s.rec.primaryIp) continue;
      this.#claim(s, ip, "");
    }
  }

  /** Removes secondary IPs from an ENI; throws {@link DatastoreError} (changing nothing) if one is assigned. */
  removeIps(eniId: string, ips: string[]): void {
    const s = this.#mustEni(eniId);
    for (const ip of ips) {
      if (this.#byIp.has(ip) && s.ips.has(ip)) throw new DatastoreError(`IP ${ip} on ${eniId} is assigned`);
      const from = s.ips.get(ip);
      if (from) throw new DatastoreError(`IP ${ip} on ${eniId} belongs to prefix ${from}; remove the prefix`);
    }
    for (const ip of ips) {
      if (s.ips.delete(ip)) this.#ipEni.delete(ip);
    }
  }

  /** Adds /28 prefixes; each adds its 16 addresses as pod IPs. Idempotent. */
  addPrefixes(eniId: string, prefixes: string[]): void {
    const s = this.#mustEni(eniId);
    for (const p of prefixes) {
      const c = parseCidr(p);
      const norm = `${c.network}/${c.prefixLen}`;
      if (s.prefixes.has(norm)) continue;
      const ips = expandCidr(norm);
      for (const ip of ips) {
        const owner = this.#ipEni.get(ip);
        if ((owner !== undefined && owner !== eniId) || ip === s.rec.primaryIp) {
          throw new DatastoreError(
            `prefix ${norm} overlaps ${ip} of ${owner ?? eniId}; not added to ${eniId}`,
          );
        }
      }
      for (const ip of ips) this.#claim(s, ip, norm);
      s.prefixes.add(norm);
    }
  }

  /** Removes prefixes and their addresses; throws {@link DatastoreError} (changing nothing) if one is assigned. */
  removePrefixes(eniId: string, prefixes: string[]): void {
    const s = this.#mustEni(eniId);
    const norms = prefixes.map((p) => {
      const c = parseCidr(p);
      return `${c.network}/${c.prefixLen}`;
    }).filter((p) => s.prefixes.has(p));
    for (const p of norms) {
      const held = expandCidr(p).filter((ip) => this.#byIp.has(ip));
      if (held.length) {
        throw new DatastoreError(`prefix ${p} on ${eniId} has assigned IPs: ${held.join(", ")}`);
      }
    }
    for (const p of norms) {
      for (const ip of expandCidr(p)) {
        s.ips.delete(ip);
        this.#ipEni.delete(ip);
      }
      s.prefixes.delete(p);
    }
  }

  /**
   * Adds IPv6 prefixes (IPv6 mode's /80) to an ENI; idempotent. Their addresses are handed out lazily, lowest
   * first. Throws {@link DatastoreError} when a prefix overlaps another ENI's.
   */
  addIpv6Prefixes(eniId: string, prefixes: string[]): void {
    const s = this.#mustEni(eniId);
    for (const p of prefixes) {
      let c;
      try {
        c = parseCidr6(p);
      } catch {
        throw new DatastoreError(`not an IPv6 prefix: "${p}"`);
      }
      const norm = `${bigToIp6(c.network)}/${c.prefixLen}`;
      if (s.v6.has(norm)) continue;
      const size = 1n << BigInt(128 - c.prefixLen);
      for (const o of this.#enis.values()) {
        for (const [q, r] of o.v6) {
          if (c.network < r.first + r.size && r.first < c.network + size) {
            throw new DatastoreError(`prefix ${norm} overlaps ${q} of ${o.rec.eniId}; not added to ${eniId}`);
          }
        }
      }
      s.v6.set(norm, { first: c.network, size });
    }
  }

  /**
   * Assigns an IP to `key`; the same key again returns the same assignment. Throws {@link NoFreeIpError} when
   * no IP is free and cooled down.
   */
  assign(key: AttachmentKey, meta: PodMeta, now: number): Assignment {
    const a = this.tryAssign(key, meta, now);
    if (a) return a;
    const retry = this.nextFreeInMs(now);
    throw new NoFreeIpError(
      retry === undefined
        ? "no free IP address on this node"
        : `no free IP address on this node (the next one leaves its cooldown in ${retry} ms)`,
      retry,
    );
  }

  /** {@link assign} without the error: undefined when no IP is free and cooled down (no exception to build). */
  tryAssign(key: AttachmentKey, meta: PodMeta, now: number): Assignment | undefined {
    const k = keyOf(key);
    const had = this.#byKey.get(k);
    if (had) return copyOf(had);
    const enis = [...this.#enis.values()].sort((a, b) =>
      a.rec.deviceNumber - b.rec.deviceNumber || a.rec.eniId.localeCompare(b.rec.eniId)
    );
    for (const s of enis) {
      let best: string | undefined;
      let bestN = Infinity;
      for (const ip of s.ips.keys()) {
        if (this.#byIp.has(ip) || this.#isCooling(ip, now)) continue;
        const n = ipInt(ip);
        if (n < bestN) [best, bestN] = [ip, n];
      }
      // An ENI's IPv4 pod IPs first; in IPv6 mode its /80's lowest free address.
      const ip = best ?? this.#freeV6(s, now);
      if (ip === undefined) continue;
      const a: Assignment = {
        netName: key.netName,
        containerId: key.containerId,
        ifName: key.ifName,
        ip,
        eniId: s.rec.eniId,
        assignedAt: now,
        meta: { ...meta },
      };
      this.#byKey.set(k, a);
      this.#byIp.set(ip, k);
      this.#coolUntil.delete(ip);
      return copyOf(a);
    }
    return undefined;
  }

  /** Milliseconds until the first cooling IP (of an ENI, not assigned) is free again; undefined when none cools. */
  nextFreeInMs(now: number): number | undefined {
    let soonest = Infinity;
    for (const [ip, until] of this.#coolUntil) {
      if (this.#eniOf(ip) !== undefined && !this.#byIp.has(ip) && until > now) {
        soonest = Math.min(soonest, until);
      }
    }
    return soonest === Infinity ? undefined : soonest - now;
  }

  /** Releases the key's IP, which then cools until `now + cooldownMs`; undefined if the key holds none. */
  release(key: AttachmentKey, now: number): Assignment | undefined {
    const k = keyOf(key);
    const a = this.#byKey.get(k);
    if (!a) return undefined;
    this.#byKey.delete(k);
    this.#byIp.delete(a.ip);
    if (this.#coolUntil.size > 4096) {
      for (const [ip, until] of this.#coolUntil) if (until <= now) this.#coolUntil.delete(ip);
    }
    this.#coolUntil.set(a.ip, now + this.#cooldownMs);
    return a;
  }

  /**
   * Puts back an assignment read from a checkpoint. The IP must be a known pod IP and free (cooling is fine);
   * an empty eniId is filled from the IP's ENI. Restoring the same assignment again is a no-op. Throws
   * {@link DatastoreError}.
   */
  restore(assignment: Assignment): void {
    const a = { ...assignment, ip: canon(assignment.ip) };
    const eniId = this.#eniOf(a.ip);
    if (eniId === undefined) throw new DatastoreError(`cannot restore ${a.ip}: not a pod IP of any ENI`);
    if (a.eniId && a.eniId !== eniId) {
      throw new DatastoreError(`cannot restore ${a.ip}: it is on ${eniId}, not ${a.eniId}`);
    }
    const k = keyOf(a);
    const holder = this.#byIp.get(a.ip);
    const mine = this.#byKey.get(k);
    if (holder === k) return;
    if (holder !== undefined) {
      throw new DatastoreError(`cannot restore ${a.ip}: already assigned to ${holder}`);
    }
    if (mine) throw new DatastoreError(`cannot restore ${a.ip}: ${k} already holds ${mine.ip}`);
    const r: Assignment = { ...structuredClone(a), eniId };
    this.#byKey.set(k, r);
    this.#byIp.set(a.ip, k);
    this.#coolUntil.delete(a.ip);
  }

  /** The key's assignment, if any. */
  get(key: AttachmentKey): Assignment | undefined {
    const a = this.#byKey.get(keyOf(key));
    return a && structuredClone(a);
  }

  /** The assignment holding `ip`, if any. */
  findByIp(ip: string): Assignment | undefined {
    const k = this.#byIp.get(canon(ip));
    return k === undefined ? undefined : structuredClone(this.#byKey.get(k));
  }

  /** Every assignment, ordered by IP. */
  assignments(): Assignment[] {
    return [...this.#byKey.values()].sort((a, b) => byAddr(a.ip, b.ip)).map((a) => structuredClone(a));
  }

  /** Every ENI, ordered by device number. */
  enis(): EniRecord[] {
    return [...this.#enis.values()]
      .sort((a, b) => a.rec.deviceNumber - b.rec.deviceNumber || a.rec.eniId.localeCompare(b.rec.eniId))
      .map((s) => this.#record(s));
  }

  /** One ENI, if known. */
  eni(eniId: string): EniRecord | undefined {
    const s = this.#enis.get(eniId);
    return s && this.#record(s);
  }

  /** The state of one address at `now`; "unknown" when it is no ENI's pod IP. */
  ipState(address: string, now: number): "free" | "assigned" | "cooling" | "unknown" {
    const ip = canon(address);
    if (this.#eniOf(ip) === undefined) return "unknown";
    if (this.#byIp.has(ip)) return "assigned";
    return this.#isCooling(ip, now) ? "cooling" : "free";
  }

  /** When `ip` was last released (its cooldown began), while ipamd still remembers it. */
  releasedAt(ip: string): number | undefined {
    const until = this.#coolUntil.get(ip);
    return until === undefined ? undefined : until - this.#cooldownMs;
  }

  /** Counts over the whole node. */
  stats(now: number): IpStats {
    const st = { total: 0, assigned: 0, cooling: 0, free: 0 };
    for (const s of this.#enis.values()) this.#count(s, now, st);
    return st;
  }

  /** Counts for one ENI (all zero when unknown). */
  eniStats(eniId: string, now: number): IpStats {
    const st = { total: 0, assigned: 0, cooling: 0, free: 0 };
    const s = this.#enis.get(eniId);
    if (s) this.#count(s, now, st);
    return st;
  }

  /** The IPv6 addresses of the ENI's prefixes that are assigned or cooling at `now`, ascending. */
  ipv6InUse(eniId: string, now: number): string[] {
    const s = this.#enis.get(eniId);
    if (!s) return [];
    return this.#v6Held(s).filter((ip) => this.#byIp.has(ip) || this.#isCooling(ip, now)).sort(byAddr);
  }

  /** The ENI's free, cooled-down secondary IPs (not prefix addresses), ascending: safe to unassign. */
  freeIpsOn(eniId: string, now: number): string[] {
    const s = this.#enis.get(eniId);
    if (!s) return [];
    return [...s.ips].filter(([ip, from]) => from === "" && !this.#byIp.has(ip) && !this.#isCooling(ip, now))
      .map(([ip]) => ip).sort(byAddr);
  }

  /** The ENI's prefixes none of whose addresses is assigned or cooling, ascending: safe to unassign. */
  freePrefixesOn(eniId: string, now: number): string[] {
    const s = this.#enis.get(eniId);
    if (!s) return [];
    return [...s.prefixes]
      .filter((p) => expandCidr(p).every((ip) => !this.#byIp.has(ip) && !this.#isCooling(ip, now)))
      .sort((a, b) => byAddr(a.split("/")[0], b.split("/")[0]));
  }

  #count(s: EniState, now: number, st: IpStats): void {
    for (const ip of s.ips.keys()) {
      st.total++;
      if (this.#byIp.has(ip)) st.assigned++;
      else if (this.#isCooling(ip, now)) st.cooling++;
      else st.free++;
    }
    if (!s.v6.size) return;
    let total = 0n, assigned = 0, cooling = 0;
    for (const { size } of s.v6.values()) total += size;
    for (const ip of this.#v6Held(s)) {
      if (this.#byIp.has(ip)) assigned++;
      else if (this.#isCooling(ip, now)) cooling++;
    }
    st.total += Number(total);
    st.assigned += assigned;
    st.cooling += cooling;
    st.free += Number(total) - assigned - cooling;
  }

  /** The ENI owning `ip` (canonical text): a listed IPv4 pod IP, or an address inside an IPv6 prefix. */
  #eniOf(ip: string): string | undefined {
    const v4 = this.#ipEni.get(ip);
    if (v4 !== undefined || !ip.includes(":")) return v4;
    let n: bigint;
    try {
      n = ip6ToBig(ip);
    } catch {
      return undefined;
    }
    for (const s of this.#enis.values()) {
      for (const { first, size } of s.v6.values()) if (n >= first && n < first + size) return s.rec.eniId;
    }
    return undefined;
  }

  /** IPv6 addresses of the ENI's prefixes that are assigned or were (cooling or cooled). */
  #v6Held(s: EniState): string[] {
    if (!s.v6.size) return [];
    const out = new Set<string>();
    for (const ip of [...this.#byIp.keys(), ...this.#coolUntil.keys()]) {
      if (ip.includes(":") && this.#eniOf(ip) === s.rec.eniId) out.add(ip);
    }
    return [...out];
  }

  /** The lowest address of the ENI's IPv6 prefixes neither assigned nor cooling, if it has prefixes. */
  #freeV6(s: EniState, now: number): string | undefined {
    const prefixes = [...s.v6.values()].sort((a, b) => a.first < b.first ? -1 : 1);
    for (const { first, size } of prefixes) {
      // Each step passes an address in use, so this ends after at most (addresses in use + 1) steps.
      for (let o = 0n; o < size; o++) {
        const ip = bigToIp6(first + o);
        if (!this.#byIp.has(ip) && !this.#isCooling(ip, now)) return ip;
      }
    }
    return undefined;
  }

  #isCooling(ip: string, now: number): boolean {
    const until = this.#coolUntil.get(ip);
    return until !== undefined && now < until;
  }

  #claim(s: EniState, ip: string, from: string): void {
    const owner = this.#ipEni.get(ip);
    if (owner !== undefined && owner !== s.rec.eniId) {
      throw new DatastoreError(`IP ${ip} is already on ${owner}, cannot add it to ${s.rec.eniId}`);
    }
    s.ips.set(ip, from || s.ips.get(ip) || "");
    this.#ipEni.set(ip, s.rec.eniId);
  }

  #mustEni(eniId: string): EniState {
    const s = this.#enis.get(eniId);
    if (!s) throw new DatastoreError(`unknown ENI ${eniId}`);
    return s;
  }

  #record(s: EniState): EniRecord {
    const r: EniRecord = {
      ...s.rec,
      ips: [...s.ips.keys()].sort(byAddr),
      prefixes: [...s.prefixes].sort((a, b) => byAddr(a.split("/")[0], b.split("/")[0])),
    };
    if (s.v6.size) r.ipv6Prefixes = [...s.v6.keys()].sort((a, b) => byAddr(a.split("/")[0], b.split("/")[0]));
    return r;
  }
}
