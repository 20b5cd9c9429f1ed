/**
 * `fetch` over a unix socket, the one way the tools, the lab CLI and the tests talk to ipamd's and the lab
 * daemon's sockets:
 * - the URL's host is an IP literal: Deno resolves a host *name* through DNS even when the connection goes to
 *   a unix socket, and one lost DNS packet then stalls the call for the resolver's 5 s timeout;
 * - one deadline covers the whole exchange, body included;
 * - a failure is a {@linkcode UnixFetchError} that names the socket, the request and, for a timeout, the
 *   limit that passed.
 * No npm import.
 * @module
 */

/** The socket did not answer (refused, closed, or not within the deadline). */
export class UnixFetchError extends Error {
  constructor(
    readonly socket: string,
    readonly method: string,
    readonly path: string,
    /** The deadline that passed, when that is what went wrong. */
    readonly timeoutMs: number | undefined,
    cause: string,
  ) {
    super(
      timeoutMs === undefined
        ? `${method} ${path} on ${socket}: ${cause}`
        : `${method} ${path} on ${socket}: no answer within ${timeoutMs} ms`,
    );
    this.name = "UnixFetchError";
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `RequestInit` plus the deadline for the whole exchange. */
export interface UnixFetchInit extends RequestInit {
  /** Milliseconds for connect, request and the whole body. Default 30 000 (a loaded 2-core machine). */
  timeoutMs?: number;
}

/** The default deadline: generous, because a loaded machine can pause any process for seconds. */
export const UNIX_FETCH_TIMEOUT_MS = 30_000;

/**
 * Sends one request to `path` on the unix socket `socket` and answers with the whole response read (so the
 * deadline covers the body). Throws {@linkcode UnixFetchError} when the socket does not answer.
 */
export async function unixFetch(socket: string, path: string, init: UnixFetchInit = {}): Promise<Response> {
  const { timeoutMs = UNIX_FETCH_TIMEOUT_MS, ...rest } = init;
  const method = rest.method ?? "GET";
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const r = await fetch(`http://127.0.0.1${path}`, { ...rest, client, signal });
    const body = new Uint8Array(await r.arrayBuffer());
    const empty = r.status === 204 || r.status === 304;
    return new Response(empty ? null : body, { status: r.status, headers: r.headers });
  } catch (e) {
    throw new UnixFetchError(socket, method, path, signal.aborted ? timeoutMs : undefined, errText(e));
  } finally {
    client.close();
  }
}
