import assert from "node:assert/strict";
import { join } from "node:path";
import { BUNDLE_ENTRY, BUNDLE_RUN_FLAGS, ensurePluginBundle } from "./plugin_bundle.ts";

async function runBundle(dir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...BUNDLE_RUN_FLAGS, join(dir, BUNDLE_ENTRY)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("plugin bundle: made once per source state, dynamic imports kept as chunks, runs without deno.json", async () => {
  const repo = await Deno.makeTempDir({ prefix: "vpc-cni-bundle-" });
  try {
    await Deno.writeTextFile(join(repo, "deno.json"), "{}");
    await Deno.mkdir(join(repo, "src"));
    await Deno.writeTextFile(
      join(repo, "src/main.ts"),
      `import { a } from "./a.ts";\nconst { b } = await import("./b.ts");\nconsole.log(a + b);\n`,
    );
    await Deno.writeTextFile(join(repo, "src/a.ts"), `export const a: string = "a1";\n`);
    await Deno.writeTextFile(join(repo, "src/b.ts"), `export const b: string = "b1";\n`);
    const o = {
      name: "t",
      entry: "src/main.ts",
      repoDir: repo,
      deno: Deno.execPath(),
      cacheDir: join(repo, "c"),
    };
    const d1 = await ensurePluginBundle(o);
    assert.equal(await runBundle(d1), "a1b1");
    const files = [...Deno.readDirSync(d1)].map((e) => e.name);
    assert.ok(files.length >= 2 && files.some((f) => f.startsWith("b-")), `a chunk for b.ts: ${files}`);
    assert.equal(await ensurePluginBundle(o), d1, "unchanged sources: the same bundle");
    await Deno.writeTextFile(join(repo, "src/b.ts"), `export const b: string = "b2";\n`);
    const d2 = await ensurePluginBundle(o);
    assert.notEqual(d2, d1, "a changed dynamic import: a new bundle");
    assert.equal(await runBundle(d2), "a1b2");
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});
