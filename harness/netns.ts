/**
 * Test network namespaces with random names: create, run a command inside, delete. Root only.
 * Names are `<prefix>-<6 hex>`; paths are `/var/run/netns/<name>`.
 * @module
 */

/** A random lowercase hex suffix of `n` characters. */
export function randomSuffix(n = 6): string {
  const b = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").slice(0, n);
}

/** Output of a command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command and captures its output (never throws on a non-zero exit). */
export async function run(
  cmd: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
    clearEnv: opts.env !== undefined,
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** Runs a command and throws with its output when it fails. */
export async function runOk(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A test namespace. */
export class TestNetns {
  readonly name: string;
  readonly path: string;
  #deleted = false;

  private constructor(name: string) {
    this.name = name;
    this.path = `/var/run/netns/${name}`;
  }

  /** Creates `<prefix>-<random>` (prefix default `t`), with `lo` up. */
  static async create(prefix = "t"): Promise<TestNetns> {
    const ns = new TestNetns(`${prefix}-${randomSuffix()}`);
    await runOk(["ip", "netns", "add", ns.name]);
    try {
      await runOk(["ip", "-n", ns.name, "link", "set", "lo", "up"]);
    } catch (e) {
      await ns.delete();
      throw e;
    }
    return ns;
  }

  /** Runs `cmd` inside the namespace (`nsenter --net=<path>`). */
  exec(cmd: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
    return run(["nsenter", `--net=${this.path}`, "--", ...cmd], opts);
  }

  /** Like exec, but throws when the command fails. */
  async execOk(cmd: string[]): Promise<string> {
    const r = await this.exec(cmd);
    if (r.code !== 0) {
      throw new Error(`[${this.name}] ${cmd.join(" ")} exited ${r.code}: ${r.stderr || r.stdout}`);
    }
    return r.stdout;
  }

  /** Whether the namespace still exists. */
  exists(): boolean {
    try {
      Deno.statSync(this.path);
      return true;
    } catch {
      return false;
    }
  }

  /** Deletes the namespace (idempotent). */
  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    if (this.exists()) await run(["ip", "netns", "delete", this.name]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.delete();
  }
}

/** Creates namespaces, runs `fn`, and deletes them all whatever happens. */
export async function withNetns<T>(prefixes: string[], fn: (...ns: TestNetns[]) => Promise<T>): Promise<T> {
  const made: TestNetns[] = [];
  try {
    for (const p of prefixes) made.push(await TestNetns.create(p));
    return await fn(...made);
  } finally {
    for (const ns of made.reverse()) await ns.delete();
  }
}
