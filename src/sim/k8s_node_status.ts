/**
 * A Node's `status` as the lab's stand-in kubelet posts it: the Ready condition, node info and addresses.
 */

/** What the node status is built from. */
export interface NodeStatusInput {
  /** The node's primary private IP (the InternalIP address). */
  internalIP?: string;
  /** The timestamp for the heartbeat and transition (RFC 3339). */
  now: string;
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
  if (o.internalIP) {
    status.addresses = [{ type: "InternalIP", address: o.internalIP }, { type: "Hostname", address: name }];
  }
  return status;
}
