/**
 * A test double for ipamd's socket API (docs/ARCHITECTURE.md) on a unix socket in a temp dir: a fixed
 * list of addresses, attachments keyed by (netName, containerId, ifName), every call recorded, and
 * injectable errors. It is the plugin's peer in plugin tests, not a stub of our code.
 * @module
 */
import { MAIN_TABLE } from "../src/common/routing.ts";
import type {
  AddNetworkReply,
  AddNetworkRequest,
  AttachmentKey,
  GcRequest,
  IpamdErrorBody,
  IpamdErrorReason,
} from "../src/cni/api.ts";

/** One address the fake hands out: an IPv4 one, or (IPv6 mode) an IPv6 one in `ipv6` with `ipv4` "". */
export interface FakeIp {
  ipv4: string;
  ipv6?: string;
  /** 254 (main) by default. */
  routeTable?: number;
  deviceNumber?: number;
}

/** Options for {@linkcode FakeIpamd.start}. */
export interface FakeIpamdOptions {
  /** A string with a colon is an IPv6 address (IPv6 mode). */
  ips: (string | FakeIp)[];
  mtu?: number;
  /** Socket path; a fresh temp dir by default. */
  socketPath?: string;
}

/** A recorded call. */
export interface FakeCall {
  method: string;
  path: string;
  body: unknown;
}

/** An injected error answer. */
export interface FakeError {
  status: number;
  reason: IpamdErrorReason;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}

interface Held extends AttachmentKey {
  ip: Required<FakeIp>;
  req: AddNetworkRequest;
}

const keyOf = (k: AttachmentKey) => `${k.netName}\u0000${k.containerId}\u0000${k.ifName}`;

/** The fake ipamd server. */
export class FakeIpamd {
  readonly socketPath: string;
  readonly calls: FakeCall[] = [];
  /** Current attachments. */
  readonly held = new Map<string, Held>();
  /** `false` makes `/v1/status` answer 503 not_ready. */
  ready = true;
  /** Errors to answer, by path (`/v1/add-network`), consumed once each. */
  readonly failNext = new Map<string, FakeError>();
  /** Runs before each answer (after the call is recorded), e.g. to pull something away mid-ADD. */
  beforeReply?: (call: FakeCall) => void | Promise<void>;
  #ips: Required<FakeIp>[];
  #mtu: number;
  #server: Deno.HttpServer;
  #dir?: string;

