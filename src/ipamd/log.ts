/** JSON-lines logger for ipamd: one object per line with ts, level, msg and fields; secrets are redacted. */
import { jsonLine, LEVEL_RANK as ORDER, LevelLogger, type LogLevel } from "../common/log_line.ts";

export type { LogLevel };
const SECRET = /token|secret|password|authorization|credential|session/i;

/** Writes JSON lines to a file (appending, created 0640), or to `stdout` or `stderr`. */
export class Logger extends LevelLogger {
  readonly #enc = new TextEncoder();
  readonly #file?: Deno.FsFile;
  readonly #stderr: boolean;
  constructor(readonly level: LogLevel, dest: string, private readonly fields: Record<string, unknown> = {}) {
    super();
    this.#stderr = dest === "stderr";
    if (dest !== "stdout" && dest !== "stderr" && dest !== "") {
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
    const bytes = this.#enc.encode(jsonLine(level, msg, Logger.redact({ ...this.fields, ...fields })));
    try {
      if (this.#file) this.#file.writeSync(bytes);
      else if (this.#stderr) Deno.stderr.writeSync(bytes);
      else Deno.stdout.writeSync(bytes);
    } catch { /* logging never takes ipamd down */ }
  }
  close(): void {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
  }
}
