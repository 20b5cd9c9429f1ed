/**
 * Verifies an AWS Signature Version 4 request, as EC2 does, against the keys the lab issued: the
 * `Authorization: AWS4-HMAC-SHA256 …` header (every SDK signs EC2 calls so). Answers EC2's
 * error codes: `MissingAuthenticationToken` (unsigned), `IncompleteSignature` (malformed), `AuthFailure`
 * (unknown key, wrong session token, wrong scope), `RequestExpired` (clock skew over 15 minutes, or expired
 * temporary credentials) and `SignatureDoesNotMatch`.
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import type { IssuedKey, LabIam } from "./iam.ts";

/** The request as the verifier needs it: method, URL, headers and the raw body. */
export interface SignedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
}

/** A refusal, in EC2's terms. */
export interface AuthError {
  code: string;
  message: string;
  status: number;
}

/** Where the request is expected to be scoped. */
export interface Scope {
  region: string;
  service: string;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_SKEW_MS = 15 * 60_000;

const fail = (code: string, message: string, status: number): AuthError => ({ code, message, status });
const AUTH_FAILURE = "AWS was not able to validate the provided access credentials";
const NO_MATCH = "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/** RFC 3986 encoding, as SigV4 canonicalises (unreserved: A-Z a-z 0-9 - _ . ~). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

const sha256Hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Uint8Array, data: string) => createHmac("sha256", key).update(data).digest();

/** The signature parts, from the header or the query string. */
interface Claimed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  token: string | null;
}

function parseClaim(req: SignedRequest): Claimed | AuthError {
  const header = req.headers.get("authorization");
  if (!header) return fail("MissingAuthenticationToken", "Request is missing Authentication Token", 401);
  if (!header.startsWith(ALGORITHM + " ")) {
    return fail("IncompleteSignature", `Unsupported authorization type: ${header.split(" ")[0]}`, 400);
  }
  const fields = new Map(
    header.slice(ALGORITHM.length + 1).split(",").map((f) => {
      const [k, ...v] = f.trim().split("=");
      return [k, v.join("=")] as const;
    }),
  );
  const credential = fields.get("Credential");
  const signed = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  const amzDate = req.headers.get("x-amz-date");
  if (!credential || !signed || !signature || !amzDate) {
    return fail(
      "IncompleteSignature",
      "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and X-Amz-Date",
      400,
    );
  }
  const [accessKeyId, date, region, service, terminator] = credential.split("/");
  if (!terminator) return fail("IncompleteSignature", `Malformed Credential: ${credential}`, 400);
  return {
    accessKeyId,
    date,
    region,
    service,
    terminator,
    signedHeaders: signed.split(";"),
    signature,
    amzDate,
    token: req.headers.get("x-amz-security-token"),
  };
}

function canonicalRequest(req: SignedRequest, c: Claimed): string {
  // Services other than S3 encode the (already encoded) path once more.
  const path = req.url.pathname.split("/").map(uriEncode).join("/");
  const pairs = [...req.url.searchParams].map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const headers = c.signedHeaders.map((h) =>
    `${h}:${(req.headers.get(h) ?? "").trim().replace(/\s+/g, " ")}\n`
  ).join("");
  return [
    req.method,
    path || "/",
    pairs.map(([k, v]) => `${k}=${v}`).join("&"),
    headers,
    c.signedHeaders.join(";"),
    sha256Hex(req.body), // the body as received, whatever x-amz-content-sha256 claims
  ].join("\n");
}

/** EC2's `20261125T120000Z` → epoch ms (NaN when malformed). */
function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

/** Checks the claim against the issued key and the clock (everything but the signature itself). */
function checkClaim(
  c: Claimed,
  key: IssuedKey | undefined,
  scope: Scope,
  now: number,
): AuthError | undefined {
  if (!key) return fail("AuthFailure", AUTH_FAILURE, 401);
  if (c.terminator !== "aws4_request" || c.date !== c.amzDate.slice(0, 8)) {
    return fail("IncompleteSignature", "Credential scope does not match the request date", 400);
  }
  if (c.region !== scope.region) {
    return fail("AuthFailure", `Credential should be scoped to a valid region, not '${c.region}'.`, 401);
  }
  if (c.service !== scope.service) {
    return fail("AuthFailure", `Credential should be scoped to correct service: '${scope.service}'.`, 401);
  }
  if (!c.signedHeaders.includes("host")) {
    return fail("IncompleteSignature", "'Host' must be a signed header", 400);
  }
  if ((key.sessionToken ?? null) !== c.token) return fail("AuthFailure", AUTH_FAILURE, 401);
  const at = parseAmzDate(c.amzDate);
  if (!Number.isFinite(at)) return fail("IncompleteSignature", `Malformed X-Amz-Date: ${c.amzDate}`, 400);
  if (Math.abs(now - at) > MAX_SKEW_MS) {
    return fail("RequestExpired", "Request has expired.", 400);
  }
  if (key.expiresAt !== undefined && now >= key.expiresAt) {
    return fail("RequestExpired", "Request has expired.", 400);
  }
  return undefined;
}

/** Verifies `req`'s signature; the key it was signed with, or EC2's refusal. */
export function verifySigV4(req: SignedRequest, iam: LabIam, scope: Scope): IssuedKey | AuthError {
  const c = parseClaim(req);
  if ("code" in c) return c;
  const key = iam.lookup(c.accessKeyId);
  const bad = checkClaim(c, key, scope, iam.now());
  if (bad) return bad;
  const stringToSign = [
    ALGORITHM,
    c.amzDate,
    `${c.date}/${c.region}/${c.service}/aws4_request`,
    sha256Hex(
      canonicalRequest(req, c),
    ),
  ].join("\n");
  let k: Uint8Array = hmac(`AWS4${key!.secretAccessKey}`, c.date);
  for (const part of [c.region, c.service, "aws4_request"]) k = hmac(k, part);
  const expected = createHmac("sha256", k).update(stringToSign).digest("hex");
  return expected === c.signature.toLowerCase() ? key! : fail("SignatureDoesNotMatch", NO_MATCH, 403);
}
