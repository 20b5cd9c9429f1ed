/**
 * Leak protection beyond CNI DEL: watches the pods on this node and releases an assignment whose pod has
 * been gone for longer than the grace period. Assignments without a pod identity are left alone.
 */
import { type Clock, every, systemClock } from "../common/clock.ts";
import type { KubePort, PodEvent, PodInfo } from "../k8s/port.ts";
import { BackgroundFailures } from "./background_failures.ts";
import type { Assignment, Datastore } from "./datastore.ts";
import type { Logger } from "./log.ts";

export interface PodWatchOptions {
  kube: KubePort;
  nodeName: string;
  ds: Datastore;
  graceMs: number;
  /** Releases one leaked assignment (datastore, checkpoint, replan). */
  release: (a: Assignment) => Promise<void>;
  log?: Logger;
  /** Where a failed sweep is logged, counted and listed (task `podSweep`). */
  failures?: BackgroundFailures;
  /** Default `systemClock`. */
  clock?: Clock;
}

const podKey = (ns: string, name: string) => `${ns}/${name}`;
const assignKey = (assignment: Assignment) =>
  JSON.stringify([assignment.netName, assignment.containerId, assignment.ifName]);

/** Tracks the node's pods and sweeps assignments whose pod is gone. */
export class PodWatch {
  readonly #pods = new Map<string, PodInfo>();
  readonly #goneSince = new Map<string, number>();
  #synced = false;
  constructor(readonly opts: PodWatchOptions) {}

  #now(): number {
    return (this.opts.clock ?? systemClock).now();
  }

  /** Applies one watch event. */
  onEvent(event: PodEvent): void {
    if (event.type === "RESYNC") {
      this.#pods.clear();
      for (const p of event.pods) this.#pods.set(podKey(p.namespace, p.name), p);
      this.#synced = true;
    } else if (event.type === "DELETED") this.#pods.delete(podKey(event.pod.namespace, event.pod.name));
    else this.#pods.set(podKey(event.pod.namespace, event.pod.name), event.pod);
  }

  /** Whether the pod behind an assignment exists (same UID when both are known). */
  #present(assignment: Assignment): boolean | undefined {
    const { k8sPodNamespace: ns, k8sPodName: name, k8sPodUid: uid } = assignment.meta;
    if (!ns || !name) return undefined;
    const p = this.#pods.get(podKey(ns, name));
    return !!p && (!uid || !p.uid || p.uid === uid);
  }

  /** Releases assignments whose pod has been gone longer than the grace period; returns how many. */
  async sweep(): Promise<number> {
    if (!this.#synced) return 0;
    const now = this.#now();
    let n = 0;
    const live = new Set<string>();
    for (const a of this.opts.ds.assignments()) {
      const k = assignKey(a);
      live.add(k);
      const present = this.#present(a);
      if (present !== false) {
        this.#goneSince.delete(k);
        continue;
      }
      const since = this.#goneSince.get(k) ?? now;
      this.#goneSince.set(k, since);
      if (now - since >= this.opts.graceMs) {
        this.opts.log?.warn("releasing a leaked IP: its pod is gone", {
          ip: a.ip,
          pod: `${a.meta.k8sPodNamespace}/${a.meta.k8sPodName}`,
          goneForMs: now - since,
        });
        await this.opts.release(a);
        this.#goneSince.delete(k);
        n++;
      }
    }
    for (const k of this.#goneSince.keys()) if (!live.has(k)) this.#goneSince.delete(k);
    return n;
  }

  /** Lists the pods, then watches them until `signal` aborts; sweeps every `sweepEveryMs`. */
  async start(
    signal: AbortSignal,
    sweepEveryMs = Math.min(60_000, Math.max(1_000, this.opts.graceMs / 4)),
  ): Promise<void> {
    try {
      this.onEvent({ type: "RESYNC", pods: await this.opts.kube.listPodsOnNode(this.opts.nodeName) });
    } catch (e) {
      this.opts.log?.warn("could not list pods; leak protection waits for the watch", { err: e });
    }
    const failures = this.opts.failures ??
      new BackgroundFailures({ log: this.opts.log, clock: this.opts.clock });
    const stop = every(
      this.opts.clock ?? systemClock,
      sweepEveryMs,
      () => void failures.run("podSweep", () => this.sweep()),
    );
    signal.addEventListener("abort", stop);
    void this.opts.kube.watchPodsOnNode(this.opts.nodeName, (e) => this.onEvent(e), signal).catch((e) => {
      if (!signal.aborted) this.opts.log?.error("pod watch ended", { err: e });
    });
  }
}
