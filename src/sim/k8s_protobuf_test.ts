// deno-lint-ignore-file no-explicit-any -- JSON bodies are read loosely in assertions
import assert from "node:assert/strict";
import { ensureKubeProtobuf, KubeProtobufDecoder, PROTOBUF_MEDIA_TYPE } from "./k8s_protobuf.ts";
import { setup } from "./k8s_server_test_util.ts";

/** Protobuf wire encoding, just enough for a test body: length-delimited fields. */
function field(no: number, value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  const out: number[] = [(no << 3) | 2];
  for (let n = bytes.length;; n >>= 7) {
    if (n < 0x80) {
      out.push(n);
      break;
    }
    out.push((n & 0x7f) | 0x80);
  }
  return new Uint8Array([...out, ...bytes]);
}
const cat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => new Uint8Array(parts.flatMap((p) => [...p]));

/** A core/v1 Event in Kubernetes' protobuf envelope ("k8s\0" + runtime.Unknown), as client-go sends it. */
function protobufEvent(name: string): Uint8Array<ArrayBuffer> {
  const event = cat(
    field(1, field(1, name)), // metadata.name
    field(2, cat(field(1, "Node"), field(3, "n0"))), // involvedObject.kind, .name
    field(3, "FromProtobuf"), // reason
    field(4, "decoded by k8s.io/api"), // message
  );
  const unknown = cat(field(1, cat(field(1, "v1"), field(2, "Event"))), field(2, event));
  return cat(new Uint8Array([0x6b, 0x38, 0x73, 0x00]), unknown);
}

Deno.test({
  name: "protobuf: bodies are decoded with k8s.io/api (the lab's decoder); undecodable ones are 400",
  sanitizeResources: false,
}, async () => {
  const decoder = new KubeProtobufDecoder((await ensureKubeProtobuf()).path);
  try {
    const { store, handler } = setup({ decodeProtobuf: decoder.decode });
    store.addNode("n0");
    const post = (body: Uint8Array<ArrayBuffer>) =>
      handler(
        new Request("http://lab.invalid/api/v1/namespaces/default/events", {
          method: "POST",
          body,
          headers: { "content-type": PROTOBUF_MEDIA_TYPE },
        }),
      );
    const res = await post(protobufEvent("e1"));
    const created: any = await res.json();
    assert.equal(res.status, 201, JSON.stringify(created));
    assert.equal(created.kind, "Event");
    assert.equal(created.reason, "FromProtobuf");
    assert.equal(created.involvedObject.name, "n0");
    assert.equal(store.listEvents({ reason: "FromProtobuf" }).length, 1);
    // Requests are answered in order by one process.
    const many = await Promise.all([2, 3, 4].map((i) => post(protobufEvent(`e${i}`))));
    assert.deepEqual(many.map((r) => r.status), [201, 201, 201]);
    await Promise.all(many.map((r) => r.body?.cancel()));
    const bad = await post(new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0xff, 0xff]));
    const status: any = await bad.json();
    assert.equal(bad.status, 400);
    assert.match(status.message, /the protobuf body could not be decoded/);
  } finally {
    await decoder.close();
  }
});
