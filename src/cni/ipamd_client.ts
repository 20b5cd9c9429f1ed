/** Client for ipamd's socket API (HTTP/1.1 + JSON over a unix socket; see docs/ARCHITECTURE.md). */
import type {
  AddNetworkReply,
  AddNetworkRequest,
  AttachmentKey,
  CheckNetworkReply,
  DelNetworkReply,
  GcReply,
  GcRequest,
  IpamdErrorBody,
} from "./api.ts";
import { API_PREFIX } from "./api.ts";
import { CniError, Code } from "./spec.ts";
import { requestUnix, type UnixResponse } from "./http_unix.ts";

/** ipamd could not be reached (no socket, refused, timed out). Code 11 unless the caller decides. */
export class IpamdUnavailableError extends CniError {
  /** The request was sent but no answer came in time: ipamd may still have acted on it. */
  readonly timedOut: boolean;
  constructor(what: string, cause?: unknown, timedOut = false) {
    super(
      Code.TRY_AGAIN_LATER,
      `ipamd is unreachable: ${what}`,
      `reason: ${timedOut ? "timeout" : "unreachable"}`,
      {
        cause,
      },
    );
    this.name = "IpamdUnavailableError";
    this.timedOut = timedOut;
  }
}

/** ipamd answered with an error body: retryable → code 11, else 102; message verbatim. */
export class IpamdError extends CniError {
  /** ipamd's reason (`subnet_exhausted`, `not_found`, ...). */
  readonly reason: string;
  readonly retryable: boolean;
  readonly status: number;
  constructor(status: number, reason: string, message: string, retryable: boolean, retryAfterMs?: number) {
    const details = `reason: ${reason}` +
      (retryAfterMs !== undefined ? `; retryAfterMs: ${retryAfterMs}` : "");
    super(retryable ? Code.TRY_AGAIN_LATER : Code.IPAMD_REFUSED, message, details);
    this.name = "IpamdError";
    this.reason = reason;
    this.retryable = retryable;
    this.status = status;
  }
}

/** Per-call timeouts in milliseconds. */
export interface IpamdTimeouts {
  add: number;
  other: number;
  status: number;
}

/** Defaults: ADD may wait for ipamd to find an IP; the rest answer from memory. */
export const DEFAULT_TIMEOUTS: IpamdTimeouts = { add: 10_000, other: 5_000, status: 2_000 };

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An HTTP error without ipamd's error body: 503/429 are worth retrying, the rest are not. */
function bareHttpError(status: number, path: string, text: string): IpamdError {
  const busy = status === 503 || status === 429;
  const msg = `ipamd ${path}: HTTP ${status}: ${text.slice(0, 200)}`;
  return new IpamdError(status, busy ? "not_ready" : "internal", msg, busy);
}

/** The durations (ms) of a `Server-Timing` header (`name;dur=1.2, …`); entries without `dur` are skipped. */
export function parseServerTiming(h: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (h ?? "").split(",")) {
    const [name, ...params] = part.split(";").map((x) => x.trim());
    const dur = params.find((p) => p.startsWith("dur="));
    const ms = dur === undefined ? NaN : Number(dur.slice(4));
    if (name && Number.isFinite(ms)) out[name] = ms;
  }
  return out;
}

/**
 * One client per plugin run; `close()` when done. Each call is one HTTP/1.1 exchange on a fresh connection
 * (src/cni/http_unix.ts: `fetch` through a `Deno.HttpClient` cost 10–20 ms of CPU per run).
 */
export class IpamdClient {
  #socket: string;
  #timeouts: IpamdTimeouts;
  /** ipamd's own step durations for the last answer (its `Server-Timing`), for the phase trace. */
  serverTiming: Record<string, number> = {};

  constructor(socket: string, timeouts: Partial<IpamdTimeouts> = {}) {
    this.#socket = socket;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
  }

  /** Nothing to release (kept for callers; connections are per call). */
  close(): void {}

