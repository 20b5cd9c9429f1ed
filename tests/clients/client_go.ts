/**
 * Runs the client-go conformance program (tests/clients/client_go/, built by harness/go_clients.ts) inside a lab
 * node's network namespace, its JSON lines read as they come.
 * @module
 */
import { buildClientGo } from "../../harness/go_clients.ts";

// deno-lint-ignore no-explicit-any -- the program's JSON lines are checked field by field
export type Line = Record<string, any>;

/** A running scenario: its output lines as they arrive, stdin for go-aheads, and its end. */
export interface ClientRun {
  /** The next line (undefined when the program ended first). */
  next(): Promise<Line | undefined>;
  /** Writes one line to its stdin. */
  send(line: string): Promise<void>;
  /** Waits for the exit; resolves to the code and stderr. */
  done(): Promise<{ code: number; stderr: string; lines: Line[] }>;
}

/** Runs `scenario` inside the named network namespace with `env` (KUBECONFIG and feature gates). */
export async function runClientGo(
  netns: string,
  scenario: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 300_000,
): Promise<ClientRun> {
  const { path } = await buildClientGo();
  const child = new Deno.Command("nsenter", {
    args: [`--net=/run/netns/${netns}`, "--", path, scenario, ...args],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  const lines: Line[] = [];
  let buf = "";
  const next = async (): Promise<Line | undefined> => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.trim()) continue;
        const line = JSON.parse(text) as Line;
        lines.push(line);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buf += value;
    }
  };
  return {
    next,
    send: async (line) => await writer.write(new TextEncoder().encode(line + "\n")),
    done: async () => {
      while (await next() !== undefined) { /* drain */ }
      await writer.close().catch(() => {});
      const status = await child.status;
      clearTimeout(killer);
      return { code: status.code, stderr: await stderr, lines };
    },
  };
}
