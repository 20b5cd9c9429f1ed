/** compile.sh fails clearly, and leaves no binary behind, when deno compile has no denort base binary. */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";

const SCRIPT = new URL("../compile.sh", import.meta.url).pathname;

async function compileSh(env: Record<string, string>, args: string[] = []) {
  const out = await new Deno.Command("bash", {
    args: [SCRIPT, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("compile.sh: DENORT_BIN that does not exist is a clear error and leaves no dist/aws-cni", async () => {
  const dist = await Deno.makeTempDir({ prefix: "vct-dist-" });
  try {
    const r = await compileSh({ DENORT_BIN: "/nonexistent", DIST_DIR: dist, DENO: Deno.execPath() });
    assert.notEqual(r.code, 0, r.text);
    assert.match(r.text, /DENORT_BIN=\/nonexistent is not an executable file/);
    assert.match(r.text, /denort base binary/);
    assert.match(r.text, /DENORT_BIN=\/path\/to\/denort bash compile\.sh/);
    assert.deepEqual([...Deno.readDirSync(dist)], [], "nothing in dist");
  } finally {
    await Deno.remove(dist, { recursive: true });
  }
});

Deno.test("compile.sh: a missing deno binary is a clear error", async () => {
  const r = await compileSh({ DENO: "/nonexistent/deno", DENORT_BIN: "/nonexistent" });
  assert.notEqual(r.code, 0);
  assert.match(r.text, /no deno binary '\/nonexistent\/deno'/);
});

Deno.test("compile.sh: an unknown argument is refused", async () => {
  const r = await compileSh({ DENO: Deno.execPath() }, ["--bogus"]);
  assert.notEqual(r.code, 0);
  assert.match(r.text, /unknown argument '--bogus'/);
});

Deno.test({
  name: "compile.sh: when denort cannot be downloaded it says so; when it can be had the binary is real",
  ...rootOnly,
  fn: async () => {
    // An empty namespace: the download deno compile attempts cannot leave it.
    const ns = `vct-cmp${crypto.randomUUID().slice(0, 6)}`;
    const dir = await Deno.makeTempDir({ prefix: "vct-compile-" });
    await new Deno.Command("ip", { args: ["netns", "add", ns] }).output();
    try {
      await Deno.writeTextFile(`${dir}/entry.ts`, `console.log("compiled:" + Deno.args.join(","));\n`);
      const env = {
        DENO: Deno.execPath(),
        DIST_DIR: `${dir}/dist`,
        AWS_CNI_ENTRY: `${dir}/entry.ts`,
        EGRESS_CNI_ENTRY: `${dir}/entry.ts`,
        IPAMD_ENTRY: `${dir}/entry.ts`,
      };
      const out = await new Deno.Command("nsenter", {
        args: [`--net=/var/run/netns/${ns}`, "--", "env", "-u", "DENORT_BIN", "bash", SCRIPT],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const built = [...Deno.readDirSync(`${dir}/dist`)].map((e) => e.name).sort();
      if (out.code !== 0) {
        assert.match(text, /could not get the denort base binary/);
        assert.match(text, /DENORT_BIN=\/path\/to\/denort/);
        assert.deepEqual(built, [], "no partial binary left behind");
      } else {
        // A denort was cached: the result must be a real ELF executable that runs the entry point.
        assert.deepEqual(built, ["aws-cni", "egress-cni", "ipamd"]);
        const head = Deno.readFileSync(`${dir}/dist/aws-cni`).subarray(0, 4);
        assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46]);
        const run = await new Deno.Command(`${dir}/dist/aws-cni`, { args: ["x"], stdout: "piped" }).output();
        assert.equal(new TextDecoder().decode(run.stdout).trim(), "compiled:x");
      }
    } finally {
      await new Deno.Command("ip", { args: ["netns", "del", ns] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compile.sh bakes ipamd's V8 flags (src/ipamd/process_memory.ts IPAMD_V8_FLAGS)", async () => {
  const { IPAMD_V8_FLAGS } = await import("../src/ipamd/process_memory.ts");
  const sh = await Deno.readTextFile(new URL("../compile.sh", import.meta.url));
  assert.match(sh, new RegExp(`^IPAMD_V8_FLAGS="${IPAMD_V8_FLAGS.join(",")}"$`, "m"));
  assert.match(sh, /compile "\$IPAMD_ENTRY" ipamd .*"--v8-flags=\$IPAMD_V8_FLAGS"/);
});
