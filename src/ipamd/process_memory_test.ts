import assert from "node:assert/strict";
import { IPAMD_V8_FLAGS, releaseFreedMemory } from "./process_memory.ts";

Deno.test("releaseFreedMemory trims glibc's heap (true on glibc), twice is fine", () => {
  assert.equal(releaseFreedMemory(), true);
  assert.equal(releaseFreedMemory(), true);
});

Deno.test("IPAMD_V8_FLAGS are flags V8 accepts (a deno run with them succeeds)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--v8-flags=${IPAMD_V8_FLAGS.join(",")}`, "console.log('ok')"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "ok", new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stderr), "", "no unknown-flag warning");
});
