import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { withTempNetns } from "./_test_util.ts";

const probe = new URL("./_leak_probe.ts", import.meta.url).pathname;

Deno.test({
  name: "10,000+ operations do not leak libnl objects (VmRSS < 8 MiB, malloc in-use < 96 KiB)",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      const o = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-check", "--v8-flags=--expose-gc", probe, a, "1400"],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      const d = new TextDecoder();
      assert.equal(o.code, 0, d.decode(o.stderr));
      const r = JSON.parse(d.decode(o.stdout).trim().split("\n").at(-1)!);
      assert.ok(r.ops >= 10_000, `ops ${r.ops}`);
      assert.ok(r.rssKiB < 8 * 1024, `VmRSS grew by ${r.rssKiB} KiB over ${r.ops} operations`);
      // malloc's own count is far more sensitive than RSS: one leaked libnl object per round
      // (700 objects per phase, ~165 KiB) fails this
      assert.ok(
        r.heapBytes < 96 * 1024,
        `malloc in-use grew by ${r.heapBytes} bytes over ${r.ops} operations`,
      );
    }),
});
