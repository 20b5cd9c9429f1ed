/**
 * ANNOTATE_POD_IP=true: ipamd writes the pod's IP into its `vpc.amazonaws.com/pod-ips` annotation at ADD, and
 * empties it at DEL when it still names the released IP, as upstream does for network-policy engines (Calico)
 * that must not wait for the kubelet to report `status.podIP`. Failures are logged and counted, never fail the
 * ADD or DEL: the pod is wired either way.
 * @module
 */
import type { KubePort } from "../k8s/port.ts";
import { KubeApiError } from "../k8s/port.ts";
import type { Logger } from "./log.ts";
import type { IpamdMetrics } from "./metrics.ts";

/** Upstream's annotation key. */
export const POD_IPS_ANNOTATION = "vpc.amazonaws.com/pod-ips";

/** A pod by namespace and name, as the plugin passed them (CNI_ARGS). */
export interface PodRef {
  namespace?: string;
  name?: string;
}

/** Writes and clears the pod-IP annotation. */
export class PodIpAnnotator {
  constructor(
    readonly o: { kube: Pick<KubePort, "annotatePod">; log?: Logger; metrics?: IpamdMetrics },
  ) {}

  /** At ADD: the annotation says `ip`. */
  added(pod: PodRef, ip: string): Promise<void> {
    return this.#patch("add", pod, ip);
  }

  /** At DEL: the annotation is emptied if it still says `ip` (a pod gone from the API is fine). */
  released(pod: PodRef, ip: string): Promise<void> {
    return this.#patch("del", pod, "", ip);
  }

  async #patch(op: "add" | "del", pod: PodRef, value: string, ifCurrently?: string): Promise<void> {
    if (!pod.namespace || !pod.name) return;
    try {
      const patched = await this.o.kube.annotatePod(pod.namespace, pod.name, POD_IPS_ANNOTATION, value, {
        ifCurrently,
      });
      if (patched) this.o.log?.debug("pod annotated", { pod: `${pod.namespace}/${pod.name}`, value });
    } catch (e) {
      if (op === "del" && e instanceof KubeApiError && e.code === 404) return;
      this.o.metrics?.ipamdErr.inc({ fn: op === "add" ? "annotatePodIpAdd" : "annotatePodIpDel" });
      this.o.log?.warn("could not annotate the pod with its IP", {
        pod: `${pod.namespace}/${pod.name}`,
        annotation: POD_IPS_ANNOTATION,
        err: e,
      });
    }
  }
}