  async #call(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    timeoutMs: number,
    onSent?: () => void,
  ): Promise<unknown> {
    let res: UnixResponse;
    try {
      res = await requestUnix(this.#socket, {
        method,
        path: `${API_PREFIX}${path}`,
        headers: body === undefined ? undefined : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        onSent,
      });
    } catch (e) {
      const err = e as Error;
      const timedOut = err?.name === "TimeoutError";
      const why = timedOut
        ? `no answer from ${this.#socket} within ${timeoutMs} ms`
        : `${this.#socket}: ${err?.message ?? String(e)}`;
      throw new IpamdUnavailableError(why, e, timedOut);
    }
    this.serverTiming = parseServerTiming(res.headers["server-timing"]);
    const text = res.text();
    let json: unknown;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      if (!res.ok) {
        throw bareHttpError(res.status, path, text);
      }
      throw new CniError(Code.IPAMD_PROTOCOL, `ipamd ${path}: answer is not JSON`, text.slice(0, 200));
    }
    if (!res.ok) {
      const e = (json as Partial<IpamdErrorBody>).error;
      if (isObj(e) && typeof e.message === "string") {
        throw new IpamdError(
          res.status,
          typeof e.reason === "string" ? e.reason : "internal",
          e.message,
          e.retryable === true,
          typeof e.retryAfterMs === "number" ? e.retryAfterMs : undefined,
        );
      }
      throw bareHttpError(res.status, path, text);
    }
    if (!isObj(json)) throw new CniError(Code.IPAMD_PROTOCOL, `ipamd ${path}: answer is not an object`);
    return json;
  }

  /** Asks ipamd for an IP for the attachment. */
  async addNetwork(req: AddNetworkRequest): Promise<AddNetworkReply> {
    const r = await this.#call("POST", "/add-network", req, this.#timeouts.add) as Record<string, unknown>;
    if (typeof r.ipv4 !== "string" || typeof r.routeTable !== "number") {
      throw new CniError(
        Code.IPAMD_PROTOCOL,
        "ipamd /add-network: answer lacks ipv4 or routeTable",
        JSON.stringify(r),
      );
    }
    return r as unknown as AddNetworkReply;
  }

  /**
   * Tells ipamd the attachment is gone; `released:false` when it did not know it. `onSent` is called once the
   * request is on the socket (DEL tears the host side down while ipamd works on it).
   */
  async delNetwork(key: AttachmentKey, onSent?: () => void): Promise<DelNetworkReply> {
    try {
      return await this.#call(
        "POST",
        "/del-network",
        key,
        this.#timeouts.other,
        onSent,
      ) as unknown as DelNetworkReply;
    } catch (e) {
      if (e instanceof IpamdError && e.reason === "not_found") return { released: false };
      throw e;
    }
  }

  /** Whether ipamd still holds the attachment's IP. */
  async checkNetwork(key: AttachmentKey): Promise<CheckNetworkReply> {
    try {
      return await this.#call(
        "POST",
        "/check-network",
        key,
        this.#timeouts.other,
      ) as unknown as CheckNetworkReply;
    } catch (e) {
      if (e instanceof IpamdError && e.reason === "not_found") return { held: false };
      throw e;
    }
  }

  /** Releases every attachment of `netName` not in `valid`. */
  async gc(req: GcRequest): Promise<GcReply> {
    const r = await this.#call("POST", "/gc", req, this.#timeouts.other) as Record<string, unknown>;
    if (!Array.isArray(r.released)) {
      throw new CniError(Code.IPAMD_PROTOCOL, "ipamd /gc: answer lacks released");
    }
    return r as unknown as GcReply;
  }

  /** Resolves when ipamd is ready; throws otherwise. */
  async status(): Promise<void> {
    const r = await this.#call("GET", "/status", undefined, this.#timeouts.status) as Record<string, unknown>;
    if (r.ready !== true) throw new IpamdError(200, "not_ready", "ipamd says it is not ready", true);
  }
}
