/**
 * How ipamd reads one environment variable: unset and blank are the same, a bad value is a
 * {@link ConfigError} naming the variable, its value and what it accepts.
 * @module
 */

/** A bad environment value; the message names the variable, its value and what it accepts. */
export class ConfigError extends Error {
  /** The offending variable. */
  readonly variable: string;
  constructor(variable: string, value: string, accepts: string) {
    super(`${variable}=${JSON.stringify(value)}: expected ${accepts}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

/** The environment, by upstream's variable names. */
export type Env = Record<string, string | undefined>;

/** The variable's text; unset or blank is undefined (upstream's `os.Getenv(x) == ""`). */
export function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v;
}

/** `true`/`false`/`1`/`0` (any case); `dflt` when unset. */
export function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase();
  if (s === "true" || s === "1") return true;
  if (s === "false" || s === "0") return false;
  throw new ConfigError(name, v, "true or false (or 1/0)");
}

/** A whole number in [min, max]; undefined when unset. */
export function int(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  const s = v.trim();
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
    const what = max === Number.MAX_SAFE_INTEGER
      ? `a whole number ≥ ${min}`
      : `a whole number from ${min} to ${max}`;
    throw new ConfigError(name, v, what);
  }
  return n;
}

/** One of `values` (any case); `dflt` when unset. */
export function oneOf<T extends string>(env: Env, name: string, values: readonly T[], dflt: T): T {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase() as T;
  if (!values.includes(s)) throw new ConfigError(name, v, `one of ${values.join(", ")}`);
  return s;
}

/** The trimmed text; `dflt` when unset. */
export function str(env: Env, name: string, dflt: string): string {
  return raw(env, name)?.trim() ?? dflt;
}

/** An IP target: unset, 0 or negative (upstream: "non-positive is the same as not set") are undefined. */
export function ipTarget(env: Env, name: string): number | undefined {
  const v = raw(env, name)?.trim();
  if (v !== undefined && /^-\d+$/.test(v)) return undefined;
  const n = int(env, name, 0);
  return n === 0 ? undefined : n;
}
