/**
 * Per-call phase timings of a plugin run (aws-cni, egress-cni): each phase's wall time (`performance.now`)
 * and, with `VPC_CNI_TRACE=1`, the process's CPU time (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: every
 * thread, user + system). The run logs them as one `phases` line (at debug level, or always with
 * `VPC_CNI_TRACE=1`); `docs/PERFORMANCE.md` reads them. The first phase, `start`, is exec to the first module
 * evaluated (see the constructor); the bench adds the wall time the runtime saw. Untraced, a mark is one
 * clock read.
 * @module
 */

/** One phase: wall ms, and the process's CPU ms when traced. */
export type PhaseTimes = [wallMs: number, cpuMs?: number];

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Main-thread [on-CPU ns, run-queue wait ns] as last accounted by the scheduler, or undefined off Linux. */
export function threadSchedNs(): [number, number] | undefined {
  try {
    const [run, wait] = Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ").map(Number);
    return [run, wait];
  } catch {
    return undefined;
  }
}

const CLOCK_PROCESS_CPUTIME_ID = 2;

/**
 * A reader of this process's CPU time in ms (every thread, user + system; exact), or undefined without
 * libc. Binding it costs a fraction of a millisecond, so only a traced run makes one.
 */
export function processCpuClock(): (() => number) | undefined {
  try {
    const { clock_gettime } = Deno.dlopen(
      "libc.so.6",
      {
        clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
      } as const,
    ).symbols;
    const ts = new BigInt64Array(2);
    return () => {
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, ts);
      return Number(ts[0]) * 1e3 + Number(ts[1]) / 1e6;
    };
  } catch {
    return undefined;
  }
}

/**
 * This process's memory from /proc/self/status, in KiB: `hwm` the peak RSS so far (VmHWM), `anon` and `file`
 * the current RSS's anonymous and file-backed parts (RssAnon, RssFile); undefined off Linux.
 */
export function processMemKiB(): { hwm: number; anon: number; file: number } | undefined {
  try {
    const s = Deno.readTextFileSync("/proc/self/status");
    const kib = (k: string) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m"))?.[1]);
    const m = { hwm: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile") };
    return Object.values(m).every(Number.isFinite) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The phases of one run, marked in order. */
export class PhaseTrace {
  readonly phases: Record<string, PhaseTimes> = {};
  /** Epoch ms when the trace began (the first module evaluated). */
  readonly epochMs: number;
  #wall: number;
  #cpuClock?: () => number;
  #cpu = 0;

  /**
   * `cpu`: also read the process's CPU time at every mark. The `start` phase is then the main thread's
   * on-CPU + run-queue time since exec (scheduler accounting: a lower bound of the wall time) and the
   * process's CPU time since exec; the clock's own set-up counts as phase `trace`.
   */
  constructor(readonly cpu: boolean) {
    this.#wall = performance.now();
    this.epochMs = performance.timeOrigin + this.#wall;
    if (!cpu) return;
    const sched = threadSchedNs();
    this.#cpuClock = processCpuClock();
    if (!this.#cpuClock) return;
    this.#cpu = this.#cpuClock();
    if (sched) this.phases.start = [round((sched[0] + sched[1]) / 1e6)];
    this.mark("trace");
  }

  /** Ends the current phase as `name` (a repeated name adds up). */
  mark(name: string): void {
    const wall = performance.now();
    const ms = wall - this.#wall;
    this.#wall = wall;
    let cpuMs: number | undefined;
    if (this.#cpuClock) {
      const c = this.#cpuClock();
      cpuMs = c - this.#cpu;
      this.#cpu = c;
    }
    this.add(name, ms, cpuMs);
  }

  /** Records a phase measured elsewhere (e.g. ipamd's own handling, from its `Server-Timing`). */
  add(name: string, ms: number, cpuMs?: number): void {
    const p = this.phases[name];
    const w = round((p?.[0] ?? 0) + ms);
    this.phases[name] = cpuMs === undefined ? [w] : [w, round((p?.[1] ?? 0) + cpuMs)];
  }

  /**
   * The fields of the `phases` log line: `totalMs` sums the phases after `start` (sub-phases, named
   * `x/y` after another process's steps such as `ipamd/assign`, are inside their parent); when traced,
   * `cpuMs` is the process's CPU time since exec and `memKiB` its memory now ({@linkcode processMemKiB}).
   */
  fields(): Record<string, unknown> {
    let total = 0;
    for (const [name, [ms]] of Object.entries(this.phases)) {
      if (name !== "start" && !name.includes("/")) total += ms;
    }
    return {
      epochMs: round(this.epochMs),
      totalMs: round(total),
      ...(this.#cpuClock ? { cpuMs: round(this.#cpuClock()) } : {}),
      ...(this.cpu ? { memKiB: processMemKiB() } : {}),
      phases: this.phases,
    };
  }
}

function traceWanted(): boolean {
  try {
    return Deno.env.get("VPC_CNI_TRACE") === "1";
  } catch {
    return false;
  }
}

/** The process's trace, started when this module is first evaluated (import it first). */
export const trace: PhaseTrace = new PhaseTrace(traceWanted());
