/**
 * Test helpers for the lab: `withLab(opts, fn)` brings a lab up in a fresh temp state dir and always takes it
 * down; `labStatus()`; run commands inside a lab namespace; drive EC2 with the real SDK from inside a node.
 */
import assert from "node:assert/strict";
import { unixFetch } from "../../src/common/unix_fetch.ts";
import { fetchStatus, labFetch, type LabStatus } from "../../src/sim/daemon_client.ts";
import { labDown, labUp, REPO_DIR, type UpOptions } from "../../src/sim/daemon_launch.ts";
import { LabNames } from "../../src/sim/naming.ts";
import { execInNetns, type ExecOptions, type ExecResult } from "../../src/sim/exec.ts";

/** A lab under test. */
export interface TestLab {
  names: LabNames;
  stateDir: string;
  /** Status at the time `up` returned. */
  status: LabStatus;
  /** Runs argv inside node i's namespace. */
  inNode(node: number, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs argv inside any named namespace. */
  inNetns(ns: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** fetch on lab.sock (`/ec2/...`, `/imds/<node>/...`, `/k8s/...`, `/lab/...`). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

// deno-lint-ignore no-explicit-any -- ipamd answers are JSON, checked field by field by the tests
type Json = any;

/** GET `path` on node i's ipamd socket; the body parsed as JSON. */
export async function ipamdGet(
  lab: TestLab,
  node: number,
  path: string,
): Promise<{ status: number; body: Json }> {
  const r = await unixFetch(lab.status.nodes[node].ipamdSocket, path);
  return { status: r.status, body: await r.json() };
}

/** Waits (up to 60 s) until node i's ipamd answers `/v1/status` with 200. */
export async function waitIpamdReady(lab: TestLab, node: number): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await ipamdGet(lab, node, "/v1/status").catch(() => ({ status: 0 }));
    if (r.status === 200) return;
    if (Date.now() > end) throw new Error(`ipamd on node ${node} not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Stops node i's ipamd (the lab's supervisor sends SIGTERM and stops restarting it) or starts it again; when
 * started, waits until it answers ready.
 */
export async function setIpamdRunning(lab: TestLab, node: number, running: boolean): Promise<void> {
  const r = await lab.fetch(`/lab/nodes/${node}/ipamd`, { method: "PUT", body: JSON.stringify({ running }) });
  assert.equal(r.status, 200, await r.text());
  if (running) await waitIpamdReady(lab, node);
}

/** containerId → IP (IPv4, or IPv6 in IPv6 mode), as node i's ipamd `/v1/pods` says. */
export async function ipamdHeld(lab: TestLab, node: number): Promise<Map<string, string>> {
  const r = await ipamdGet(lab, node, "/v1/pods");
  assert.equal(r.status, 200);
  return new Map(Object.values(r.body as Record<string, Json>).map((p) => [p.containerId, p.ipv4 ?? p.ipv6]));
}

/** The status of the lab in `stateDir` (its daemon must answer). */
export function labStatus(stateDir: string): Promise<LabStatus> {
  return fetchStatus(new LabNames(stateDir));
}

/** Brings a lab up in a new temp state dir, runs fn, and always takes the lab down and removes the dir. */
export async function withLab<T>(
  opts: Omit<UpOptions, "stateDir">,
  fn: (lab: TestLab) => Promise<T>,
): Promise<T> {
  const stateDir = await Deno.makeTempDir({ prefix: "vpc-cni-lab-test-" });
  const names = new LabNames(stateDir);
  try {
    const { status } = await labUp({ ...opts, stateDir });
    return await fn({
      names,
      stateDir,
      status,
      inNode: (node, argv, o) => execInNetns(names.nodeNs(node), argv, o),
      inNetns: (ns, argv, o) => execInNetns(ns, argv, o),
      fetch: (path, init) => labFetch(names, path, init),
    });
  } finally {
    await labDown(stateDir);
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

const SDK_SCRIPT = `
import { SdkEc2 } from "${REPO_DIR}/src/aws/ec2_sdk.ts";
const ec2 = new SdkEc2({ endpoint: "http://10.0.255.254", region: "us-west-2" });
const out = [];
for (const [method, ...args] of JSON.parse(Deno.env.get("LAB_EC2_CALLS"))) {
  try {
    out.push({ ok: await ec2[method](...args) ?? null });
  } catch (e) {
    out.push({ error: { name: e.name, code: e.code, message: e.message } });
  }
}
ec2.destroy();
console.log(JSON.stringify(out));
`;

/**
 * Makes EC2 calls with the real `SdkEc2` (the AWS SDK) from inside node i's namespace, over the lab's EC2
 * endpoint, as ipamd would. `calls` are `[method, ...args]`; returns `{ok}` or `{error}` per call.
 */
export async function ec2FromNode(
  lab: TestLab,
  node: number,
  calls: [string, ...unknown[]][],
): Promise<({ ok: unknown } | { error: { name: string; code?: string; message: string } })[]> {
  const r = await lab.inNode(node, [
    Deno.execPath(),
    "eval",
    "--config",
    `${REPO_DIR}/deno.json`,
    SDK_SCRIPT,
  ], { env: { ...Deno.env.toObject(), LAB_EC2_CALLS: JSON.stringify(calls) } });
  if (r.code !== 0) throw new Error(`SDK script failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}
