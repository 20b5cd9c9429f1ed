/**
 * The Python clients (`tests/clients/python/requirements.txt`: boto3, botocore, moto) in one virtualenv,
 * cached under the shared build cache by the hash of the requirements and the Python version, so a second
 * run installs nothing. Packages come from PyPI through pip.
 * @module
 */
import { join } from "node:path";
import { buildCacheDir, present, withBuildLock } from "../../src/sim/go_build.ts";

const REQUIREMENTS = new URL("./python/requirements.txt", import.meta.url).pathname;
/** The directory of the Python scripts the tests run. */
export const PYTHON_DIR: string = new URL("./python/", import.meta.url).pathname;

async function run(cmd: string[], what: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  const text = dec.decode(out.stdout) + dec.decode(out.stderr);
  if (!out.success) throw new Error(`${what}: ${cmd.join(" ")} failed (exit ${out.code}):\n${text.trim()}`);
  return text;
}

/** The venv's python, installing the requirements first when this set is not cached yet. */
export async function ensurePythonEnv(): Promise<{ python: string; installed: boolean }> {
  const version = (await run(["python3", "--version"], "python3")).trim();
  const reqs = await Deno.readTextFile(REQUIREMENTS);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${version}\0${reqs}`));
  const hash = [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
  const dir = join(buildCacheDir(), "py", `aws-clients-${hash}`);
  const python = join(dir, "bin", "python");
  const done = join(dir, ".installed");
  if (await present(done)) return { python, installed: false };
  return await withBuildLock("python-aws-clients", async () => {
    if (await present(done)) return { python, installed: false };
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(join(buildCacheDir(), "py"), { recursive: true });
    await run(["python3", "-m", "venv", dir], "creating the Python venv");
    await run(
      [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS],
      "installing the Python clients from PyPI",
    );
    await Deno.writeTextFile(done, `${version}\n${reqs}`);
    return { python, installed: true };
  });
}
