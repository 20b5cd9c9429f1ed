/**
 * Runs one command under GNU time, as a runtime runs a CNI plugin (clean env, stdin piped), and reports
 * wall time (spawn to exit), CPU time and peak RSS (GNU time's %M, from wait4's rusage). CPU time is exact:
 * {@linkcode childrenCpuMs} before and after (the ~1 ms of GNU time itself included), so calls must not
 * overlap with other children of this process. Shared by the bench (P6) and `tools/measure_startup.ts`.
 * @module
 */

const TIME = "/usr/bin/time";

let getrusage: ((who: number, buf: BigInt64Array<ArrayBuffer>) => number) | undefined;

/** CPU ms (user + system) of every child of this process reaped so far (getrusage RUSAGE_CHILDREN). */
export function childrenCpuMs(): number {
  getrusage ??=
    Deno.dlopen("libc.so.6", { getrusage: { parameters: ["i32", "buffer"], result: "i32" } } as const)
      .symbols.getrusage;
  const ru = new BigInt64Array(18); // struct rusage: two timevals, then 14 longs
  if (getrusage(-1, /* RUSAGE_CHILDREN */ ru) !== 0) throw new Error("getrusage failed");
  return Number(ru[0] + ru[2]) * 1000 + Number(ru[1] + ru[3]) / 1000;
}

/** One measured run. */
export interface TimedRun {
  ms: number;
  /** user + system CPU time of the command (and of GNU time, ~1 ms). */
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
    const c0 = childrenCpuMs();
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
    const cpuMs = childrenCpuMs() - c0;
    const last = (await Deno.readTextFile(out)).trim().split("\n").at(-1) ?? "";
    const [rss, user, sys] = last.split(" ").map(Number);
    if (![rss, user, sys].every(Number.isFinite)) throw new Error(`GNU time wrote no figures: "${last}"`);
    return {
      ms,
      cpuMs,
      rssKiB: rss,
      code: o.code,
      stdout: new TextDecoder().decode(o.stdout),
    };
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}
