/**
 * `ImdsClient`: the IMDSv2 port over fetch. A session token (`PUT /latest/api/token`, TTL 21600 s) is cached
 * and refreshed before expiry or on a 401; every call has a timeout. The token never appears in errors or logs.
 */
import { ImdsError, type ImdsInterface, type ImdsPort } from "./imds_port.ts";

/** Options for `new ImdsClient(...)`. */
export interface ImdsClientOptions {
  /** Base URL. Default `$AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`. */
  endpoint?: string;
  /** Per-request timeout in ms. Default 2000. */
  timeoutMs?: number;
  /** Token TTL in seconds. Default 21600. */
  tokenTtlSeconds?: number;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
  /**
   * Also read each interface's IPv6 keys (`ipv6s`, `ipv6-prefix`, `subnet-ipv6-cidr-blocks`,
   * `vpc-ipv6-cidr-blocks`), as upstream does in IPv6 mode only. Default false: IPv4 nodes make no extra calls.
   */
  ipv6?: boolean;
}

const META = "/latest/meta-data/";

function envEndpoint(): string | undefined {
  try {
    return Deno.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") || undefined;
  } catch {
    return undefined;
  }
}

/** Region from an availability zone: `us-west-2a` → `us-west-2`, `us-west-2-lax-1a` → `us-west-2`. */
export function regionFromAz(az: string): string {
  const m = /^([a-z]{2}(?:-gov)?-[a-z]+-\d+)/.exec(az);
  return m ? m[1] : az.replace(/[a-z]$/, "");
}

/** The IMDSv2 client. */
export class ImdsClient implements ImdsPort {
  readonly endpoint: string;
  readonly #timeoutMs: number;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #ipv6: boolean;
  #token?: { value: string; refreshAt: number };
  #pending?: Promise<string>;

  constructor(opts: ImdsClientOptions = {}) {
    this.endpoint = (opts.endpoint ?? envEndpoint() ?? "http://169.254.169.254").replace(/\/+$/, "");
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#ttl = opts.tokenTtlSeconds ?? 21600;
    this.#now = opts.now ?? Date.now;
    this.#ipv6 = opts.ipv6 ?? false;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.endpoint}${path}`, {
        ...init,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const why = e instanceof DOMException && e.name === "TimeoutError"
        ? `timed out after ${this.#timeoutMs} ms`
        : `unreachable (${(e as Error).name})`;
      throw new ImdsError(path, 0, why);
    }
  }

  async #newToken(): Promise<string> {
    const path = "/latest/api/token";
    const res = await this.#fetch(path, {
      method: "PUT",
      headers: { "x-aws-ec2-metadata-token-ttl-seconds": String(this.#ttl) },
    });
    const body = await res.text();
    if (!res.ok) throw new ImdsError(path, res.status, `token request failed: HTTP ${res.status}`);
    // refresh a minute (or 10 %) before IMDS would expire it
    const margin = Math.min(60, this.#ttl / 10) * 1000;
    this.#token = { value: body.trim(), refreshAt: this.#now() + this.#ttl * 1000 - margin };
    return this.#token.value;
  }

  #tokenValue(force: boolean): Promise<string> {
    if (!force && this.#token && this.#now() < this.#token.refreshAt) {
      return Promise.resolve(this.#token.value);
    }
    if (force) this.#token = undefined;
    this.#pending ??= this.#newToken().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  /** GETs a path under /latest/meta-data/; `undefined` on 404. Throws `ImdsError` otherwise. */
  async getOptional(rel: string): Promise<string | undefined> {
    const path = META + rel;
    for (let attempt = 0;; attempt++) {
      const token = await this.#tokenValue(attempt > 0);
      const res = await this.#fetch(path, { headers: { "x-aws-ec2-metadata-token": token } });
      const body = await res.text();
      if (res.status === 401 && attempt === 0) continue;
      if (res.status === 404) return undefined;
      if (!res.ok) throw new ImdsError(path, res.status, `HTTP ${res.status}`);
      return body;
    }
  }

  /** GETs a path under /latest/meta-data/; `ImdsError` (status 404) when absent. */
  async get(rel: string): Promise<string> {
    const v = await this.getOptional(rel);
    if (v === undefined) throw new ImdsError(META + rel, 404, "not found");
    return v;
  }

  #lines(text: string | undefined): string[] {
    return (text ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  }

  async instanceId(): Promise<string> {
    return (await this.get("instance-id")).trim();
  }

  async instanceType(): Promise<string> {
    return (await this.get("instance-type")).trim();
  }

  async availabilityZone(): Promise<string> {
    return (await this.get("placement/availability-zone")).trim();
  }

  async region(): Promise<string> {
    const r = await this.getOptional("placement/region");
    return r?.trim() || regionFromAz(await this.availabilityZone());
  }

  async localIpv4(): Promise<string> {
    return (await this.get("local-ipv4")).trim();
  }

  async primaryMac(): Promise<string> {
    return (await this.get("mac")).trim();
  }

  async interfaces(): Promise<ImdsInterface[]> {
    const macs = this.#lines(await this.get("network/interfaces/macs/")).map((m) => m.replace(/\/$/, ""));
    const all = await Promise.all(macs.map((mac) => this.#interface(mac)));
    return all.filter((x): x is ImdsInterface => x !== undefined).sort((a, b) =>
      a.deviceNumber - b.deviceNumber
    );
  }

  /** One interface, or undefined when it vanished while being read (detached meanwhile). */
  async #interface(mac: string): Promise<ImdsInterface | undefined> {
    const base = `network/interfaces/macs/${mac}/`;
    const [dev, id, subnetId, subnetCidr, vpcCidrs, ips, prefixes, sgs] = await Promise.all(
      [
        "device-number",
        "interface-id",
        "subnet-id",
        "subnet-ipv4-cidr-block",
        "vpc-ipv4-cidr-blocks",
        "local-ipv4s",
        "ipv4-prefix",
        "security-group-ids",
      ].map((k) => this.getOptional(base + k)),
    );
    if (dev === undefined || id === undefined) return undefined;
    const v6 = this.#ipv6 ? await this.#ipv6Keys(base) : {};
    return {
      ...v6,
      mac,
      deviceNumber: Number(dev.trim()),
      interfaceId: id.trim(),
      subnetId: (subnetId ?? "").trim(),
      subnetCidr: (subnetCidr ?? "").trim(),
      vpcCidrs: this.#lines(vpcCidrs),
      localIpv4s: this.#lines(ips),
      ipv4Prefixes: this.#lines(prefixes),
      securityGroupIds: this.#lines(sgs),
    };
  }

  /** An interface's IPv6 keys (each empty when IMDS has no such key). */
  async #ipv6Keys(base: string): Promise<Partial<ImdsInterface>> {
    const [ipv6s, ipv6Prefixes, subnetIpv6Cidrs, vpcIpv6Cidrs] = await Promise.all(
      ["ipv6s", "ipv6-prefix", "subnet-ipv6-cidr-blocks", "vpc-ipv6-cidr-blocks"].map(async (k) =>
        this.#lines(await this.getOptional(base + k))
      ),
    );
    return { ipv6s, ipv6Prefixes, subnetIpv6Cidrs, vpcIpv6Cidrs };
  }
}
