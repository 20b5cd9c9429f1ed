/**
 * Shared reliability checks for lab nodes: no address held twice, pool accounting adds up, every live pod
 * still owns its address in ipamd, EC2 holds no leaked ENI, the checkpoint parses. Each check returns a list
 * of violations (empty = fine) so a suite can poll until the lab settles and then assert on the last list.
 * @module
 */
import { listPodRecords, type PodRecord } from "../../src/sim/lab_state.ts";
import type { LabNames } from "../../src/sim/naming.ts";
import { unixFetch } from "../../src/common/unix_fetch.ts";
import { labFetch } from "../../src/sim/daemon_client.ts";

/** One pod in ipamd's `/v1/pool` answer. */
export interface PoolPod {
  ip: string;
  eniId: string;
  netName: string;
  containerId: string;
  ifName: string;
  namespace?: string;
  name?: string;
}

/** ipamd's `/v1/pool` answer. */
export interface PoolSnapshot {
  enis: {
    eniId: string;
    deviceNumber: number;
    primaryIp: string;
    total: number;
    assigned: number;
    cooling: number;
    free: number;
  }[];
  totals: { total: number; assigned: number; cooling: number; free: number };
  pods: PoolPod[];
  pendingEnis: number;
  maxEnis: number;
}

/** An ENI as EC2 (the lab's model) describes it. */
export interface Ec2Eni {
  eniId: string;
  status: string;
  description: string;
  instanceId?: string;
  deviceIndex?: number;
  primaryIp: string;
  /** Secondary addresses (primary excluded). */
  secondaryIps: string[];
  tags: Record<string, string>;
}

/** One request on an ipamd unix socket; answers `{status, body, text}` (body parsed when JSON). */
export async function ipamdCall(
  socket: string,
  path: string,
  init: { method?: string; body?: BodyInit; headers?: HeadersInit; timeoutMs?: number } = {},
  // deno-lint-ignore no-explicit-any -- JSON answers, checked field by field
): Promise<{ status: number; body: any; text: string }> {
  const r = await unixFetch(socket, path, init);
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: r.status, body, text };
}

/** ipamd's pool on lab node `node`. Throws when ipamd does not answer 200. */
export async function poolOf(names: LabNames, node: number): Promise<PoolSnapshot> {
  const r = await ipamdCall(names.ipamdSocket(node), "/v1/pool");
  if (r.status !== 200) throw new Error(`ipamd node ${node} /v1/pool: HTTP ${r.status}: ${r.text}`);
  return r.body as PoolSnapshot;
}

/** Polls ipamd on `node` until `/v1/status` says ready (it may be restarting). */
export async function waitIpamdReady(names: LabNames, node: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < end) {
    try {
      const r = await ipamdCall(names.ipamdSocket(node), "/v1/status", { timeoutMs: 2000 });
      if (r.status === 200 && r.body?.ready === true) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ipamd node ${node} not ready after ${timeoutMs} ms: ${last}`);
}

function tagText(xml: string, tag: string): string | undefined {
  return xml.match(new RegExp(`<${tag}>([^<]*)</${tag}>`))?.[1];
}

/** Parses a DescribeNetworkInterfaces XML answer (the lab's shapes) into {@linkcode Ec2Eni}s. */
export function parseEnis(xml: string): Ec2Eni[] {
  const chunks = xml.split("<networkInterfaceId>").slice(1).map((c) => "<networkInterfaceId>" + c);
  return chunks.map((c) => {
    const att = c.match(/<attachment>([\s\S]*?)<\/attachment>/)?.[1];
    const ipSet = c.match(/<privateIpAddressesSet>([\s\S]*?)<\/privateIpAddressesSet>/)?.[1] ?? "";
    const ips = [...ipSet.matchAll(/<privateIpAddress>([^<]*)<\/privateIpAddress>\s*<primary>([^<]*)</g)];
    const tags: Record<string, string> = {};
    const tagSet = c.match(/<tagSet>([\s\S]*?)<\/tagSet>/)?.[1] ?? "";
    for (const m of tagSet.matchAll(/<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>/g)) tags[m[1]] = m[2];
    return {
      eniId: tagText(c, "networkInterfaceId")!,
      status: tagText(c.replace(/<attachment>[\s\S]*?<\/attachment>/, ""), "status") ?? "",
      description: tagText(c, "description") ?? "",
      instanceId: att ? tagText(att, "instanceId") : undefined,
      deviceIndex: att ? Number(tagText(att, "deviceIndex")) : undefined,
      primaryIp: ips.find((m) => m[2] === "true")?.[1] ?? tagText(c, "privateIpAddress") ?? "",
      secondaryIps: ips.filter((m) => m[2] !== "true").map((m) => m[1]),
      tags,
    };
  });
}

/** EC2 calls these checks made (they count in the lab's `ec2Calls`: subtract them). */
export const testEc2Calls = { n: 0 };

/**
 * Every ENI in the lab's EC2, read over lab.sock. Retries throttles and injected 5xx (the lab's fault
 * injection applies to this path too), up to `timeoutMs`.
 */
export async function describeEnis(names: LabNames, timeoutMs = 30_000): Promise<Ec2Eni[]> {
  const end = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < end) {
    testEc2Calls.n++;
    const r = await labFetch(names, "/ec2/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=DescribeNetworkInterfaces&Version=2016-11-15",
    });
    const text = await r.text();
    if (r.status === 200) return parseEnis(text);
    last = `HTTP ${r.status}: ${text.slice(0, 200)}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`DescribeNetworkInterfaces kept failing: ${last}`);
}

