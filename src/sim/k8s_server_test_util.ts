// deno-lint-ignore-file no-explicit-any -- JSON bodies are read loosely in assertions
/** Shared by the lab API server's unit tests: a handler over a fresh store, and a watch reader. */
import { KubeStore } from "./k8s_store.ts";
import { createKubeHandler, type KubeHandler, type KubeHandlerOptions } from "./k8s_server.ts";

/** The base URL test requests use. */
export const BASE = "http://lab.invalid";

/** A store and a handler over it, with `call` for one JSON request. */
export function setup(opts: KubeHandlerOptions = {}) {
  const store = new KubeStore();
  const handler = createKubeHandler(store, opts);
  const call = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const res = await handler(
      new Request(BASE + path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? {} : { "content-type": contentType },
      }),
    );
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { store, handler, call };
}

/** Reads newline-delimited JSON events from a watch response until `n` arrived or the stream ended. */
export async function readEvents(
  res: Response,
  n: number,
): Promise<{ type: string; object: Record<string, any> }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: { type: string; object: Record<string, any> }[] = [];
  let buf = "";
  try {
    while (out.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        out.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    }
  } finally {
    await reader.cancel();
  }
  return out;
}

/** Starts a watch request. */
export function startWatch(handler: KubeHandler, path: string, signal?: AbortSignal) {
  return handler(new Request(BASE + path, { signal }));
}
