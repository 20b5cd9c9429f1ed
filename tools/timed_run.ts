/**
 * Runs one command under GNU time, as a runtime runs a CNI plugin (clean env, stdin piped), and reports
 * wall time (spawn to exit), CPU time and peak RSS (GNU time's %M/%U/%S, from wait4's rusage).
 * Shared by `tools/bench.ts` (P6) and `tools/measure_startup.ts`.
 * @module
 */

const TIME = "/usr/bin/time";

/** One measured run. */
export interface TimedRun {
  ms: number;
  /** user + system CPU time (GNU time prints it in 10 ms steps). */
  cpuMs: number;
  rssKiB: number;
  code: number;
  stdout: string;
}

/**
 * Runs `argv` (after `prefix`, e.g. `nsenter --net=…`) with only HOME, PATH and `env` set, writing `stdin`.
 * `env` wins over HOME and PATH.
 */
export async function timedRun(
  argv: string[],
  env: Record<string, string>,
  stdin = "",
  prefix: string[] = [],
): Promise<TimedRun> {
  const out = await Deno.makeTempFile();
  try {
    const full = [...prefix, TIME, "-o", out, "-f", "%M %U %S", ...argv];
    const t0 = performance.now();
    const child = new Deno.Command(full[0], {
      args: full.slice(1),
      env: { HOME: Deno.env.get("HOME") ?? "/root", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
    const o = await child.output();
    const ms = performance.now() - t0;
    const last = (await Deno.readTextFile(out)).trim().split("\n").at(-1) ?? "";
    const [rss, user, sys] = last.split(" ").map(Number);
    if (![rss, user, sys].every(Number.isFinite)) throw new Error(`GNU time wrote no figures: "${last}"`);
    return {
      ms,
      cpuMs: (user + sys) * 1000,
      rssKiB: rss,
      code: o.code,
      stdout: new TextDecoder().decode(o.stdout),
    };
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}