/** Addresses held by more than one pod in one pool, and pods whose address lies on no ENI of the pool. */
export function doubleAssignments(pool: PoolSnapshot): string[] {
  const out: string[] = [];
  const seen = new Map<string, PoolPod>();
  const enis = new Set(pool.enis.map((e) => e.eniId));
  for (const p of pool.pods) {
    const prev = seen.get(p.ip);
    if (prev) out.push(`${p.ip} held by ${prev.containerId}/${prev.ifName} and ${p.containerId}/${p.ifName}`);
    seen.set(p.ip, p);
    if (!enis.has(p.eniId)) out.push(`${p.ip} (${p.containerId}) is on ${p.eniId}, not an ENI of the pool`);
  }
  return out;
}

/** Pool arithmetic: per ENI and in total, total = assigned + cooling + free; assigned = pods. */
export function poolAccounting(pool: PoolSnapshot): string[] {
  const out: string[] = [];
  const sum = { total: 0, assigned: 0, cooling: 0, free: 0 };
  for (const e of pool.enis) {
    if (e.total !== e.assigned + e.cooling + e.free) {
      out.push(
        `${e.eniId}: total ${e.total} != ${e.assigned} assigned + ${e.cooling} cooling + ${e.free} free`,
      );
    }
    const pods = pool.pods.filter((p) => p.eniId === e.eniId).length;
    if (pods !== e.assigned) out.push(`${e.eniId}: ${e.assigned} assigned but ${pods} pods on it`);
    for (const k of ["total", "assigned", "cooling", "free"] as const) sum[k] += e[k];
  }
  for (const k of ["total", "assigned", "cooling", "free"] as const) {
    if (sum[k] !== pool.totals[k]) out.push(`totals.${k} ${pool.totals[k]} != sum over ENIs ${sum[k]}`);
  }
  if (pool.totals.assigned !== pool.pods.length) {
    out.push(`totals.assigned ${pool.totals.assigned} != ${pool.pods.length} pods`);
  }
  return out;
}

/**
 * Live pods (the lab's records for `node`) against ipamd's pool: each owns exactly its recorded IP, and
 * ipamd holds nothing for a pod that is gone (a leaked address).
 */
export function podsMatchPool(records: PodRecord[], pool: PoolSnapshot): string[] {
  const out: string[] = [];
  const owner = new Map<string, string>();
  for (const r of records) {
    if (!r.podIp) out.push(`pod ${r.name} has no IP in its record`);
    else if (owner.has(r.podIp)) out.push(`pods ${owner.get(r.podIp)} and ${r.name} both have ${r.podIp}`);
    else owner.set(r.podIp, r.name);
  }
  const byCid = new Map(pool.pods.map((p) => [`${p.containerId}/${p.ifName}`, p]));
  for (const r of records) {
    const p = byCid.get(`${r.containerId}/${r.ifName}`);
    if (!p) out.push(`pod ${r.name} (${r.podIp}) has no address in ipamd`);
    else if (p.ip !== r.podIp) out.push(`pod ${r.name} has ${r.podIp} but ipamd says ${p.ip}`);
    byCid.delete(`${r.containerId}/${r.ifName}`);
  }
  for (const p of byCid.values()) out.push(`ipamd holds ${p.ip} for ${p.containerId}, which is no live pod`);
  return out;
}

