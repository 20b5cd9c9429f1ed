/**
 * A Node's `status` as the lab's stand-in kubelet posts it: the Ready condition, node info, addresses, and
 * capacity/allocatable: `pods` from `--max-pods` (both), `cpu` from the vCPUs (allocatable less EKS's
 * kube-reserved CPU), hugepages 0. Memory and ephemeral-storage are not reported (the lab has no figures).
 */

/** What a kubelet is started with that shapes capacity. */
export interface NodeCapacityInput {
  /** kubelet `--max-pods`. */
  maxPods: number;
  /** The instance's vCPUs. */
  vcpus: number;
}

/** What the node status is built from. */
export interface NodeStatusInput {
  /** The node's primary private IP (the InternalIP address). */
  internalIP?: string;
  /** The timestamp for the heartbeat and transition (RFC 3339). */
  now: string;
  /** Capacity; without it the status has none. */
  capacity?: NodeCapacityInput;
}

/**
 * EKS's kube-reserved CPU in millicores: 6 % of the first core, 1 % of the second, 0.5 % of the third and
 * fourth, 0.25 % of every core above four.
 */
export function kubeReservedCpuMillis(vcpus: number): number {
  const share = [60, 10, 5, 5];
  let m = 0;
  for (let core = 0; core < vcpus; core++) m += core < share.length ? share[core] : 2.5;
  return Math.floor(m);
}

/** `status.capacity` and `status.allocatable` as a kubelet reports them. */
export function nodeCapacity(c: NodeCapacityInput): {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
} {
  const base = { "hugepages-1Gi": "0", "hugepages-2Mi": "0", pods: String(c.maxPods) };
  return {
    capacity: { cpu: String(c.vcpus), ...base },
    allocatable: { cpu: `${c.vcpus * 1000 - kubeReservedCpuMillis(c.vcpus)}m`, ...base },
  };
}

/** The status a kubelet posts for a Ready node. */
export function kubeletNodeStatus(name: string, o: NodeStatusInput): Record<string, unknown> {
  const status: Record<string, unknown> = {
    conditions: [{
      type: "Ready",
      status: "True",
      reason: "KubeletReady",
      message: "kubelet is posting ready status",
      lastHeartbeatTime: o.now,
      lastTransitionTime: o.now,
    }],
    nodeInfo: {
      architecture: "amd64",
      operatingSystem: "linux",
      kubeletVersion: "v1.31.0",
      kernelVersion: "",
      osImage: "vpc-cni lab",
      containerRuntimeVersion: "",
      kubeProxyVersion: "",
      machineID: "",
      systemUUID: "",
      bootID: "",
    },
  };
  if (o.capacity) Object.assign(status, nodeCapacity(o.capacity));
  if (o.internalIP) {
    status.addresses = [{ type: "InternalIP", address: o.internalIP }, { type: "Hostname", address: name }];
  }
  return status;
}
