/** HTTP pieces of the lab's API server: JSON bodies in and out, and `Status` failure responses. */

import { PROTOBUF_MEDIA_TYPE, type ProtobufDecode } from "./k8s_protobuf.ts";
import { badRequest, KubeStatusError } from "./k8s_status.ts";

/** The request body media types the lab decodes (no protobuf, CBOR or YAML). */
export const BODY_MEDIA_TYPES = ["application/json"];

/**
 * Checks the body's media type is one of `accepted` (a missing Content-Type counts as JSON): otherwise 415
 * UnsupportedMediaType, as the API server answers a body it cannot decode (e.g. protobuf for a CRD).
 */
export function checkMediaType(req: Request, accepted: readonly string[] = BODY_MEDIA_TYPES): string {
  const type = (req.headers.get("content-type") ?? "application/json").split(";")[0].trim().toLowerCase();
  if (type === "" || accepted.includes(type)) return type || "application/json";
  throw new KubeStatusError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
  );
}

/**
 * Reads a request body: JSON, or protobuf when a decoder is given (415 for another media type, 400 BadRequest
 * when empty, not JSON or not decodable).
 */
export async function readBody(
  req: Request,
  o: { accepted?: readonly string[]; protobuf?: ProtobufDecode } = {},
): Promise<unknown> {
  const accepted = o.accepted ?? BODY_MEDIA_TYPES;
  const type = checkMediaType(req, o.protobuf ? [...accepted, PROTOBUF_MEDIA_TYPE] : accepted);
  if (type === PROTOBUF_MEDIA_TYPE && o.protobuf) {
    try {
      return await o.protobuf(new Uint8Array(await req.arrayBuffer()));
    } catch (e) {
      throw badRequest(`the protobuf body could not be decoded: ${(e as Error).message}`);
    }
  }
  const text = await req.text();
  if (text.trim() === "") throw badRequest("the request body is empty");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** A JSON response. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** The `Status` response for a failure. */
export function statusResponse(e: KubeStatusError): Response {
  return json(e.code, e.toStatus());
}

/** 405 MethodNotAllowed. */
export function methodNotAllowed(): Response {
  return statusResponse(
    new KubeStatusError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    ),
  );
}
