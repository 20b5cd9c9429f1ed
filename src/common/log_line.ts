/**
 * The JSON-lines log format shared by the plugin and ipamd: one object per line with `ts`, `level`, `msg`,
 * then the fields. Pure (no npm, no I/O); each logger decides where lines go.
 * @module
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Severity rank of each level (higher is more severe). */
export const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** One log line, newline included. */
export function jsonLine(level: LogLevel, msg: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + "\n";
}

/** `debug`/`info`/`warn`/`error` shorthands over a logger's `log`. */
export abstract class LevelLogger {
  abstract log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
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
}
