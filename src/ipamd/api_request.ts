/**
 * The socket API's requests and error answers: the JSON body (at most {@linkcode MAX_BODY_BYTES}), its fields
 * checked one by one (a bad one is a 400 that names it), and {@linkcode ApiError} → the error body the plugin
 * maps to a CNI error.
 * @module
 */
import type { AttachmentKey, IpamdErrorBody, IpamdErrorReason } from "../cni/api.ts";

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Container IDs and network names (the CNI spec's pattern). */
export const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** A request the API answers with an error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: IpamdErrorReason,
    message: string,
    readonly retryable = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A JSON answer. */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** A `Server-Timing` header value (`name;dur=ms, …`) for step durations in ms. */
export function serverTiming(timing: Record<string, number>): string {
  return Object.entries(timing).map(([k, ms]) => `${k};dur=${Math.round(ms * 1000) / 1000}`).join(", ");
}

/** The error body for `e`, with its status. */
export function errorResponse(err: ApiError): Response {
  const body: IpamdErrorBody = {
    error: {
      reason: err.reason,
      message: err.message,
      retryable: err.retryable,
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: Math.round(err.retryAfterMs) } : {}),
    },
  };
  return json(err.status, body);
}

/** The body as a JSON object; 413 over the size limit, 400 when it is not a JSON object. */
export async function readBody(req: Request): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) {
    throw new ApiError(413, "bad_request", `request body over ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    for await (const c of req.body) {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        throw new ApiError(413, "bad_request", `request body over ${MAX_BODY_BYTES} bytes`);
      }
      chunks.push(c);
    }
  }
  const buf = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) buf.set(c, (off += c.length) - c.length);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(buf));
  } catch (e) {
    throw new ApiError(400, "bad_request", `invalid JSON body: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ApiError(400, "bad_request", "the body must be a JSON object");
  }
  return v as Record<string, unknown>;
}

/** A string field; 400 naming the field when it is missing, empty (unless optional) or off `pattern`. */
export function str(
  body: Record<string, unknown>,
  field: string,
  opts: { optional?: boolean; pattern?: RegExp } = {},
): string {
  const v = body[field];
  if (v === undefined && opts.optional) return "";
  if (typeof v !== "string" || (!opts.optional && v === "")) {
    throw new ApiError(400, "bad_request", `field "${field}" must be a non-empty string`);
  }
  if (opts.pattern && v !== "" && !opts.pattern.test(v)) {
    throw new ApiError(400, "bad_request", `field "${field}" is invalid: "${v.slice(0, 80)}"`);
  }
  return v;
}

/** `ifName`: a Linux interface name (at most 15 bytes, no `/`, `:` or whitespace). */
export function ifName(body: Record<string, unknown>): string {
  const v = str(body, "ifName");
  if (new TextEncoder().encode(v).length > 15 || v === "." || v === ".." || /[/:\s]/.test(v)) {
    throw new ApiError(400, "bad_request", `field "ifName" is invalid: "${v.slice(0, 80)}"`);
  }
  return v;
}

/** The `(netName, containerId, ifName)` key of a request. */
export function attachmentKey(body: Record<string, unknown>): AttachmentKey {
  return {
    netName: str(body, "netName", { pattern: ID }),
    containerId: str(body, "containerId", { pattern: ID }),
    ifName: ifName(body),
  };
}
