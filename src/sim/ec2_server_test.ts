import assert from "node:assert/strict";
import { Ec2Model } from "./ec2_model.ts";
import { createEc2Handler } from "./ec2_server.ts";
import { Realism } from "./realism.ts";

function setup(realism = new Realism({ buckets: false })) {
  const model = new Ec2Model({ seed: 1 });
  const s = model.addSubnet({ cidr: "10.0.0.0/20" });
  const i = model.launchInstance({ instanceType: "t3.medium", subnetId: s.subnetId });
  return { model, h: createEc2Handler(model, realism), subnetId: s.subnetId, instanceId: i.instanceId };
}

const post = (body: string) =>
  new Request("http://ec2.lab/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  });

Deno.test("unsigned form POST answers EC2-shaped XML with a requestId", async () => {
  const { h, instanceId } = setup();
  const r = await h(post("Action=DescribeInstances&Version=2016-11-15"));
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /text\/xml/);
  const xml = await r.text();
  assert.match(
    xml,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeInstancesResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/">/,
  );
  assert.match(xml, /<requestId>[0-9a-f-]{36}<\/requestId>/);
  assert.ok(xml.includes(`<instanceId>${instanceId}</instanceId>`));
  assert.match(xml, /<networkInterfaceSet><item>.*<attachment>.*<deviceIndex>0<\/deviceIndex>/s);
});

Deno.test("GET with a query string works too", async () => {
  const { h } = setup();
  const r = await h(new Request("http://ec2.lab/?Action=DescribeInstanceTypes&InstanceType.1=t3.medium"));
  const xml = await r.text();
  assert.equal(r.status, 200);
  assert.match(xml, /<maximumNetworkInterfaces>3<\/maximumNetworkInterfaces>/);
  assert.match(xml, /<ipv4AddressesPerInterface>6<\/ipv4AddressesPerInterface>/);
});

Deno.test("errors: XML document, 400 for client errors, unknown and missing actions", async () => {
  const { h } = setup();
  const r = await h(post("Action=DeleteNetworkInterface&NetworkInterfaceId=eni-0"));
  assert.equal(r.status, 400);
  const xml = await r.text();
  assert.match(
    xml,
    /<Response><Errors><Error><Code>InvalidNetworkInterfaceID.NotFound<\/Code><Message>The networkInterface ID 'eni-0' does not exist<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
  );
  const missing = await h(post("Action=AttachNetworkInterface&InstanceId=i-1&DeviceIndex=1"));
  assert.equal(missing.status, 400);
  assert.match(await missing.text(), /<Code>MissingParameter<\/Code>/);
  const bad = await h(post("Action=RunInstances"));
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /<Code>InvalidAction<\/Code>/);
  const none = await h(post("Version=2016-11-15"));
  assert.match(await none.text(), /<Code>MissingAction<\/Code>/);
  const put = await h(new Request("http://ec2.lab/", { method: "PUT" }));
  assert.equal(put.status, 405);
  await put.body?.cancel();
});

Deno.test("throttled calls answer 503 RequestLimitExceeded and change nothing", async () => {
  const { h, model, subnetId } = setup(
    new Realism({ buckets: { mutate: { capacity: 1, refillPerSec: 0 } } }),
  );
  const ok = await h(post(`Action=CreateNetworkInterface&SubnetId=${subnetId}`));
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const r = await h(post(`Action=CreateNetworkInterface&SubnetId=${subnetId}`));
  assert.equal(r.status, 503);
  assert.match(await r.text(), /<Code>RequestLimitExceeded<\/Code>/);
  assert.equal(model.describeNetworkInterfaces().networkInterfaces.length, 2);
});

Deno.test("attach-fail answers 500 and leaves the ENI unattached", async () => {
  const { h, model, subnetId, instanceId } = setup(new Realism({ buckets: false, faults: "attach-fail=1" }));
  const eni = model.createNetworkInterface({ subnetId });
  const r = await h(
    post(
      `Action=AttachNetworkInterface&NetworkInterfaceId=${eni.networkInterfaceId}&InstanceId=${instanceId}&DeviceIndex=1`,
    ),
  );
  assert.equal(r.status, 500);
  assert.match(await r.text(), /<Code>InternalError<\/Code>/);
  assert.equal(
    model.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] }).networkInterfaces[0]
      .status,
    "available",
  );
});

Deno.test("realistic latency delays the answer", async () => {
  const waits: number[] = [];
  const realism = new Realism({
    buckets: false,
    latency: "realistic",
    sleep: (ms) => (waits.push(ms), Promise.resolve()),
  });
  const { h, subnetId } = setup(realism);
  const r = await h(post(`Action=CreateNetworkInterface&SubnetId=${subnetId}`));
  await r.body?.cancel();
  assert.equal(waits.length, 1);
  assert.ok(waits[0] >= 500 && waits[0] <= 1800);
});

Deno.test("lost-response: the change is made, the answer is a 500 or a 200 cut off halfway; Describe* never", async () => {
  const realism = new Realism({ buckets: false, faults: "lost-response=1", seed: 2 });
  const { model, h, subnetId } = setup(realism);
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await h(post(`Action=CreateNetworkInterface&SubnetId=${subnetId}&ClientToken=t${i}`));
    if (r.status === 500) {
      assert.match(await r.text(), /<Code>InternalError<\/Code>/);
      seen.add("5xx");
    } else {
      assert.equal(r.status, 200);
      const announced = Number(r.headers.get("content-length"));
      const got = (await r.arrayBuffer()).byteLength;
      assert.ok(got < announced, `a cut-off answer: ${got} of ${announced} bytes`);
      seen.add("drop");
    }
  }
  assert.deepEqual([...seen].toSorted(), ["5xx", "drop"]);
  assert.equal(model.describeNetworkInterfaces().networkInterfaces.length, 1 + 12, "every create was made");
  assert.equal(realism.stats().CreateNetworkInterface.lost, 12);
  const d = await h(post("Action=DescribeNetworkInterfaces"));
  assert.equal(d.status, 200);
  assert.equal(realism.stats().DescribeNetworkInterfaces.lost, 0);
});

Deno.test("ClientToken: the Query API honours and echoes it; a mismatch is a 400", async () => {
  const { model, h, subnetId } = setup();
  const create = (count: number) =>
    h(post(
      `Action=CreateNetworkInterface&SubnetId=${subnetId}&SecondaryPrivateIpAddressCount=${count}&ClientToken=abc`,
    ));
  const a = await (await create(1)).text();
  const b = await (await create(1)).text();
  const id = (xml: string) => xml.match(/<networkInterfaceId>([^<]+)</)![1];
  assert.equal(id(a), id(b));
  assert.match(b, /<clientToken>abc<\/clientToken>/);
  const r = await create(2);
  assert.equal(r.status, 400);
  assert.match(await r.text(), /<Code>IdempotentParameterMismatch<\/Code>/);
  assert.equal(model.describeNetworkInterfaces().networkInterfaces.length, 2, "the primary and one");
});
