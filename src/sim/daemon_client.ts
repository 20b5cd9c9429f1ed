/** Talks to a lab daemon over `<state>/lab.sock`. */
import {
  UNIX_FETCH_TIMEOUT_MS,
  unixFetch,
  UnixFetchError,
  type UnixFetchInit,
} from "../common/unix_fetch.ts";
import type { CallerCounts } from "./ec2_call_counts.ts";
import type { LabNames } from "./naming.ts";

/** The daemon did not answer on lab.sock (not running, still starting, or not within the deadline). */
export class LabDaemonUnreachableError extends Error {
  constructor(readonly socket: string, cause: string) {
    super(`lab daemon not answering: ${cause}`);
    this.name = "LabDaemonUnreachableError";
  }
}

/** The daemon answered with an error status. */
export class LabApiError extends Error {
  constructor(readonly status: number, readonly path: string, readonly body: string) {
    super(`lab ${path}: HTTP ${status}: ${body.trim().slice(0, 2000)}`);
    this.name = "LabApiError";
  }
}

/**
 * A request on a lab's socket: `labFetch(names, "/lab/status")`. The deadline (`timeoutMs`, default
 * {@linkcode UNIX_FETCH_TIMEOUT_MS}) covers the whole exchange; a miss names the request and the deadline.
 */
export async function labFetch(names: LabNames, path: string, init: UnixFetchInit = {}): Promise<Response> {
  try {
    return await unixFetch(names.labSock, path, init);
  } catch (e) {
    if (e instanceof UnixFetchError) throw new LabDaemonUnreachableError(names.labSock, e.message);
    throw e;
  }
}

/** JSON call; throws LabApiError on a non-2xx answer. */
export async function labJson<T>(
  names: LabNames,
  path: string,
  method = "GET",
  body?: unknown,
  timeoutMs?: number,
): Promise<T> {
  const r = await labFetch(names, path, {
    method,
    timeoutMs,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new LabApiError(r.status, path, text);
  return JSON.parse(text) as T;
}

/** The status JSON of a running lab (see daemon.ts `status`). */
export interface LabStatus {
  id: string;
  stateDir: string;
  daemonPid: number;
  ec2Endpoint: string;
  kubeApiEndpoint: string;
  imdsEndpoint: string;
  kubeconfig: string;
  whoami: string;
  /** A dual-stack lab (`lab up --ipv6`). */
  ipv6: boolean;
  /** Dual stack: the IPv6 whoami (`[addr]:port`), the VPC's /56, the IPv6 source/destination check's drops. */
  whoami6?: string;
  vpcIpv6Cidr?: string;
  srcDstDropsV6?: number;
  ipamd: string;
  nodes: Array<{
    index: number;
    name: string;
    netns: string;
    primaryIp: string;
    primaryIpv6?: string;
    primaryMac: string;
    instanceId: string;
    cniConfDir: string;
    cniBinDir: string;
    ipamdSocket: string;
    /** The node's mount namespace file: enter with `nsenter --net=/run/netns/<netns> --mount=<this>`. */
    mountNamespace: string;
    /** "ipamd" (the lab's) or "custom" (a `NodeAgent`). */
    agent: string;
    imdsEndpoint: string;
    ipamdPid: number | null;
    ipamdRestarts: number;
    /** EC2 calls this node made that reached EC2 (per action). */
    ec2Calls: Record<string, number>;
    /** EC2 calls this node made that were refused first: throttled, injected faults, bad signatures. */
    ec2Rejected: Record<string, number>;
  }>;
  /** EC2 calls that reached EC2, lab-wide (per action); the sum over `ec2CallsByCaller`. */
  ec2Calls: Record<string, number>;
  /** Per caller (instance id, source address, or `lab.sock`): `{calls, rejected}` per action. */
  ec2CallsByCaller: Record<string, CallerCounts>;
  [k: string]: unknown;
}

/** GET /lab/status. */
export function fetchStatus(names: LabNames, timeoutMs = UNIX_FETCH_TIMEOUT_MS): Promise<LabStatus> {
  return labJson<LabStatus>(names, "/lab/status", "GET", undefined, timeoutMs);
}
