import assert from "node:assert/strict";
import { heapMarkdown, summariseHeap } from "../tools/heap_summary.ts";

Deno.test("heap summary: a real snapshot's self sizes by type, kind and big strings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const code =
      `globalThis.keep = Array.from({ length: 20000 }, (_, i) => new (class BenchMarker { constructor() { this.i = i; } })());
globalThis.big = new TextDecoder().decode(new Uint8Array(200000).fill(120));
const v8 = await import("node:v8");
v8.writeHeapSnapshot(${JSON.stringify(`${dir}/h.heapsnapshot`)});`;
    const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code], stderr: "piped" }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const h = summariseHeap(JSON.parse(await Deno.readTextFile(`${dir}/h.heapsnapshot`)));
    assert.ok(h.total > 1e6 && h.nodes > 20000);
    const marker = h.byName.find(([k]) => k === "object:BenchMarker");
    assert.ok(
      marker && marker[2] === 20000,
      `20000 BenchMarker objects: ${JSON.stringify(h.byName.slice(0, 5))}`,
    );
    assert.ok(h.bigStrings.some(([b, t]) => b >= 200000 && t.startsWith("xxxx")));
    assert.match(heapMarkdown(h), /\| object:BenchMarker \| [\d.]+ \| 20000 \|/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
