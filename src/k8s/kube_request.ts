/**
 * One Kubernetes REST call (JSON in, JSON out) over the agent and headers `KubeAccess` gives (the same
 * transport client-node's `Watch` uses): an error `Status` becomes `KubeApiError`, no answer (connection
 * refused or reset, a timeout) `KubeUnreachableError`.
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { KubeAccess } from "./kube_config.ts";
import { KubeApiError, KubeUnreachableError } from "./port.ts";

/** What a request may carry. */
export interface KubeRequest {
  method?: "GET" | "POST" | "PATCH";
  /** The body's type (default application/json; a PATCH names its patch format). */
  contentType?: string;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Abort (then the call fails with `signal.reason`). */
  signal?: AbortSignal;
}

/** Node-style error codes that mean the server was not reached. */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ECONNABORTED",
  "EADDRNOTAVAIL",
]);

/** A failed answer as `KubeApiError` (its `Status` when the body is one). */
export function statusError(code: number, text: string): KubeApiError {
  let body;
  try {
    body = JSON.parse(text);
  } catch { /* not a Status */ }
  const message = typeof body?.message === "string" ? body.message : `HTTP ${code}`;
  return new KubeApiError(code, typeof body?.reason === "string" ? body.reason : "", message);
}

/** Sends one request and parses the JSON answer; see the module doc for errors. */
export async function kubeRequest<T = unknown>(
  access: KubeAccess,
  path: string,
  r: KubeRequest = {},
): Promise<T> {
  const url = new URL(access.server + path);
  for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const body = r.body === undefined ? undefined : JSON.stringify(r.body);
  const o = await access.applyToFetchOptions({
    method: r.method ?? "GET",
    headers: {
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": r.contentType ?? "application/json" }),
    },
  });
  const lib = url.protocol === "https:" ? https : http;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = lib.request(
      url,
      { method: o.method, headers: o.headers, agent: o.agent, signal: r.signal },
      (res) => {
        const chunks: Uint8Array[] = [];
        res.on("data", (c: Uint8Array) => chunks.push(c));
        res.on(
          "end",
          () => resolve({ status: res.statusCode ?? 0, text: new TextDecoder().decode(concat(chunks)) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  }).catch((e) => {
    if (r.signal?.aborted) throw r.signal.reason;
    const err = e as { code?: string; message?: string };
    if (err?.code && UNREACHABLE_CODES.has(err.code) || e instanceof TypeError) {
      throw new KubeUnreachableError(access.server, err.message ?? String(e));
    }
    throw e;
  });
  if (status < 200 || status >= 300) throw statusError(status, text);
  return JSON.parse(text) as T;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Any failure of a call or watch as the port's errors: `KubeApiError` for an HTTP status, `KubeUnreachableError`
 * when the server was not reached (connection codes, client-node's fetch errors), else the error itself.
 */
export function toKubeError(server: string, e: unknown): Error {
  if (e instanceof KubeUnreachableError || e instanceof KubeApiError) return e;
  const err = e as { code?: string; type?: string; message?: string; statusCode?: number; name?: string };
  if (typeof err?.statusCode === "number") return statusError(err.statusCode, err.message ?? "");
  if (
    (err?.code && UNREACHABLE_CODES.has(err.code)) || err?.type === "system" ||
    err?.type === "request-timeout" ||
    err?.name === "FetchError" || e instanceof TypeError && /fetch|connect|network/i.test(err.message ?? "")
  ) {
    return new KubeUnreachableError(server, err.message ?? String(e));
  }
  return e instanceof Error ? e : new Error(String(e));
}
