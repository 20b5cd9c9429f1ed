/**
 * The lab's AWS identity, as on EC2: each node's instance role on IMDS (`iam/info`,
 * `iam/security-credentials/<role>`), EC2 refusing requests not signed with a key the lab issued, node
 * agents getting no host credentials (the SDK's default chain ends at the instance role), and EC2 calls
 * counted per node in `lab status`. Root only.
 * @module
 */
import assert from "node:assert/strict";
import { ec2FromNode, labStatus, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";

/** curl inside node i; returns the body followed by the status code on its own last line. */
async function curlNode(
  lab: TestLab,
  node: number,
  args: string[],
): Promise<{ status: number; body: string }> {
  const r = await lab.inNode(node, ["curl", "-s", "-m", "10", "-w", "\n%{http_code}", ...args]);
  const at = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
}

async function imdsGet(lab: TestLab, node: number, path: string): Promise<{ status: number; body: string }> {
  const tok = await curlNode(lab, node, [
    "-X",
    "PUT",
    "-H",
    "x-aws-ec2-metadata-token-ttl-seconds: 60",
    "http://169.254.169.254/latest/api/token",
  ]);
  assert.equal(tok.status, 200);
  return curlNode(lab, node, [
    "-H",
    `x-aws-ec2-metadata-token: ${tok.body}`,
    `http://169.254.169.254${path}`,
  ]);
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

Deno.test({
  name: "lab: instance role on IMDS, EC2 refuses unsigned requests, agents get no host keys, calls per node",
  ...rootOnly,
  async fn() {
    // A host with its own AWS keys: the lab's nodes must not inherit them.
    const hostKey = Deno.env.get("AWS_ACCESS_KEY_ID");
    const restore = () =>
      hostKey === undefined
        ? Deno.env.delete("AWS_ACCESS_KEY_ID")
        : Deno.env.set("AWS_ACCESS_KEY_ID", hostKey);
    Deno.env.set("AWS_ACCESS_KEY_ID", "AKIAHOSTKEYNOTFORLAB0");
    try {
      await withLab({ nodes: 2 }, async (lab) => {
        restore();
        await Promise.all([waitIpamdReady(lab, 0), waitIpamdReady(lab, 1)]);
        await checkImdsRole(lab);
        await checkUnsignedRefused(lab);
        await checkCallsPerNode(lab);
      });
    } finally {
      restore();
    }
  },
});

async function checkImdsRole(lab: TestLab): Promise<void> {
  const pid = (await labStatus(lab.stateDir)).nodes[0].ipamdPid!;
  const environ = await Deno.readTextFile(`/proc/${pid}/environ`);
  assert.ok(!environ.includes("AKIAHOSTKEYNOTFORLAB0"), "ipamd inherited the host's AWS key");
  assert.ok(!/(^|\0)AWS_ACCESS_KEY_ID=/.test(environ), "ipamd was given an access key");

  const listing = await imdsGet(lab, 0, "/latest/meta-data/iam/security-credentials/");
  assert.equal(listing.status, 200);
  const [role] = listing.body.split("\n");
  const info = JSON.parse((await imdsGet(lab, 0, "/latest/meta-data/iam/info")).body);
  assert.equal(info.Code, "Success");
  assert.match(info.InstanceProfileArn, /^arn:aws:iam::\d{12}:instance-profile\//);
  const creds = (await imdsGet(lab, 0, `/latest/meta-data/iam/security-credentials/${role}`)).body;
  const doc = JSON.parse(creds);
  assert.deepEqual(Object.keys(doc), [
    "Code",
    "LastUpdated",
    "Type",
    "AccessKeyId",
    "SecretAccessKey",
    "Token",
    "Expiration",
  ]);
  assert.equal(doc.Type, "AWS-HMAC");
  assert.match(doc.AccessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.match(doc.Expiration, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.ok(Date.parse(doc.Expiration) > Date.now() + 15 * 60_000, `expires too soon: ${doc.Expiration}`);
  const other = JSON.parse(
    (await imdsGet(lab, 1, `/latest/meta-data/iam/security-credentials/${role}`)).body,
  );
  assert.notEqual(other.AccessKeyId, doc.AccessKeyId, "each instance has its own credentials");
}

async function checkUnsignedRefused(lab: TestLab): Promise<void> {
  const form = ["-H", "content-type: application/x-www-form-urlencoded", "-d", "Action=DescribeSubnets"];
  const unsigned = await curlNode(lab, 0, [...form, "http://10.0.255.254/"]);
  assert.equal(unsigned.status, 401, unsigned.body);
  assert.match(unsigned.body, /<Code>MissingAuthenticationToken<\/Code>/);
  const forged = await curlNode(lab, 0, [
    ...form,
    "-H",
    "x-amz-date: 20260101T000000Z",
    "-H",
    "authorization: AWS4-HMAC-SHA256 Credential=lab/20260101/us-west-2/ec2/aws4_request, " +
    "SignedHeaders=host;x-amz-date, Signature=00",
    "http://10.0.255.254/",
  ]);
  assert.equal(forged.status, 401, forged.body);
  assert.match(forged.body, /<Code>AuthFailure<\/Code>/);
  // The SDK's default chain inside the node: the instance role from IMDS signs.
  const [ok] = await ec2FromNode(lab, 0, [["describeSubnets", {}]]);
  assert.ok("ok" in ok, JSON.stringify(ok));
}

async function checkCallsPerNode(lab: TestLab): Promise<void> {
  const s0 = await labStatus(lab.stateDir);
  for (const n of s0.nodes) {
    assert.ok(
      (n.ec2Calls.DescribeInstances ?? 0) >= 1,
      `${n.name}'s ipamd calls are its own: ${JSON.stringify(n)}`,
    );
    assert.deepEqual(n.ec2Calls, s0.ec2CallsByCaller[n.instanceId].calls);
  }
  const byAction: Record<string, number> = {};
  for (const c of Object.values(s0.ec2CallsByCaller)) {
    for (const [a, k] of Object.entries(c.calls)) byAction[a] = (byAction[a] ?? 0) + k;
  }
  assert.deepEqual(byAction, s0.ec2Calls, "the callers add up to the lab-wide count");
  assert.equal(s0.nodes[0].ec2Rejected.DescribeSubnets ?? 0, 2, "the unsigned and the forged request");

  const viaSock = await lab.fetch("/ec2/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "Action=DescribeSubnets&Version=2016-11-15",
  });
  assert.equal(viaSock.status, 200, "lab.sock is the operator's: no signature needed");
  await viaSock.body?.cancel();
  const s1 = await labStatus(lab.stateDir);
  const sockCalls = (s: typeof s0) => s.ec2CallsByCaller["lab.sock"]?.calls.DescribeSubnets ?? 0;
  assert.equal(sockCalls(s1) - sockCalls(s0), 1);
  assert.ok(sum(s1.ec2Calls) >= sum(s0.ec2Calls) + 1);
}
