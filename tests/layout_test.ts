/**
 * The layering docs/ARCHITECTURE.md's "Layout" table states, checked on every import (static and dynamic) of
 * every module but unit tests (`*_test.ts`, which may use test helpers wherever they sit): product code (`src/`,
 * `ffi/`) imports no test, tool or harness code; `ffi/` imports nothing else of ours; `harness/` (shared by
 * tests and tools) imports neither tests nor tools; `tools/` imports no test code.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory && e.name !== "vendor" && e.name !== "node_modules") yield* tsFiles(p);
    else if (e.isFile && p.endsWith(".ts")) yield p;
  }
}

/** Every relative module a file imports (import/export … from, import()), as a path from the repo's root. */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(file);
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm),
    ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  return specs.filter((s) => s.startsWith(".")).map((s) => relative(ROOT, resolve(dirname(file), s)));
}

/** `from/` modules (not unit tests) that import anything under one of `forbidden/`, as "file → module" lines. */
async function violations(from: string, forbidden: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const f of tsFiles(join(ROOT, from))) {
    if (f.endsWith("_test.ts")) continue;
    for (const m of await importsOf(f)) {
      if (forbidden.some((d) => m.startsWith(d))) out.push(`${relative(ROOT, f)} → ${m}`);
    }
  }
  return out;
}

Deno.test("layout: the scan sees imports (a file known to import harness/ code)", async () => {
  assert.ok((await importsOf(join(ROOT, "tools/go_programs.ts"))).includes("harness/go_clients.ts"));
});

for (
  const [from, forbidden] of [
    ["src", ["tests/", "tools/", "harness/"]],
    ["ffi", ["tests/", "tools/", "harness/", "src/"]],
    ["harness", ["tests/", "tools/"]],
    ["tools", ["tests/"]],
  ] as const
) {
  Deno.test(`layout: ${from}/ imports nothing from ${forbidden.join(", ")}`, async () => {
    assert.deepEqual(await violations(from, [...forbidden]), []);
  });
}
