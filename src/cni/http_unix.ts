/**
 * A tiny HTTP/1.1 client over a unix socket (`Deno.connect({transport: "unix"})`): one request per
 * connection (`Connection: close`), a Content-Length body, and the response read by Content-Length, chunked
 * transfer coding, or to EOF. It exists because the first `fetch` through `Deno.createHttpClient` costs
 * 10–20 ms of CPU, which aws-cni pays on every run.
 * @module
 */

/** One request. */
export interface UnixRequest {
  method: string;
  /** Request target, e.g. `/v1/status`. */
  path: string;
  /** Extra headers (Host, Connection and Content-Length are set here). */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Aborts connect, write and read; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called once the whole request is written (the server may be working on it from then on). */
  onSent?: () => void;
}

/** A fully read response. */
export interface UnixResponse {
  status: number;
  statusText: string;
  ok: boolean;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Uint8Array;
  text(): string;
}

/** The server's answer is not HTTP/1.x as this client reads it. */
export class HttpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HttpProtocolError";
  }
}

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 16 * 1024 * 1024;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Buffered reader over a connection. */
class Reader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #eof = false;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads more; false at EOF. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** Bytes up to (excluding) `delim`, consuming the delimiter; null at EOF before it. */
  async until(delim: Uint8Array, max: number): Promise<Uint8Array | null> {
    let from = 0;
    for (;;) {
      const i = indexOf(this.#buf, delim, from);
      if (i >= 0) {
        const out = this.#buf.slice(0, i);
        this.#buf = this.#buf.subarray(i + delim.length);
        return out;
      }
      if (this.#buf.length > max) throw new HttpProtocolError(`response line/head over ${max} bytes`);
      from = Math.max(0, this.#buf.length - delim.length + 1);
      if (!(await this.#fill())) return null;
    }
  }

  /** Exactly `n` bytes; null at EOF before. */
  async exactly(n: number): Promise<Uint8Array | null> {
    while (this.#buf.length < n) if (!(await this.#fill())) return null;
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Everything to EOF. */
  async rest(max: number): Promise<Uint8Array> {
    while (await this.#fill()) {
      if (this.#buf.length > max) throw new HttpProtocolError(`response body over ${max} bytes`);
    }
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const CRLF = enc.encode("\r\n");
const CRLFCRLF = enc.encode("\r\n\r\n");

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function readChunked(r: Reader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const line = await r.until(CRLF, 1024);
    if (line === null) throw new HttpProtocolError("connection closed inside a chunked body");
    const size = parseInt(dec.decode(line).split(";")[0].trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new HttpProtocolError("bad chunk size");
    if (size === 0) {
      // trailers, up to the empty line
      for (;;) {
        const t = await r.until(CRLF, MAX_HEAD);
        if (t === null || t.length === 0) return concat(parts);
      }
    }
    total += size;
    if (total > MAX_BODY) throw new HttpProtocolError(`response body over ${MAX_BODY} bytes`);
    const data = await r.exactly(size + 2);
    if (data === null) throw new HttpProtocolError("connection closed inside a chunk");
    parts.push(data.subarray(0, size));
  }
}

async function exchange(conn: Deno.Conn, req: UnixRequest): Promise<UnixResponse> {
  const body = typeof req.body === "string" ? enc.encode(req.body) : req.body;
  let head = `${req.method} ${req.path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(req.headers ?? {})) head += `${k}: ${v}\r\n`;
  if (body !== undefined || req.method === "POST" || req.method === "PUT") {
    head += `Content-Length: ${body?.length ?? 0}\r\n`;
  }
  const out = body ? concat([enc.encode(head + "\r\n"), body]) : enc.encode(head + "\r\n");
  for (let o = 0; o < out.length;) o += await conn.write(out.subarray(o));
  req.onSent?.();

  const r = new Reader(conn);
  let status = 0;
  let statusText = "";
  let headers: Record<string, string> = {};
  for (;;) {
    const raw = await r.until(CRLFCRLF, MAX_HEAD);
    if (raw === null) throw new HttpProtocolError("connection closed before a response");
    const lines = dec.decode(raw).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) throw new HttpProtocolError(`bad status line: ${JSON.stringify(lines[0].slice(0, 100))}`);
    status = Number(m[1]);
    statusText = m[2] ?? "";
    headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      if (i <= 0) throw new HttpProtocolError(`bad header line: ${JSON.stringify(l.slice(0, 100))}`);
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    if (status >= 200 || status === 101) break; // 1xx interim answers are skipped
  }

  let data: Uint8Array;
  const te = headers["transfer-encoding"]?.toLowerCase();
  if (req.method === "HEAD" || status === 204 || status === 304 || status < 200) data = new Uint8Array(0);
  else if (te !== undefined && te.split(",").at(-1)!.trim() === "chunked") data = await readChunked(r);
  else if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"]);
    if (!Number.isSafeInteger(n) || n < 0) throw new HttpProtocolError("bad Content-Length");
    if (n > MAX_BODY) throw new HttpProtocolError(`response body over ${MAX_BODY} bytes`);
    const b = await r.exactly(n);
    if (b === null) throw new HttpProtocolError("connection closed before the whole body");
    data = b;
  } else data = await r.rest(MAX_BODY);

  return {
    status,
    statusText,
    ok: status >= 200 && status < 300,
    headers,
    body: data,
    text: () => dec.decode(data),
  };
}

/**
 * Sends one request to the HTTP server on the unix socket `path` and reads the whole response.
 * Rejects with the connect error (`Deno.errors.NotFound` when the socket is missing,
 * `Deno.errors.ConnectionRefused` when nothing listens), an {@linkcode HttpProtocolError}, a read/write
 * error, or `signal.reason` when the signal aborts first.
 */
export async function requestUnix(path: string, req: UnixRequest): Promise<UnixResponse> {
  const signal = req.signal;
  signal?.throwIfAborted();
  let conn: Deno.Conn | undefined;
  let aborted = false;
  const { promise: abortP, reject: abortReject } = Promise.withResolvers<never>();
  abortP.catch(() => {});
  const onAbort = () => {
    aborted = true;
    try {
      conn?.close(); // unblocks a pending read or write
    } catch { /* already closed */ }
    abortReject(signal!.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const connecting = Deno.connect({ transport: "unix", path });
    conn = await Promise.race([connecting, abortP]).catch((e) => {
      // a connect finishing after the abort must not leak its descriptor
      connecting.then((c) => c.close(), () => {});
      throw e;
    });
    return await Promise.race([exchange(conn, req), abortP]);
  } catch (e) {
    if (aborted) throw signal!.reason;
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!aborted) {
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  }
}