/**
 * ENIs ours (description `aws-K8S-*`) that are `available` (unattached: leaked), and, for the instance of
 * each node given, attachments EC2 has that ipamd's pool does not know, or the other way round, and
 * secondary IPs EC2 gives an ENI that ipamd does not count.
 */
export function eniLeaks(enis: Ec2Eni[], nodes: { instanceId: string; pool: PoolSnapshot }[]): string[] {
  const out: string[] = [];
  for (const e of enis) {
    if (e.description.startsWith("aws-K8S-") && e.status === "available") {
      out.push(`${e.eniId} is ours and available (leaked)`);
    }
  }
  for (const n of nodes) {
    const attached = enis.filter((e) => e.instanceId === n.instanceId && e.status === "in-use");
    const known = new Map(n.pool.enis.map((e) => [e.eniId, e]));
    for (const e of attached) {
      if (e.tags["node.k8s.amazonaws.com/no_manage"] === "true") continue;
      const k = known.get(e.eniId);
      if (!k) out.push(`${e.eniId} attached to ${n.instanceId} but not in ipamd's pool`);
      else if (k.total !== e.secondaryIps.length) {
        out.push(`${e.eniId}: EC2 has ${e.secondaryIps.length} secondary IPs, ipamd counts ${k.total}`);
      }
      known.delete(e.eniId);
    }
    for (const id of known.keys()) out.push(`ipamd's pool has ${id}, which EC2 has not attached`);
  }
  return out;
}

/** The node's checkpoint parses and lists exactly the pool's pods. */
export function checkpointMatches(names: LabNames, node: number, pool: PoolSnapshot): string[] {
  let doc: { version?: string; allocations?: { containerID: string; ifName: string; ipv4: string }[] };
  try {
    doc = JSON.parse(Deno.readTextFileSync(names.backingStore(node)));
  } catch (e) {
    // No file yet: ipamd has never assigned an address on this node.
    if (e instanceof Deno.errors.NotFound) doc = { allocations: [] };
    else return [`checkpoint ${names.backingStore(node)}: ${(e as Error).message}`];
  }
  if (!Array.isArray(doc.allocations)) return [`checkpoint has no allocations list`];
  const a = new Set(doc.allocations.map((x) => `${x.containerID}/${x.ifName}=${x.ipv4}`));
  const p = new Set(pool.pods.map((x) => `${x.containerId}/${x.ifName}=${x.ip}`));
  const out: string[] = [];
  for (const x of a) if (!p.has(x)) out.push(`checkpoint has ${x}, ipamd does not`);
  for (const x of p) if (!a.has(x)) out.push(`ipamd has ${x}, checkpoint does not`);
  return out;
}

/** Every invariant for the given nodes of a lab, in one list. */
export async function labViolations(
  names: LabNames,
  nodes: { index: number; instanceId: string }[],
): Promise<string[]> {
  const records = listPodRecords(names);
  const out: string[] = [];
  const pools: { instanceId: string; pool: PoolSnapshot }[] = [];
  const allIps = new Map<string, number>();
  for (const n of nodes) {
    const pool = await poolOf(names, n.index);
    pools.push({ instanceId: n.instanceId, pool });
    const tag = (s: string) => `node ${n.index}: ${s}`;
    out.push(...doubleAssignments(pool).map(tag));
    out.push(...poolAccounting(pool).map(tag));
    out.push(...podsMatchPool(records.filter((r) => r.node === n.index), pool).map(tag));
    out.push(...checkpointMatches(names, n.index, pool).map(tag));
    for (const p of pool.pods) {
      if (allIps.has(p.ip)) out.push(`${p.ip} assigned on node ${allIps.get(p.ip)} and node ${n.index}`);
      allIps.set(p.ip, n.index);
    }
  }
  out.push(...eniLeaks(await describeEnis(names), pools));
  return out;
}

/** Polls `labViolations` until it is empty or `timeoutMs` passes; returns the last list. */
export async function settle(
  names: LabNames,
  nodes: { index: number; instanceId: string }[],
  timeoutMs = 30_000,
): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  let v: string[] = [];
  while (true) {
    try {
      v = await labViolations(names, nodes);
    } catch (e) {
      v = [`checking failed: ${(e as Error).message}`];
    }
    if (v.length === 0 || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}