  private constructor(socketPath: string, dir: string | undefined, opts: FakeIpamdOptions) {
    this.socketPath = socketPath;
    this.#dir = dir;
    this.#mtu = opts.mtu ?? 9001;
    this.#ips = opts.ips.map((x) => {
      const ip = typeof x !== "string" ? x : x.includes(":") ? { ipv4: "", ipv6: x } : { ipv4: x };
      const rt = ip.routeTable ?? MAIN_TABLE;
      const deviceNumber = ip.deviceNumber ?? (rt === MAIN_TABLE ? 0 : rt - 1);
      return { ipv4: ip.ipv4, ipv6: ip.ipv6 ?? "", routeTable: rt, deviceNumber };
    });
    this.#server = Deno.serve(
      { path: socketPath, transport: "unix", onListen() {} },
      (req) => this.#handle(req),
    );
  }

  /** Starts serving. */
  static start(opts: FakeIpamdOptions): FakeIpamd {
    let dir: string | undefined;
    let path = opts.socketPath;
    if (!path) {
      dir = Deno.makeTempDirSync({ prefix: "fake-ipamd-" });
      path = `${dir}/ipamd.sock`;
    }
    return new FakeIpamd(path, dir, opts);
  }

  /** Calls to one path (e.g. `/v1/del-network`). */
  callsTo(path: string): FakeCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  /** The attachment for a key, if held. */
  get(k: AttachmentKey): Held | undefined {
    return this.held.get(keyOf(k));
  }

  /** Stops serving and removes the temp dir; safe to call twice. */
  async stop(): Promise<void> {
    try {
      await this.#server.shutdown();
    } catch { /* already stopped */ }
    if (this.#dir) {
      try {
        Deno.removeSync(this.#dir, { recursive: true });
      } catch { /* gone */ }
    } else {
      try {
        Deno.removeSync(this.socketPath);
      } catch { /* gone */ }
    }
  }

  #error(e: FakeError): Response {
    const body: IpamdErrorBody = {
      error: { reason: e.reason, message: e.message, retryable: e.retryable, retryAfterMs: e.retryAfterMs },
    };
    return Response.json(body, { status: e.status });
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    let body: unknown = undefined;
    if (req.method === "POST") {
      try {
        body = await req.json();
      } catch {
        return this.#error({
          status: 400,
          reason: "bad_request",
          message: "body is not JSON",
          retryable: false,
        });
      }
    }
    const call = { method: req.method, path, body };
    this.calls.push(call);
    await this.beforeReply?.(call);
    const injected = this.failNext.get(path);
    if (injected) {
      this.failNext.delete(path);
      return this.#error(injected);
    }
    switch (`${req.method} ${path}`) {
      case "GET /v1/status":
        return this.ready
          ? Response.json({ ready: true })
          : this.#error({ status: 503, reason: "not_ready", message: "ipamd is starting", retryable: true });
      case "POST /v1/add-network":
        return this.#add(body as AddNetworkRequest);
      case "POST /v1/del-network": {
        const h = this.held.get(keyOf(body as AttachmentKey));
        if (!h) return Response.json({ released: false });
        this.held.delete(keyOf(h));
        return Response.json({ released: true, ...addressOf(h) });
      }
      case "POST /v1/check-network": {
        const h = this.held.get(keyOf(body as AttachmentKey));
        return Response.json(h ? { held: true, ...addressOf(h) } : { held: false });
      }
      case "POST /v1/gc":
        return this.#gc(body as GcRequest);
      default:
        return this.#error({
          status: 404,
          reason: "not_found",
          message: `no route ${path}`,
          retryable: false,
        });
    }
  }

  /** add-network: the key's IP again, or the first free one; 409 pool_growing when none is free. */
  #add(r: AddNetworkRequest): Response {
    if (!r.netName || !r.containerId || !r.ifName) {
      return this.#error({
        status: 400,
        reason: "bad_request",
        message: "key missing",
        retryable: false,
      });
    }
    let h = this.held.get(keyOf(r));
    if (!h) {
      const addr = (x: Required<FakeIp>) => x.ipv6 || x.ipv4;
      const used = new Set([...this.held.values()].map((x) => addr(x.ip)));
      const ip = this.#ips.find((x) => !used.has(addr(x)));
      if (!ip) {
        return this.#error({
          status: 409,
          reason: "pool_growing",
          message: "no free IP on this node yet; the pool is growing",
          retryable: true,
          retryAfterMs: 1000,
        });
      }
      h = { netName: r.netName, containerId: r.containerId, ifName: r.ifName, ip, req: r };
      this.held.set(keyOf(r), h);
    }
    const reply: AddNetworkReply = {
      ipv4: h.ip.ipv4,
      ...(h.ip.ipv6 ? { ipv6: h.ip.ipv6 } : {}),
      deviceNumber: h.ip.deviceNumber,
      routeTable: h.ip.routeTable,
      eniId: `eni-fake${h.ip.deviceNumber}`,
      subnetCidr: "10.0.0.0/20",
      vpcCidrs: ["10.0.0.0/16"],
      useExternalSnat: false,
      mtu: this.#mtu,
    };
    return Response.json(reply);
  }

  /** gc: releases the network's attachments not in `valid`. */
  #gc(g: GcRequest): Response {
    const valid = new Set(g.valid.map((v) => keyOf({ netName: g.netName, ...v })));
    const released = [];
    for (const [k, h] of this.held) {
      if (h.netName === g.netName && !valid.has(k)) {
        this.held.delete(k);
        released.push({
          containerId: h.containerId,
          ifName: h.ifName,
          ipv4: h.ip.ipv4,
          ...(h.ip.ipv6 ? { ipv6: h.ip.ipv6 } : {}),
        });
      }
    }
    return Response.json({ released });
  }
}

/** Where a held IP lives, as del-network and check-network answer it. */
function addressOf(h: { ip: Required<FakeIp> }) {
  return {
    ipv4: h.ip.ipv4,
    ...(h.ip.ipv6 ? { ipv6: h.ip.ipv6 } : {}),
    deviceNumber: h.ip.deviceNumber,
    routeTable: h.ip.routeTable,
  };
}
