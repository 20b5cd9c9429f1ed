import assert from "node:assert/strict";
import { SdkEc2 } from "../aws/ec2_sdk.ts";
import { useAwsCredentials } from "../../tests/helpers/aws_env.ts";
import { CREDENTIALS_TTL_MS, type IssuedKey, LabIam } from "./iam.ts";
import { type SignedRequest, verifySigV4 } from "./sigv4.ts";

const SCOPE = { region: "us-west-2", service: "ec2" };

/** Signs one DescribeSubnets with the real JS SDK (default chain: `key`) and captures the request. */
async function signedBySdk(key: IssuedKey, region = "us-west-2"): Promise<SignedRequest> {
  let seen: SignedRequest | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen = {
      method: req.method,
      url: new URL(req.url),
      headers: new Headers(req.headers),
      body: new Uint8Array(await req.arrayBuffer()),
    };
    return new Response("<DescribeSubnetsResponse><subnetSet/></DescribeSubnetsResponse>", {
      headers: { "content-type": "text/xml" },
    });
  });
  const restore = useAwsCredentials({
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    sessionToken: key.sessionToken,
  });
  const ec2 = new SdkEc2({ endpoint: `http://127.0.0.1:${server.addr.port}`, region });
  try {
    await ec2.describeSubnets({});
  } finally {
    ec2.destroy();
    restore();
    await server.shutdown();
  }
  return seen!;
}

const code = (r: ReturnType<typeof verifySigV4>) => ("code" in r ? r.code : "ok");

Deno.test("sigv4: the JS SDK's signature verifies; any change to what it signed does not", async () => {
  const clock = { now: Date.now() };
  const iam = new LabIam({ accountId: "123456789012", now: () => clock.now });
  const key = iam.addStaticKey();
  const req = await signedBySdk(key);
  const ok = verifySigV4(req, iam, SCOPE);
  assert.equal(code(ok), "ok");
  assert.equal((ok as IssuedKey).accessKeyId, key.accessKeyId);

  const body = new TextEncoder().encode(
    new TextDecoder().decode(req.body).replace("DescribeSubnets", "DescribeVpcs"),
  );
  assert.equal(code(verifySigV4({ ...req, body }, iam, SCOPE)), "SignatureDoesNotMatch");
  const headers = new Headers(req.headers);
  headers.set("host", "ec2.elsewhere");
  assert.equal(code(verifySigV4({ ...req, headers }, iam, SCOPE)), "SignatureDoesNotMatch");
  assert.equal(code(verifySigV4(req, iam, { ...SCOPE, region: "eu-west-1" })), "AuthFailure");
  const unsigned = new Headers(req.headers);
  unsigned.delete("authorization");
  assert.equal(code(verifySigV4({ ...req, headers: unsigned }, iam, SCOPE)), "MissingAuthenticationToken");
  const garbled = new Headers(req.headers);
  garbled.set("authorization", "AWS4-HMAC-SHA256 Signature=00");
  assert.equal(code(verifySigV4({ ...req, headers: garbled }, iam, SCOPE)), "IncompleteSignature");
  const wrongSecret = await signedBySdk({ ...key, secretAccessKey: "not-the-secret" });
  assert.equal(code(verifySigV4(wrongSecret, iam, SCOPE)), "SignatureDoesNotMatch");
  clock.now += 16 * 60_000;
  assert.equal(code(verifySigV4(req, iam, SCOPE)), "RequestExpired", "more than 15 minutes of skew");

  const other = new LabIam({ accountId: "123456789012" });
  assert.equal(code(verifySigV4(req, other, SCOPE)), "AuthFailure", "a key this IAM never issued");
});

Deno.test("sigv4: temporary credentials need their session token, rotate, and expire", async () => {
  // The SDK signs with the real clock; the lab's starts one lifetime (less 10 minutes) in the past.
  const clock = { now: Date.now() - CREDENTIALS_TTL_MS + 10 * 60_000 };
  const iam = new LabIam({ accountId: "123456789012", now: () => clock.now });
  const key = iam.credentials("i-0123456789abcdef0");
  assert.match(key.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
  assert.equal(iam.credentials("i-0123456789abcdef0").accessKeyId, key.accessKeyId, "served until rotation");
  clock.now = Date.now();
  const req = await signedBySdk(key);
  assert.equal(code(verifySigV4(req, iam, SCOPE)), "ok", "valid for 10 more minutes");
  const noToken = new Headers(req.headers);
  noToken.delete("x-amz-security-token");
  assert.notEqual(code(verifySigV4({ ...req, headers: noToken }, iam, SCOPE)), "ok");
  const wrongToken = await signedBySdk({ ...key, sessionToken: "AQoDYXdzEJr//wrong" });
  assert.equal(code(verifySigV4(wrongToken, iam, SCOPE)), "AuthFailure");

  const next = iam.credentials("i-0123456789abcdef0");
  assert.notEqual(next.accessKeyId, key.accessKeyId, "IMDS hands out the next set before expiry");
  assert.equal(code(verifySigV4(await signedBySdk(next), iam, SCOPE)), "ok");
  clock.now += 11 * 60_000; // within the 15-minute skew, past the old key's expiry
  assert.equal(code(verifySigV4(await signedBySdk(key), iam, SCOPE)), "RequestExpired");
  assert.equal(code(verifySigV4(await signedBySdk(next), iam, SCOPE)), "ok");
});
