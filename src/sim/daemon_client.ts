/** Talks to a lab daemon over `<state>/lab.sock`. */
import type { LabNames } from "./naming.ts";

/** The daemon did not answer on lab.sock (not running, or still starting). */
export class LabDaemonUnreachableError extends Error {
  constructor(readonly socket: string, cause: string) {
    super(`lab daemon not answering on ${socket}: ${cause}`);
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

/** A fetch bound to a lab's socket: `labFetch(names, "/lab/status")`. */
export async function labFetch(
  names: LabNames,
  path: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<Response> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: names.labSock } });
  const signal = AbortSignal.timeout(init.timeoutMs ?? 30_000);
  try {
    const r = await fetch(`http://lab${path}`, { ...init, client, signal });
    const body = new Uint8Array(await r.arrayBuffer());
    return new Response(r.status === 204 ? null : body, { status: r.status, headers: r.headers });
  } catch (e) {
    throw new LabDaemonUnreachableError(names.labSock, (e as Error).message);
  } finally {
    client.close();
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
  ipamd: string;
  nodes: Array<{
    index: number;
    name: string;
    netns: string;
    primaryIp: string;
    primaryMac: string;
    instanceId: string;
    cniConfDir: string;
    cniBinDir: string;
    ipamdSocket: string;
    imdsEndpoint: string;
    ipamdPid: number | null;
    ipamdRestarts: number;
  }>;
  ec2Calls: Record<string, number>;
  [k: string]: unknown;
}

/** GET /lab/status. */
export function fetchStatus(names: LabNames, timeoutMs = 5000): Promise<LabStatus> {
  return labJson<LabStatus>(names, "/lab/status", "GET", undefined, timeoutMs);
}
