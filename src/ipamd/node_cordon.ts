/**
 * AWS_MANAGE_ENIS_NON_SCHEDULABLE=false (upstream's default): while this node is cordoned, the pool neither
 * grows (no ENI, no IP) nor frees ENIs. `CordonWatch` watches the node (not a GET per pool decision, as upstream
 * does) and says when that changes; `heldWhileCordoned` is the pool driver's hold rule. A node is cordoned when
 * `spec.unschedulable` is true or it carries the `node.kubernetes.io/unschedulable:NoSchedule` taint.
 * @module
 */
import type { KubePort } from "../k8s/port.ts";
import type { IpamdConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { isGrowAction, type PoolAction } from "./pool.ts";

/** Why a pool action waits while the node is cordoned, or undefined when it may run. */
export function heldWhileCordoned(a: PoolAction): string | undefined {
  return isGrowAction(a) || a.kind === "delete-eni"
    ? "the node is cordoned and AWS_MANAGE_ENIS_NON_SCHEDULABLE=false: no ENI or IP is added or freed until " +
      "it is uncordoned"
    : undefined;
}

/** Whether this node is cordoned, kept current by a node watch. */
export class CordonWatch {
  cordoned = false;
  constructor(
    readonly o: {
      kube: Pick<KubePort, "getNode" | "watchNode">;
      nodeName: string;
      /** Called when the node is cordoned or uncordoned. */
      onChange?: (cordoned: boolean) => void;
      log?: Logger;
    },
  ) {}

  /** Reads the node once; a node that cannot be read counts as schedulable (logged). */
  async init(): Promise<void> {
    try {
      this.#set(!!(await this.o.kube.getNode(this.o.nodeName)).unschedulable, false);
    } catch (e) {
      this.o.log?.warn("cannot read this node; treating it as schedulable", {
        node: this.o.nodeName,
        err: e,
      });
    }
  }

  /** Watches the node until `signal` aborts. */
  watch(signal: AbortSignal): Promise<void> {
    return this.o.kube.watchNode(this.o.nodeName, (n) => this.#set(!!n.unschedulable, true), signal);
  }

  #set(cordoned: boolean, notify: boolean): void {
    if (cordoned === this.cordoned) return;
    this.cordoned = cordoned;
    this.o.log?.info(cordoned ? "node cordoned: pool growth and ENI freeing held" : "node uncordoned", {
      node: this.o.nodeName,
    });
    if (notify) this.o.onChange?.(cordoned);
  }
}

/** The pool driver's hold rule: nothing while provisioning is disabled; no growth or ENI freeing while cordoned. */
export function poolHold(
  c: IpamdConfig,
  cordoned: () => boolean,
): (action: PoolAction) => string | undefined {
  return (action) => {
    if (c.disableEniProvisioning) {
      const knob = c.imdsOnly ? "ENABLE_IMDS_ONLY_MODE" : "DISABLE_NETWORK_RESOURCE_PROVISIONING";
      return `${knob}=true: ipamd changes nothing in EC2 and uses only the addresses already on the node's ENIs`;
    }
    return cordoned() ? heldWhileCordoned(action) : undefined;
  };
}
