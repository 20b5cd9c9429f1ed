/**
 * One cache for every Go build the lab and the tests make: module downloads (GOMODCACHE), compiled packages
 * (GOCACHE) and the finished binaries (the CNI reference plugins, the libcni driver, the CRI client) all live
 * under {@linkcode buildCacheDir}, so a second run builds nothing. Go is the one on PATH (the pre-installed
 * Go 1.26 at /usr/local/go on the project's machines); modules come from the Go module proxy.
 * @module
 */
import { join } from "node:path";

/** `$VPC_CNI_TEST_CACHE`, else `/var/cache/vpc-cni-tests`. */
export function buildCacheDir(): string {
  return Deno.env.get("VPC_CNI_TEST_CACHE") ?? "/var/cache/vpc-cni-tests";
}

/** The go command: `$VPC_CNI_GO`, else `go` on PATH, else `/usr/local/go/bin/go`. */
export function goBinary(): string {
  const env = Deno.env.get("VPC_CNI_GO");
  if (env) return env;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    try {
      if (Deno.statSync(join(dir, "go")).isFile) return join(dir, "go");
    } catch { /* not here */ }
  }
  return "/usr/local/go/bin/go";
}

/** The environment every go command runs with: the shared caches, no toolchain switching, no cgo. */
export function goEnv(): Record<string, string> {
  const dir = join(buildCacheDir(), "go");
  return {
    GOCACHE: join(dir, "build"),
    GOMODCACHE: join(dir, "mod"),
    GOPATH: join(dir, "path"),
    GOTOOLCHAIN: "local",
    GOFLAGS: "-buildvcs=false",
    CGO_ENABLED: "0",
  };
}

/** A go command failed; the message says what was built and, when the proxy was unreachable, says so. */
export class GoBuildError extends Error {
  constructor(what: string, args: string[], output: string) {
    const proxy = Deno.env.get("GOPROXY") ?? "https://proxy.golang.org,direct";
    const offline =
      /dial tcp|no such host|connection refused|i\/o timeout|TLS handshake|network is unreachable|GOPROXY=off/
        .test(output);
    super(
      offline
        ? `${what}: the Go module proxy is unreachable (GOPROXY=${proxy}). The first run downloads Go modules ` +
          `into ${goEnv().GOMODCACHE}; later runs need no network.\n${output.trim()}`
        : `${what}: go ${args.join(" ")} failed:\n${output.trim()}`,
    );
    this.name = "GoBuildError";
  }
}

/** Runs go with {@linkcode goEnv}; resolves to stdout, throws {@linkcode GoBuildError}. */
export async function runGo(args: string[], o: { what: string; cwd?: string; env?: Record<string, string> }) {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(goBinary(), {
      args,
      cwd: o.cwd,
      env: { ...goEnv(), ...o.env },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new GoBuildError(o.what, args, `cannot run ${goBinary()}: ${(e as Error).message}`);
  }
  const dec = new TextDecoder();
  if (!out.success) throw new GoBuildError(o.what, args, dec.decode(out.stdout) + dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

/** Runs `fn` holding an exclusive lock on `<cache>/locks/<name>.lock` (other processes building wait). */
export async function withBuildLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(buildCacheDir(), "locks");
  await Deno.mkdir(dir, { recursive: true });
  using f = await Deno.open(join(dir, `${name}.lock`), { create: true, write: true });
  await f.lock(true);
  try {
    return await fn();
  } finally {
    await f.unlock();
  }
}

/** Whether `path` exists. */
export async function present(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A Go main package in the repository: its dir (with go.mod and go.sum) and the binary name. */
export interface GoProgram {
  name: string;
  dir: string;
}

/**
 * Builds `p` into `<cache>/bin/<name>-<hash>` unless that exists; the hash covers every .go file, go.mod,
 * go.sum and `go version`. Resolves to the binary's path and whether it was built now.
 */
export async function ensureGoProgram(p: GoProgram): Promise<{ path: string; built: boolean }> {
  const files = [...Deno.readDirSync(p.dir)].map((e) => e.name)
    .filter((n) => n.endsWith(".go") || n === "go.mod" || n === "go.sum").sort();
  const parts = [await runGo(["version"], { what: p.name }), ...files];
  for (const f of files) parts.push(await Deno.readTextFile(join(p.dir, f)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  const hash = [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
  const path = join(buildCacheDir(), "bin", `${p.name}-${hash}`);
  if (await present(path)) return { path, built: false };
  return await withBuildLock(p.name, async () => {
    if (await present(path)) return { path, built: false };
    await Deno.mkdir(join(buildCacheDir(), "bin"), { recursive: true });
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await runGo(["build", "-mod=readonly", "-trimpath", "-o", tmp, "."], {
        what: `building ${p.name} (${p.dir})`,
        cwd: p.dir,
      });
      await Deno.rename(tmp, path);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    return { path, built: true };
  });
}
