/**
 * Writes the datastore's assignments to the checkpoint file in order: each write sees every change made
 * before it, and callers arriving while a write waits to start share it (one write for a burst of ADDs). A
 * failed write is logged and counted (`awscni_ipamd_error_count{fn="checkpoint"}`) and rejects its callers.
 * @module
 */
import { toCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import type { Datastore } from "./datastore.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";

/** The serialised checkpoint writes of one datastore. */
export class CheckpointWriter {
  #last: Promise<void> = Promise.resolve();
  #queued?: Promise<void>;

  constructor(
    readonly path: string,
    readonly ds: Datastore,
    readonly opts: { metrics: IpamdMetrics; log: Logger },
  ) {}

  /** Writes the current assignments (or joins the write waiting to start); resolves once written. */
  write(): Promise<void> {
    if (this.#queued) return this.#queued;
    const p = this.#last.then(() => {
      this.#queued = undefined;
      return writeCheckpoint(this.path, toCheckpoint(this.ds.assignments()));
    });
    this.#queued = p;
    this.#last = p.catch((e) => {
      this.opts.metrics.ipamdErr.inc({ fn: "checkpoint" });
      this.opts.log.error("checkpoint write failed", { err: e });
    });
    return p;
  }

  /** Resolves once every write started so far has ended (failed ones included). */
  settled(): Promise<void> {
    return this.#last;
  }
}
