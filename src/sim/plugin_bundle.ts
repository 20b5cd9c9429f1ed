/**
 * Our CNI plugins (aws-cni, egress-cni) as `deno bundle` output, which the lab's launchers run with
 * `--no-config --no-lock --cached-only`: one bundled entry plus a chunk per on-demand command module
 * (`--code-splitting` keeps the dynamic imports: VERSION loads no libnl code, an IPv4 ADD no IPv6 code). Run
 * from source, every call resolved deno.json and the npm lockfile and loaded ~30 modules: about 3 ms of CPU
 * per call (docs/PERFORMANCE.md).
 *
 * Bundles live in the shared build cache, `<cache>/plugin-bundles/<name>-<hash>/`, where the hash covers
 * every source file of the plugin's module graph (listed by `deno info` when the bundle was made, kept in a
 * manifest per checkout beside them) and the deno version: a changed source file makes a new bundle.
 * @module
 */
import { join } from "node:path";
import { buildCacheDir, present, withBuildLock } from "./go_build.ts";

/** Where one plugin's bundle was made from and lives. */
interface Manifest {
  hash: string;
  dir: string;
  files: string[];
}

/** The flags a launcher runs a bundle with (no deno.json, no lockfile, nothing fetched). */
export const BUNDLE_RUN_FLAGS = ["--no-config", "--no-lock", "--cached-only"] as const;

/** The bundle's entry file in its directory. */
export const BUNDLE_ENTRY = "main.js";

async function sha256(parts: (string | Uint8Array)[]): Promise<string> {
  const enc = new TextEncoder();
  const bytes = parts.map((p) => typeof p === "string" ? enc.encode(p) : p);
  const all = new Uint8Array(bytes.reduce((n, b) => n + b.length + 1, 0));
  let o = 0;
  for (const b of bytes) {
    all.set(b, o);
    o += b.length + 1;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d.slice(0, 8), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The hash of `files` (paths and contents) and the deno version; undefined when one is gone. */
async function sourceHash(files: string[]): Promise<string | undefined> {
  const parts: (string | Uint8Array)[] = [Deno.version.deno];
  for (const f of files) {
    try {
      parts.push(f, await Deno.readFile(f));
    } catch {
      return undefined;
    }
  }
  return await sha256(parts);
}

async function run(deno: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(deno, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`${what} failed: ${dec.decode(out.stderr).trim()}`);
  return dec.decode(out.stdout);
}

/** The local files of `entry`'s module graph (`deno info --json`). */
async function moduleFiles(deno: string, config: string, entry: string): Promise<string[]> {
  const info = JSON.parse(
    await run(deno, ["info", "--json", "--config", config, entry], `deno info ${entry}`),
  );
  return (info.modules as { specifier: string }[])
    .map((m) => m.specifier)
    .filter((s) => s.startsWith("file://"))
    .map((s) => decodeURIComponent(new URL(s).pathname))
    .sort();
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Manifest;
  } catch {
    return undefined;
  }
}

/** A bundle made earlier whose sources are unchanged, if any. */
async function current(manifestPath: string): Promise<string | undefined> {
  const m = await readManifest(manifestPath);
  if (!m || !await present(join(m.dir, BUNDLE_ENTRY))) return undefined;
  return await sourceHash(m.files) === m.hash ? m.dir : undefined;
}

/**
 * The directory holding `name`'s bundle (entry {@linkcode BUNDLE_ENTRY}), made from `repoDir/entry` with
 * `deno` unless an up-to-date one is in the cache.
 */
export async function ensurePluginBundle(
  o: { name: string; entry: string; repoDir: string; deno: string; cacheDir?: string },
): Promise<string> {
  const root = join(o.cacheDir ?? buildCacheDir(), "plugin-bundles");
  // One manifest per checkout and entry (several worktrees share the cache).
  const manifestPath = join(root, `${o.name}-${await sha256([o.repoDir, o.entry])}.json`);
  const hit = await current(manifestPath);
  if (hit) return hit;
  await Deno.mkdir(root, { recursive: true });
  return await withBuildLock(`plugin-bundle-${o.name}`, async () => {
    const again = await current(manifestPath);
    if (again) return again;
    const config = join(o.repoDir, "deno.json");
    const entry = join(o.repoDir, o.entry);
    const files = await moduleFiles(o.deno, config, entry);
    const hash = await sourceHash(files);
    if (!hash) throw new Error(`bundling ${o.name}: a source file vanished while hashing`);
    const dir = join(root, `${o.name}-${hash}`);
    if (!await present(join(dir, BUNDLE_ENTRY))) {
      const tmp = `${dir}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      try {
        await run(
          o.deno,
          [
            "bundle",
            "--quiet",
            "--config",
            config,
            "--platform",
            "deno",
            "--code-splitting",
            "--outdir",
            tmp,
            entry,
          ],
          `deno bundle ${o.entry}`,
        );
        await Deno.rename(
          join(tmp, o.entry.replace(/^.*\//, "").replace(/\.ts$/, ".js")),
          join(tmp, BUNDLE_ENTRY),
        )
          .catch(() => {});
        if (!await present(join(tmp, BUNDLE_ENTRY))) {
          throw new Error(`deno bundle ${o.entry}: no ${BUNDLE_ENTRY}`);
        }
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        await Deno.rename(tmp, dir);
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    }
    const tmpManifest = `${manifestPath}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeTextFile(tmpManifest, JSON.stringify({ hash, dir, files } satisfies Manifest));
    await Deno.rename(tmpManifest, manifestPath);
    return dir;
  });
}
