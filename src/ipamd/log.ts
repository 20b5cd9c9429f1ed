/** JSON-lines logger for ipamd: one object per line with ts, level, msg and fields; secrets are redacted. */

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const SECRET = /token|secret|password|authorization|credential|session/i;

/** Writes JSON lines to a file (appending, created 0640) or to stdout. */
export class Logger {
  readonly #enc = new TextEncoder();
  readonly #file?: Deno.FsFile;
  constructor(readonly level: LogLevel, dest: string, private readonly fields: Record<string, unknown> = {}) {
    if (dest !== "stdout" && dest !== "") {
      const dir = dest.replace(/\/[^/]*$/, "");
      if (dir && dir !== dest) Deno.mkdirSync(dir, { recursive: true });
      this.#file = Deno.openSync(dest, { append: true, create: true, mode: 0o640 });
    }
  }
  /** Redacts any field whose name looks like a secret. */
  static redact(fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      out[k] = SECRET.test(k) ? "[redacted]" : v instanceof Error ? `${v.name}: ${v.message}` : v;
    }
    return out;
  }
  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const line = JSON.stringify({
      ts: new Date().toISOString(),
      level,
      msg,
      ...Logger.redact({ ...this.fields, ...fields }),
    });
    const bytes = this.#enc.encode(line + "\n");
    try {
      if (this.#file) this.#file.writeSync(bytes);
      else Deno.stdout.writeSync(bytes);
    } catch { /* logging never takes ipamd down */ }
  }
  debug(msg: string, f?: Record<string, unknown>): void {
    this.log("debug", msg, f);
  }
  info(msg: string, f?: Record<string, unknown>): void {
    this.log("info", msg, f);
  }
  warn(msg: string, f?: Record<string, unknown>): void {
    this.log("warn", msg, f);
  }
  error(msg: string, f?: Record<string, unknown>): void {
    this.log("error", msg, f);
  }
  close(): void {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
  }
}
