/**
 * The Kubernetes port: what ipamd reads from the API server.
 * Adapter: `ClientNodeKube` in src/k8s/client.ts over `@kubernetes/client-node`; the lab serves the real REST API.
 */

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  providerId?: string;
  /** Cordoned: `spec.unschedulable`, or the `node.kubernetes.io/unschedulable:NoSchedule` taint (upstream's test). */
  unschedulable?: boolean;
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  podIp?: string;
  phase?: string;
  deleting: boolean;
}

export interface EniConfigSpec {
  name: string;
  subnet: string;
  securityGroups: string[];
}

export type PodEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; pod: PodInfo }
  | { type: "RESYNC"; pods: PodInfo[] };

export interface KubePort {
  /** Fails with `KubeUnreachableError` when the API server does not answer. */
  version(): Promise<{ gitVersion: string }>;
  /** Fails with `KubeApiError` (code 404 when the node does not exist). */
  getNode(name: string): Promise<NodeInfo>;
  listPodsOnNode(nodeName: string): Promise<PodInfo[]>;
  /**
   * Lists then watches pods with fieldSelector spec.nodeName=<node>; reconnects from the last
   * resourceVersion (re-listing on 410 Gone, delivered as RESYNC). Stops when `signal` aborts.
   * The first event is always a RESYNC carrying the initial list. Errors are retried with backoff.
   */
  watchPodsOnNode(nodeName: string, onEvent: (e: PodEvent) => void, signal: AbortSignal): Promise<void>;
  /** Undefined when the ENIConfig does not exist (404). */
  getEniConfig(name: string): Promise<EniConfigSpec | undefined>;
  /**
   * Watches one node; stops when `signal` aborts. The first call of `onChange` carries the current state;
   * later calls come only when labels, annotations, providerId or schedulability differ.
   */
  watchNode(name: string, onChange: (n: NodeInfo) => void, signal: AbortSignal): Promise<void>;
  /**
   * Sets annotation `key` of a pod to `value` with a JSON patch (reading the pod first, as upstream). With
   * `ifCurrently`, only when the annotation holds exactly that (the patch tests it, so a concurrent change
   * wins). Resolves whether it patched; rejects with `KubeApiError` (404: no such pod).
   */
  annotatePod(
    namespace: string,
    name: string,
    key: string,
    value: string,
    o?: { ifCurrently?: string },
  ): Promise<boolean>;
  /** Best effort: posts a core/v1 Event about this node. */
  recordEvent(
    e: { nodeName: string; reason: string; message: string; type: "Normal" | "Warning" },
  ): Promise<void>;
}

/** The API server could not be reached (connection refused, timeout, DNS). */
export class KubeUnreachableError extends Error {
  constructor(readonly server: string, message: string) {
    super(`Kubernetes API server ${server} unreachable: ${message}`);
    this.name = "KubeUnreachableError";
  }
}

/** The API server answered with an error `Status` (e.g. 404 NotFound from `getNode`). */
export class KubeApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
    this.name = "KubeApiError";
  }
}
