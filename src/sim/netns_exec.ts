/**
 * Runs a command inside a named network namespace (`nsenter --net=/run/netns/<ns>`), collecting its exit
 * code and output, killed after a deadline: for the tests, the demo and the benchmarks.
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

/** Runs argv inside the named network namespace; never throws on a non-zero exit (default deadline 60 s). */
export async function execInNetns(ns: string, argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
  const child = new Deno.Command("nsenter", {
    args: [`--net=${NETNS_DIR}/${ns}`, "--", ...argv],
    env: o.env,
    stdin: o.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, o.timeoutMs ?? 60_000);
  try {
    if (o.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(o.stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}
