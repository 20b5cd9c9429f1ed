/**
 * Runs `deno test -A --no-check=remote <args>`, passing its output through, and reads the counts off the
 * summary line it ends with (`ok | 12 passed (3 steps) | 0 failed | 2 ignored (1s)`).
 * @module
 */

/** The exit code of `deno test`, and its counts when the summary line was found. */
export interface DenoTestRun {
  code: number;
  counts?: { passed: number; failed: number; skipped: number };
}

/** Runs `deno test` over `args` with `env` added to ours; stdout goes through, stderr is inherited. */
export async function runDenoTest(args: string[], env?: Record<string, string>): Promise<DenoTestRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check=remote", ...args],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let tail = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    tail = (tail + dec.decode(chunk, { stream: true })).slice(-4000);
  }
  const status = await child.status;
  const clean = tail.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
  const m = clean.match(/(\d+) passed.*?\| (\d+) failed(?: \| (\d+) ignored)?/);
  return {
    code: status.code,
    counts: m ? { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) } : undefined,
  };
}
