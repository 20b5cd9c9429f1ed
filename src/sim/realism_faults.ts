/**
 * The lab's injected faults and their `--faults` syntax:
 * `throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.1,consistency-lag=2s,attach-lag=1s,lost-response=0.2`.
 */

/** Injected faults. Probabilities are in [0, 1]; lags in ms. */
export interface Faults {
  /** Chance a call answers RequestLimitExceeded regardless of the buckets. */
  throttle: number;
  /** Chance a call answers 500 InternalError (nothing changes). */
  serverError: number;
  /** Chance an AttachNetworkInterface fails with 500 InternalError (nothing changes). */
  attachFail: number;
  /** How long after EC2 an attached ENI / assigned IP shows up in IMDS. */
  imdsLagMs: number;
  /**
   * EC2's eventual consistency: for up to this long (each new thing draws its own lag, seeded, between half of
   * it and all of it) Describe* calls do not show a new ENI (by ID: `InvalidNetworkInterfaceID.NotFound`) or
   * the addresses newly assigned to one.
   */
  consistencyLagMs: number;
  /** How long an attachment stays `attaching` before `attached` (and a detach at least this long `detaching`). */
  attachLagMs: number;
  /**
   * Chance a mutating call that succeeded loses its answer: EC2 committed the change, then the caller gets a
   * 500 InternalError or the connection drops in the middle of the answer (half each).
   */
  lostResponse: number;
}

/** No faults. */
export const NO_FAULTS: Readonly<Faults> = {
  throttle: 0,
  serverError: 0,
  attachFail: 0,
  imdsLagMs: 0,
  consistencyLagMs: 0,
  attachLagMs: 0,
  lostResponse: 0,
};

function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a duration: "${text}" (use e.g. 500ms, 2s)`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
}

function parseProbability(key: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new RangeError(`fault ${key} needs a probability in [0, 1], got "${text}"`);
  }
  return n;
}

/** Each spec key: its field in `Faults` and whether its value is a probability or a duration. */
const KEYS: Readonly<Record<string, { field: keyof Faults; kind: "p" | "ms" }>> = {
  "throttle": { field: "throttle", kind: "p" },
  "5xx": { field: "serverError", kind: "p" },
  "imds-lag": { field: "imdsLagMs", kind: "ms" },
  "attach-fail": { field: "attachFail", kind: "p" },
  "consistency-lag": { field: "consistencyLagMs", kind: "ms" },
  "attach-lag": { field: "attachLagMs", kind: "ms" },
  "lost-response": { field: "lostResponse", kind: "p" },
};

/** Parses the `--faults` syntax ("" means no faults). Throws RangeError naming the bad part. */
export function parseFaults(spec: string): Faults {
  const f: Faults = { ...NO_FAULTS };
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new RangeError(`fault "${part}" needs a value (key=value)`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const k = KEYS[key];
    if (!k) throw new RangeError(`unknown fault "${key}" (known: ${Object.keys(KEYS).join(", ")})`);
    f[k.field] = k.kind === "p" ? parseProbability(key, value) : parseDurationMs(value);
  }
  return f;
}

/** Formats faults back to the spec syntax (only non-zero entries, in the syntax's order). */
export function formatFaults(f: Faults): string {
  return Object.entries(KEYS)
    .filter(([, k]) => f[k.field])
    .map(([key, k]) => `${key}=${f[k.field]}${k.kind === "ms" ? "ms" : ""}`)
    .join(",");
}
