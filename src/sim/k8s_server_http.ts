/** HTTP pieces of the lab's API server: JSON bodies in and out, and `Status` failure responses. */

import { badRequest, KubeStatusError } from "./k8s_status.ts";

/** Reads a JSON request body (400 BadRequest when empty or not JSON). */
export async function readBody(req: Request): Promise<unknown> {
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
