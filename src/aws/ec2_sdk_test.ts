import assert from "node:assert/strict";
import { Ec2Error } from "./ec2_port.ts";
import { SdkEc2, toEc2Error } from "./ec2_sdk.ts";
import { useAwsCredentials } from "../../tests/helpers/aws_env.ts";
import { Ec2Model } from "../sim/ec2_model.ts";
import { Ec2CallCounts } from "../sim/ec2_call_counts.ts";
import { createEc2Handler } from "../sim/ec2_server.ts";
import { LabIam } from "../sim/iam.ts";
import { createImdsHandler } from "../sim/imds_server.ts";
import { Realism } from "../sim/realism.ts";

const STATIC_KEY = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

/** Serves a canned EC2 answer on 127.0.0.1 and records what was asked. */
async function withCanned(
  answer: (body: string) => Response,
  fn: (endpoint: string, seen: string[]) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    seen.push(body);
    return answer(body);
  });
  const restore = useAwsCredentials(STATIC_KEY);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    restore();
    await server.shutdown();
  }
}

const xmlError = (code: string, status: number) =>
  new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>m ${code}</Message>` +
      `</Error></Errors><RequestID>r1</RequestID></Response>`,
    { status, headers: { "content-type": "text/xml" } },
  );

Deno.test("SdkEc2 maps EC2 XML errors to Ec2Error with code, action and status; no SDK retries", () =>
  withCanned(() => xmlError("RequestLimitExceeded", 503), async (endpoint, seen) => {
    const ec2 = new SdkEc2({ endpoint });
    try {
      const e = await ec2.deleteNetworkInterface("eni-1").then(() => undefined, (e) => e);
      assert.ok(e instanceof Ec2Error);
      assert.equal(e.code, "RequestLimitExceeded");
      assert.equal(e.action, "DeleteNetworkInterface");
      assert.equal(e.httpStatus, 503);
      assert.equal(e.retryable, true);
      assert.match(e.message, /m RequestLimitExceeded/);
      assert.equal(seen.length, 1, "maxAttempts 1: the limiter owns retries");
      assert.match(seen[0], /Action=DeleteNetworkInterface/);
      assert.match(seen[0], /NetworkInterfaceId=eni-1/);
    } finally {
      ec2.destroy();
    }
  }));

Deno.test("SdkEc2 follows NextToken across pages", () =>
  withCanned((body) => {
    const page = body.includes("NextToken=t2") ? 2 : 1;
    const eni = (id: string) =>
      `<item><networkInterfaceId>${id}</networkInterfaceId><status>available</status>` +
      `<privateIpAddressesSet><item><privateIpAddress>10.0.0.${page}</privateIpAddress><primary>true</primary></item>` +
      `</privateIpAddressesSet></item>`;
    const xml = `<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
      `<requestId>r</requestId><networkInterfaceSet>${eni(`eni-${page}`)}</networkInterfaceSet>` +
      (page === 1 ? "<nextToken>t2</nextToken>" : "") + `</DescribeNetworkInterfacesResponse>`;
    return new Response(xml, { headers: { "content-type": "text/xml" } });
  }, async (endpoint, seen) => {
    const ec2 = new SdkEc2({ endpoint });
    try {
      const all = await ec2.describeNetworkInterfaces({ maxResults: 5 });
      assert.deepEqual(all.map((e) => [e.networkInterfaceId, e.privateIpAddress]), [
        ["eni-1", "10.0.0.1"],
        ["eni-2", "10.0.0.2"],
      ]);
      assert.equal(seen.length, 2);
      assert.match(seen[0], /MaxResults=5/);
    } finally {
      ec2.destroy();
    }
  }));

Deno.test("SdkEc2: no answer at all is a retryable NetworkError (599)", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const restore = useAwsCredentials(STATIC_KEY);
  const ec2 = new SdkEc2({ endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 1000 });
  try {
    const e = await ec2.describeSubnets({}).then(() => undefined, (e) => e);
    assert.ok(e instanceof Ec2Error, String(e));
    assert.equal(e.code, "NetworkError");
    assert.equal(e.httpStatus, 599);
    assert.equal(e.retryable, true);
  } finally {
    ec2.destroy();
    restore();
  }
});

Deno.test("toEc2Error keeps Ec2Errors and reads SDK service exceptions", () => {
  const mine = new Ec2Error("X", "y", "A", 400);
  assert.equal(toEc2Error(mine, "B"), mine);
  const sdk = Object.assign(new Error("nope"), {
    name: "InvalidSubnetID.NotFound",
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
  });
  const e = toEc2Error(sdk, "DescribeSubnets");
  assert.equal(e.code, "InvalidSubnetID.NotFound");
  assert.equal(e.httpStatus, 400);
  assert.equal(e.retryable, false, "a NotFound is the caller's to judge, not retried blindly");
  assert.equal(e.notFound, true);
});

for (const variable of ["AWS_EC2_ENDPOINT", "AWS_ENDPOINT_URL_EC2"]) {
  // AWS_EC2_ENDPOINT is upstream's; AWS_ENDPOINT_URL_EC2 the SDKs' standard one (read by the SDK itself).
  Deno.test(`SdkEc2 reads ${variable}`, () =>
    withCanned(() => xmlError("AuthFailure", 401), async (endpoint, seen) => {
      const vars = ["AWS_EC2_ENDPOINT", "AWS_ENDPOINT_URL_EC2"];
      const old = vars.map((k) => [k, Deno.env.get(k)] as const);
      for (const k of vars) Deno.env.delete(k);
      Deno.env.set(variable, endpoint);
      const ec2 = new SdkEc2();
      try {
        await assert.rejects(
          ec2.describeInstances(["i-1"]),
          (e) => e instanceof Ec2Error && e.code === "AuthFailure",
        );
        assert.equal(seen.length, 1);
      } finally {
        ec2.destroy();
        for (const [k, v] of old) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
      }
    }));
}

Deno.test("SdkEc2 invents no credentials: with an endpoint and no keys, the instance role from IMDS signs", async () => {
  const model = new Ec2Model({ seed: 3 });
  const subnet = model.addSubnet({ cidr: "10.0.0.0/20", availabilityZone: "us-west-2a" });
  const instanceId = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.subnetId }).instanceId;
  const iam = new LabIam({ accountId: model.accountId, now: () => model.now() });
  const counts = new Ec2CallCounts();
  const ec2Server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createEc2Handler(model, new Realism({ buckets: false }), { iam, counts }),
  );
  const imdsServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createImdsHandler(model, { instanceId, iam }),
  );
  const restore = useAwsCredentials({ imdsEndpoint: `http://127.0.0.1:${imdsServer.addr.port}` });
  const ec2 = new SdkEc2({ endpoint: `http://127.0.0.1:${ec2Server.addr.port}`, region: "us-west-2" });
  try {
    const [i] = await ec2.describeInstances([instanceId]);
    assert.equal(i.instanceId, instanceId);
    assert.deepEqual(counts.of(instanceId).calls, { DescribeInstances: 1 }, "signed with the role's key");
  } finally {
    ec2.destroy();
    restore();
    await ec2Server.shutdown();
    await imdsServer.shutdown();
  }
});
