/**
 * Keeps one process running like a DaemonSet pod: restarts it when it exits, with a growing backoff that
 * resets after it has stayed up a while; counts restarts and records the current pid.
 */

/** What to run. */
export interface ProcessSpec {
  name: string;
  argv: string[];
  /** The process's whole environment (nothing else is inherited); default: ours. */
  env?: Record<string, string>;
}

/** Supervision knobs (milliseconds). */
export interface SupervisorOptions {
  /** First restart delay. Default 500. */
  backoffMs?: number;
  /** Backoff cap. Default 10 000. */
  maxBackoffMs?: number;
  /** Uptime after which the backoff resets. Default 30 000. */
  resetAfterMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 3000. */
  stopGraceMs?: number;
  log?: (line: string) => void;
}

/** Runs and restarts one process until stop(). */
export class Supervisor {
  readonly spec: ProcessSpec;
  #opts: Required<SupervisorOptions>;
  #child?: Deno.ChildProcess;
  #stopping = false;
  #restarts = 0;
  #exits: { code: number; signal: string | null; at: string }[] = [];
  #loop?: Promise<void>;
  #wake?: () => void;

  constructor(spec: ProcessSpec, opts: SupervisorOptions = {}) {
    this.spec = spec;
    this.#opts = {
      backoffMs: opts.backoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      resetAfterMs: opts.resetAfterMs ?? 30_000,
      stopGraceMs: opts.stopGraceMs ?? 3000,
      log: opts.log ?? ((l) => console.error(l)),
    };
  }

  /** The running process's pid, or undefined between runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** How many times the process was started again after exiting. */
  get restarts(): number {
    return this.#restarts;
  }
  /** The last few exits, newest last. */
  get exits(): { code: number; signal: string | null; at: string }[] {
    return [...this.#exits];
  }

  /** Starts supervising (idempotent). */
  start(): void {
    if (this.#loop) return;
    this.#stopping = false;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    let backoff = this.#opts.backoffMs;
    for (let first = true; !this.#stopping; first = false) {
      if (!first) this.#restarts++;
      const started = Date.now();
      let status: Deno.CommandStatus;
      try {
        this.#child = new Deno.Command(this.spec.argv[0], {
          args: this.spec.argv.slice(1),
          env: this.spec.env,
          clearEnv: this.spec.env !== undefined,
          stdin: "null",
          stdout: "inherit",
          stderr: "inherit",
        }).spawn();
        this.#opts.log(`supervisor: ${this.spec.name} started, pid ${this.#child.pid}`);
        status = await this.#child.status;
      } catch (e) {
        this.#opts.log(`supervisor: ${this.spec.name} failed to start: ${(e as Error).message}`);
        status = { success: false, code: 127, signal: null };
      }
      this.#child = undefined;
      this.#exits = [...this.#exits.slice(-9), {
        code: status.code,
        signal: status.signal,
        at: new Date().toISOString(),
      }];
      if (this.#stopping) break;
      if (Date.now() - started >= this.#opts.resetAfterMs) backoff = this.#opts.backoffMs;
      this.#opts.log(
        `supervisor: ${this.spec.name} exited code ${status.code}${
          status.signal ? ` signal ${status.signal}` : ""
        }` +
          `; restarting in ${backoff} ms`,
      );
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.#wake = undefined;
      backoff = Math.min(backoff * 2, this.#opts.maxBackoffMs);
    }
  }

  /** Stops the process (SIGTERM, then SIGKILL after the grace period) and stops restarting it. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    const child = this.#child;
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, this.#opts.stopGraceMs);
      await child.status.catch(() => {});
      clearTimeout(t);
    }
    await this.#loop;
    this.#loop = undefined;
  }
}
