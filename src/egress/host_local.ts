/**
 * egress-cni's own IPAM state, kept in host-local's on-disk layout so a node moving from upstream's plugin
 * keeps its reservations: `<dataDir>/<network>/<ip>` holds `<containerId>\r\n<ifName>`,
 * `last_reserved_ip.0` the last address handed out, and `lock` is flock()ed around every change (parallel
 * ADDs on one node). Allocation continues after the last reserved address, wrapping, skipping the gateway.
 * @module
 */
import { intToIp, ipToInt } from "../net/ipv4.ts";
import type { EgressRange } from "./conf.ts";

/** One reservation. */
export interface Reservation {
  ip: string;
  containerId: string;
  ifName: string;
}

const LAST = "last_reserved_ip.0";
const IP_FILE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** The store of one network's reservations. */
export class HostLocalStore {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = `${dataDir.replace(/\/+$/, "")}/${network}`;
  }

  /** Runs `fn` holding the directory's lock (created on first use). */
  async #locked<T>(fn: () => T): Promise<T> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o755 });
    const f = await Deno.open(`${this.dir}/lock`, { read: true, write: true, create: true });
    try {
      await f.lock(true);
      return fn();
    } finally {
      f.close(); // closing releases the lock
    }
  }

  /** Every reservation (files named by an address), in address order. */
  #list(): Reservation[] {
    const out: Reservation[] = [];
    for (const e of Deno.readDirSync(this.dir)) {
      if (!e.isFile || !IP_FILE.test(e.name)) continue;
      let text: string;
      try {
        text = Deno.readTextFileSync(`${this.dir}/${e.name}`);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw err;
      }
      const [containerId, ifName = ""] = text.split(/\r?\n/);
      out.push({ ip: e.name, containerId: containerId.trim(), ifName: ifName.trim() });
    }
    return out.sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
  }

  /** Reserves an address for (containerId, ifName); the same pair again gets its existing address. */
  reserve(range: EgressRange, containerId: string, ifName: string): Promise<string> {
    return this.#locked(() => {
      const held = this.#list();
      const mine = held.find((r) => r.containerId === containerId && r.ifName === ifName);
      if (mine) return mine.ip;
      const used = new Set(held.map((r) => r.ip));
      const start = ipToInt(range.rangeStart), end = ipToInt(range.rangeEnd), gw = ipToInt(range.gateway);
      let last = start - 1;
      try {
        const t = ipToInt(Deno.readTextFileSync(`${this.dir}/${LAST}`).trim());
        if (t >= start && t <= end) last = t;
      } catch { /* none yet, or unreadable: start over */ }
      const span = end - start + 1;
      for (let i = 1; i <= span; i++) {
        const n = start + ((last - start + i) % span + span) % span;
        const ip = intToIp(n);
        if (n === gw || used.has(ip)) continue;
        Deno.writeTextFileSync(`${this.dir}/${ip}`, `${containerId}\r\n${ifName}`, { createNew: true });
        Deno.writeTextFileSync(`${this.dir}/${LAST}`, ip);
        return ip;
      }
      throw new RangeError(
        `no free address in ${range.rangeStart}-${range.rangeEnd} (${held.length} reserved)`,
      );
    });
  }

  /** Releases (containerId, ifName)'s reservations (host-local also matches a bare containerId); returns them. */
  release(containerId: string, ifName: string): Promise<string[]> {
    return this.#locked(() => {
      const gone = this.#list().filter((r) =>
        r.containerId === containerId && (r.ifName === ifName || r.ifName === "")
      );
      for (const r of gone) {
        try {
          Deno.removeSync(`${this.dir}/${r.ip}`);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
      return gone.map((r) => r.ip);
    });
  }

  /** Every reservation, or [] when the network has none yet. */
  async list(): Promise<Reservation[]> {
    try {
      await Deno.stat(this.dir);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    return this.#locked(() => this.#list());
  }
}
