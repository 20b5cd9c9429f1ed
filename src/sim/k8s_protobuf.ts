/**
 * Protobuf request bodies for the lab's API server: client-go ≥ 1.35's typed clients send built-in objects as
 * `application/vnd.kubernetes.protobuf`. The lab decodes them with the real k8s.io/api types through a small
 * Go program (`src/sim/kube_protobuf/`, built into the shared Go cache) that answers JSON over stdin/stdout.
 * @module
 */
import { fileURLToPath } from "node:url";
import { ensureGoProgram } from "./go_build.ts";

/** Kubernetes' protobuf media type. */
export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";

/** Decodes one protobuf body into the JSON object it stands for (rejects with the decoder's message). */
export type ProtobufDecode = (body: Uint8Array) => Promise<unknown>;

const PROGRAM_DIR = fileURLToPath(new URL("./kube_protobuf/", import.meta.url));

/** Builds the decoder unless the cache has it; resolves to its path. */
export async function ensureKubeProtobuf(): Promise<{ path: string; built: boolean }> {
  return await ensureGoProgram({ name: "kube-protobuf", dir: PROGRAM_DIR });
}

/** One running decoder process; requests are answered in order, one at a time. */
export class KubeProtobufDecoder {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamBYOBReader;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(binary: string) {
    this.#child = new Deno.Command(binary, { stdin: "piped", stdout: "piped", stderr: "inherit" }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.getReader({ mode: "byob" });
  }

  /** Decodes one body (see {@linkcode ProtobufDecode}). */
  decode: ProtobufDecode = (body) => {
    const next = this.#queue.then(() => this.#roundTrip(body));
    this.#queue = next.catch(() => {});
    return next;
  };

  async #roundTrip(body: Uint8Array): Promise<unknown> {
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, body.length);
    await this.#writer.write(head);
    await this.#writer.write(body);
    const top = await this.#read(5);
    const len = new DataView(top.buffer).getUint32(1);
    const text = new TextDecoder().decode(await this.#read(len));
    if (top[0] !== 0) throw new Error(text);
    return JSON.parse(text);
  }

  async #read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const { value, done } = await this.#reader.read(new Uint8Array(n - off));
      if (done || !value) throw new Error("kube-protobuf exited");
      out.set(value, off);
      off += value.length;
    }
    return out;
  }

  /** Stops the process. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}
