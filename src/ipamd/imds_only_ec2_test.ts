import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import type { ImdsInterface, ImdsPort } from "../aws/imds_port.ts";
import { ImdsOnlyEc2 } from "./imds_only_ec2.ts";

const ifs: ImdsInterface[] = [
  {
    mac: "02:00:00:00:00:01",
    deviceNumber: 0,
    interfaceId: "eni-a",
    subnetId: "subnet-1",
    subnetCidr: "10.0.0.0/20",
    vpcCidrs: ["10.0.0.0/16"],
    localIpv4s: ["10.0.0.10", "10.0.0.11", "10.0.0.12"],
    ipv4Prefixes: [],
    securityGroupIds: ["sg-1"],
  },
  {
    mac: "02:00:00:00:00:02",
    deviceNumber: 1,
    interfaceId: "eni-b",
    subnetId: "subnet-1",
    subnetCidr: "10.0.0.0/20",
    vpcCidrs: ["10.0.0.0/16"],
    localIpv4s: ["10.0.0.20"],
    ipv4Prefixes: ["10.0.0.32/28"],
    securityGroupIds: ["sg-1"],
  },
];
let calls = 0;
const imds = {
  instanceId: () => Promise.resolve("i-1"),
  interfaces: () => (calls++, Promise.resolve(ifs)),
} as unknown as ImdsPort;

Deno.test("ImdsOnlyEc2: this instance's ENIs in EC2's shape, from IMDS", async () => {
  const ec2 = new ImdsOnlyEc2(imds);
  const all = await ec2.describeNetworkInterfaces({
    filters: [{ name: "attachment.instance-id", values: ["i-1"] }],
  });
  assert.deepEqual(all.map((n) => [n.networkInterfaceId, n.attachment?.deviceIndex, n.privateIpAddress]), [
    ["eni-a", 0, "10.0.0.10"],
    ["eni-b", 1, "10.0.0.20"],
  ]);
  assert.deepEqual(all[0].privateIps.filter((p) => !p.primary).map((p) => p.address), [
    "10.0.0.11",
    "10.0.0.12",
  ]);
  assert.deepEqual(all[1].ipv4Prefixes, ["10.0.0.32/28"]);
  assert.deepEqual(all[1].tags, [], "IMDS has no tags");
  assert.deepEqual((await ec2.describeNetworkInterfaces({ networkInterfaceIds: ["eni-b"] })).length, 1);
});

Deno.test("ImdsOnlyEc2: anything else is refused, naming the mode", async () => {
  const ec2 = new ImdsOnlyEc2(imds);
  await assert.rejects(
    ec2.describeNetworkInterfaces({ filters: [{ name: "status", values: ["available"] }] }),
    (e) => e instanceof Ec2Error && e.code === "ImdsOnlyMode",
  );
  for (
    const call of [
      () => ec2.createNetworkInterface(),
      () => ec2.assignPrivateIpAddresses(),
      () => ec2.describeSubnets(),
      () => ec2.createTags(),
    ]
  ) {
    await assert.rejects(call(), /ENABLE_IMDS_ONLY_MODE=true: ipamd makes no EC2 call/);
  }
});
