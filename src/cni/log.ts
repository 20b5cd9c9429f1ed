/** JSON-lines logger for the plugin log file (never stdout: stdout belongs to the runtime). */
import { jsonLine, LEVEL_RANK as RANK, LevelLogger, type LogLevel } from "../common/log_line.ts";

/** The log file is moved to `<file>.1` (replacing it) when a run starts with the file above this size. */
export const ROTATE_BYTES = 100 * 1024 * 1024;

/**
 * Appends one JSON object per line to a file; failures to log are swallowed. One plugin run keeps at most
 * the file and one `.1` backup of {@linkcode ROTATE_BYTES}.
 */
export class Logger extends LevelLogger {
  #file: string;
  #min: number;
  #base: Record<string, unknown>;
  #enc = new TextEncoder();
  #opened = false;
  #rotateBytes: number;

  /** `file` may be `stderr`, or empty to drop everything; `base` fields go on every line. */
  constructor(file: string, level: LogLevel, base: Record<string, unknown> = {}, rotateBytes = ROTATE_BYTES) {
    super();
    this.#file = file;
    this.#min = RANK[level];
    this.#base = base;
    this.#rotateBytes = rotateBytes;
  }

  #open(): void {
    this.#opened = true;
    const dir = this.#file.slice(0, this.#file.lastIndexOf("/"));
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    try {
      if (Deno.statSync(this.#file).size >= this.#rotateBytes) Deno.renameSync(this.#file, this.#file + ".1");
    } catch {
      // no file yet, or a parallel run rotated it first
    }
  }

  /** Writes one line at `level` when enabled. */
  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (this.#file === "" || RANK[level] < this.#min) return;
    const data = this.#enc.encode(jsonLine(level, msg, { ...this.#base, ...fields }));
    try {
      if (this.#file === "stderr") {
        Deno.stderr.writeSync(data);
        return;
      }
      if (!this.#opened) this.#open();
      Deno.writeFileSync(this.#file, data, { append: true, mode: 0o644 });
    } catch {
      // logging must never break the plugin
    }
  }
}
