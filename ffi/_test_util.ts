/**
 * Test fixtures for ffi/: uniquely named namespaces created with `ip netns add`
 * (fixture creation only) and always removed.
 *
 * @module
 */

/** A unique name: prefix + 6 random hex chars (keep prefix ≤ 9 chars for link names). */
export function uniq(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 6)}`;
}

/** Run a command; returns its exit code and output. */
export function run(cmd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const d = new TextDecoder();
  return { code: o.code, stdout: d.decode(o.stdout), stderr: d.decode(o.stderr) };
}

/** `ip -n ns -j <args>` parsed. */
export function ipJson(ns: string, ...args: string[]): Array<Record<string, unknown>> {
  const r = run("ip", "-n", ns, "-j", ...args);
  if (r.code !== 0) throw new Error(`ip -n ${ns} -j ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

/** Create `n` namespaces, run fn with their names, always delete them. */
export async function withTempNetns<T>(n: number, fn: (names: string[]) => T | Promise<T>): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const name = uniq("tffi");
      const r = run("ip", "netns", "add", name);
      if (r.code !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
      names.push(name);
    }
    return await fn(names);
  } finally {
    for (const name of names) run("ip", "netns", "del", name);
  }
}

/** The calling thread's netns inode. */
export function threadNetnsInode(): number {
  return Deno.statSync("/proc/thread-self/ns/net").ino ?? 0;
}
