/**
 * Running a command and collecting what it did, killed after a deadline: {@linkcode runCollect} (the lab's
 * container runtime runs the CNI plugins with it) and {@linkcode execInNetns}, the same inside a named
 * network namespace (`nsenter --net=/run/netns/<ns>`) for the tests, the demo and the benchmarks.
 * @module
 */
import { NETNS_DIR } from "./naming.ts";

/** Options of {@linkcode execInNetns}. */
export interface ExecOptions {
  env?: Record<string, string>;
  stdin?: string;
  timeoutMs?: number;
}

/** What the command did. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What {@linkcode runCollect} answers: the exit status and the whole output, decoded. */
export interface Collected extends ExecResult {
  success: boolean;
  signal: Deno.Signal | null;
}

/** Runs argv with `stdin` written to it, SIGKILLs it after `timeoutMs`, and collects its output. */
export async function runCollect(
  argv: string[],
  o: { env?: Record<string, string>; clearEnv?: boolean; stdin?: string; timeoutMs: number },
): Promise<Collected> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: o.env,
    clearEnv: o.clearEnv,
    stdin: o.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, o.timeoutMs);
  try {
    if (o.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(o.stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    const [stdout, stderr] = [dec.decode(out.stdout), dec.decode(out.stderr)];
    return { success: out.success, code: out.code, signal: out.signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs argv inside the named network namespace; never throws on a non-zero exit (default deadline 60 s). */
export async function execInNetns(ns: string, argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
  const r = await runCollect(["nsenter", `--net=${NETNS_DIR}/${ns}`, "--", ...argv], {
    env: o.env,
    stdin: o.stdin,
    timeoutMs: o.timeoutMs ?? 60_000,
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}
