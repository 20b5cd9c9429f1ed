/**
 * The AWS client scenario every independent client (aws-sdk-go-v2, boto3) runs against a lab node, and the
 * checks on the report it prints: one set of expectations for every client. The client runs inside the
 * node's network namespace (so IMDS finds the instance by its source address) with nothing but the
 * standard variables: `AWS_ENDPOINT_URL_EC2`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, and no keys, no region.
 * @module
 */
import assert from "node:assert/strict";
import { LAB_NET } from "../../src/sim/naming.ts";
import { labStatus, type TestLab } from "../helpers/lab.ts";

// deno-lint-ignore no-explicit-any -- a client's JSON report, checked field by field
type Json = any;

/** The environment a client gets: the standard endpoint variables, an empty HOME, nothing else of ours. */
export function clientEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    AWS_ENDPOINT_URL_EC2: `http://${LAB_NET.ec2Ip}`,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${LAB_NET.imdsIp}`,
    ...extra,
  };
}

/** Runs argv in node i's namespace with exactly `env`; the last stdout line parsed as the JSON report. */
export async function runClient(lab: TestLab, node: number, argv: string[], env: Record<string, string>) {
  const out = await new Deno.Command("nsenter", {
    args: [`--net=${lab.names.nsPath(lab.names.nodeNs(node))}`, "--", ...argv],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(240_000),
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout).trim();
  const stderr = dec.decode(out.stderr);
  let report: Json;
  try {
    report = JSON.parse(stdout.split("\n").pop() ?? "");
  } catch {
    throw new Error(`${argv[0]} printed no report (exit ${out.code}):\n${stdout}\n${stderr}`);
  }
  if (!out.success) throw new Error(`${argv[0]} failed (exit ${out.code}): ${stdout}\n${stderr}`);
  return report;
}

/** Sets the lab's faults (`throttle=1`, or "" for none). */
export async function setFaults(lab: TestLab, faults: string): Promise<void> {
  const r = await lab.fetch("/lab/faults", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ faults }),
  });
  assert.equal(r.status, 200, await r.text());
  await r.body?.cancel().catch(() => {});
}

/** The checks on a scenario report: IMDS, credentials, the ENI's life, error codes. */
export async function checkScenario(lab: TestLab, node: number, report: Json, source: string): Promise<void> {
  const n = lab.status.nodes[node];
  const imds = report.imds;
  assert.equal(imds.instanceId, n.instanceId);
  assert.equal(imds.identity.instanceId, n.instanceId);
  assert.equal(imds.identity.region, LAB_NET.region);
  assert.equal(imds.identity.privateIp, n.primaryIp);
  assert.match(imds.identity.accountId, /^\d{12}$/);
  assert.equal(imds.region, LAB_NET.region);
  assert.equal(report.region, LAB_NET.region, "the SDK's region, from IMDS");
  assert.deepEqual(imds.macs, [`${n.primaryMac}/`], "macs without the trailing slash");
  assert.deepEqual(imds.macsSlash, imds.macs, "macs/ answers the same listing");
  assert.ok(imds.macKeys.includes("local-ipv4s") && imds.macKeys.includes("device-number"), imds.macKeys);
  assert.deepEqual(imds.macKeysSlash, imds.macKeys, "macs/<mac> and macs/<mac>/ answer the same");
  assert.deepEqual(imds.localIpv4s, [n.primaryIp]);
  assert.match(imds.instanceProfileArn, /^arn:aws:iam::\d{12}:instance-profile\//);

  const c = report.credentials;
  assert.equal(c.source, source, "the default chain ended at the instance role");
  assert.match(c.accessKeyId, /^ASIA[A-Z0-9]{16}$/, "the instance role's temporary key");
  assert.equal(c.sessionToken, true);
  assert.equal(c.canExpire, true);
  assert.ok(Date.parse(c.expires) > Date.now(), c.expires);

  const e = report.ec2;
  assert.match(e.eniId, /^eni-[0-9a-f]{17}$/);
  assert.match(e.attachmentId, /^eni-attach-/);
  assert.equal(e.assigned.length, 2);
  assert.equal(e.describedIps, 4, "primary + 1 created with + 2 assigned");
  assert.equal(e.describedStatus, "in-use");
  assert.equal(e.describedDevice, 1);
  assert.equal(e.created.length, 7);
  assert.equal(e.pages, 2, "MaxResults 5 over 7 ENIs");
  assert.deepEqual(e.paged.toSorted(), e.created.toSorted());
  assert.ok(e.attachedToSelf.includes(e.eniId) && e.attachedToSelf.length === 2, e.attachedToSelf);
  assert.deepEqual([e.notFound.code, e.notFound.httpStatus], ["InvalidNetworkInterfaceID.NotFound", 400]);
  assert.deepEqual([e.badFilter.code, e.badFilter.httpStatus], ["InvalidParameterValue", 400]);
  assert.equal(e.deletePrimary.code, "InvalidNetworkInterface.InUse");

  const st = await labStatus(lab.stateDir);
  assert.equal(st.nodes[node].ec2Calls.CreateNetworkInterface, 7, "the lab counted the node's calls");
  assert.equal(st.nodes[node].ec2Calls.DeleteNetworkInterface, 7 + 1);
}

/** The checks on a throttle report, run while the lab answers every call RequestLimitExceeded. */
export async function checkThrottle(lab: TestLab, node: number, report: Json, rejectedBefore: number) {
  const t = report.throttle;
  assert.deepEqual([t.error.code, t.error.httpStatus], ["RequestLimitExceeded", 503]);
  assert.equal(t.isThrottle, true, "the SDK classifies RequestLimitExceeded as throttling");
  assert.equal(t.retryable, true);
  assert.equal(t.attempts, t.maxAttempts, "the SDK's retryer used every attempt");
  const st = await labStatus(lab.stateDir);
  assert.equal(
    (st.nodes[node].ec2Rejected.DescribeSubnets ?? 0) - rejectedBefore,
    t.attempts,
    "the lab saw each attempt",
  );
}
