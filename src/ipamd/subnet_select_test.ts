import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import type { Subnet } from "../aws/ec2_port.ts";
import { Ec2Model } from "../sim/ec2_model.ts";
import { Ec2ModelPort } from "../sim/ec2_model_port.ts";
import { ConfigError } from "./config.ts";
import {
  discoverSubnet,
  pickSubnet,
  rankSubnets,
  subnetDiscoveryEnabled,
  TAG_CNI_ROLE,
} from "./subnet_select.ts";

const node = { vpcId: "vpc-1", availabilityZone: "us-west-2a", primarySubnetId: "subnet-p" };

function sub(id: string, free: number, tag?: string, o: Partial<Subnet> = {}): Subnet {
  return {
    subnetId: id,
    vpcId: "vpc-1",
    cidrBlock: "10.0.0.0/20",
    availabilityZone: "us-west-2a",
    availableIpAddressCount: free,
    tags: tag === undefined ? [] : [{ key: TAG_CNI_ROLE, value: tag }],
    ...o,
  };
}

Deno.test("rankSubnets: tagged subnets and the primary, most free first", () => {
  const r = rankSubnets([
    sub("subnet-p", 100),
    sub("subnet-a", 300, "1"),
    sub("subnet-b", 200, ""),
    sub("subnet-untagged", 5000),
  ], node);
  assert.deepEqual(r.map((s) => s.subnetId), ["subnet-a", "subnet-b", "subnet-p"]);
});

Deno.test("rankSubnets: tag value 0 excludes, also the primary; other AZ / VPC never count", () => {
  const r = rankSubnets([
    sub("subnet-p", 900, "0"),
    sub("subnet-zero", 800, "0"),
    sub("subnet-az", 700, "1", { availabilityZone: "us-west-2b" }),
    sub("subnet-vpc", 600, "1", { vpcId: "vpc-2" }),
    sub("subnet-ok", 10, "1"),
  ], node);
  assert.deepEqual(r.map((s) => s.subnetId), ["subnet-ok"]);
});

Deno.test("pickSubnet: falls back to the primary when nothing is a candidate", () => {
  assert.equal(pickSubnet([], node), "subnet-p");
  assert.equal(pickSubnet([sub("subnet-p", 1, "0"), sub("subnet-x", 99)], node), "subnet-p");
  assert.equal(pickSubnet([sub("subnet-p", 50), sub("subnet-x", 99)], node), "subnet-p");
});

Deno.test("pickSubnet: ties go to the primary, then the lower ID", () => {
  assert.equal(
    pickSubnet([sub("subnet-b", 10, "1"), sub("subnet-p", 10), sub("subnet-a", 10, "1")], node),
    "subnet-p",
  );
  assert.equal(pickSubnet([sub("subnet-b", 10, "1"), sub("subnet-a", 10, "1")], node), "subnet-a");
});

Deno.test("rankSubnets property: every candidate is in the node's VPC/AZ, not tagged 0, tagged or primary; sorted", () => {
  const arb = fc.array(
    fc.record({
      id: fc.constantFrom("subnet-p", "subnet-a", "subnet-b", "subnet-c"),
      free: fc.nat(5000),
      tag: fc.option(fc.constantFrom("0", "1", "", "shared"), { nil: undefined }),
      az: fc.constantFrom("us-west-2a", "us-west-2b"),
      vpc: fc.constantFrom("vpc-1", "vpc-2"),
    }),
    { maxLength: 8 },
  );
  fc.assert(fc.property(arb, (xs) => {
    const subnets = xs.map((x) => sub(x.id, x.free, x.tag, { availabilityZone: x.az, vpcId: x.vpc }));
    const r = rankSubnets(subnets, node);
    for (const s of r) {
      const tag = s.tags.find((t) => t.key === TAG_CNI_ROLE)?.value;
      assert.equal(s.vpcId, "vpc-1");
      assert.equal(s.availabilityZone, "us-west-2a");
      assert.notEqual(tag, "0");
      assert.ok(tag !== undefined || s.subnetId === "subnet-p");
    }
    for (let i = 1; i < r.length; i++) {
      assert.ok(r[i - 1].availableIpAddressCount >= r[i].availableIpAddressCount);
    }
    assert.equal(new Set(r.map((s) => s.subnetId)).size, r.length);
    // Nothing eligible is left out.
    const eligible = new Set(
      subnets.filter((s) => {
        const tag = s.tags.find((t) => t.key === TAG_CNI_ROLE)?.value;
        return s.vpcId === "vpc-1" && s.availabilityZone === "us-west-2a" && tag !== "0" &&
          (tag !== undefined || s.subnetId === "subnet-p");
      }).map((s) => s.subnetId),
    );
    assert.deepEqual(new Set(r.map((s) => s.subnetId)), eligible);
  }));
});

Deno.test("discoverSubnet: one DescribeSubnets over Ec2ModelPort, picks the tagged subnet with most room", async () => {
  const model = new Ec2Model();
  const primary = model.addSubnet({ cidr: "10.0.0.0/24" });
  const big = model.addSubnet({ cidr: "10.0.16.0/20", tags: [{ key: TAG_CNI_ROLE, value: "1" }] });
  model.addSubnet({ cidr: "10.0.32.0/20", tags: [{ key: TAG_CNI_ROLE, value: "0" }] });
  model.addSubnet({ cidr: "10.0.48.0/20" });
  const ec2 = new Ec2ModelPort(model);
  const [p] = await ec2.describeSubnets({ subnetIds: [primary.subnetId] });
  const before = model.calls.DescribeSubnets ?? 0;
  const r = await discoverSubnet(ec2, {
    vpcId: p.vpcId,
    availabilityZone: p.availabilityZone,
    primarySubnetId: p.subnetId,
  });
  assert.equal((model.calls.DescribeSubnets ?? 0) - before, 1);
  assert.equal(r.subnetId, big.subnetId);
  assert.equal(r.candidates, 2);
  assert.equal(r.error, undefined);
});

Deno.test("discoverSubnet: an EC2 failure falls back to the primary and says why", async () => {
  const boom = { describeSubnets: () => Promise.reject(new Error("UnauthorizedOperation")) };
  const r = await discoverSubnet(boom, node);
  assert.equal(r.subnetId, "subnet-p");
  assert.match(String(r.error), /UnauthorizedOperation/);
});

Deno.test("subnetDiscoveryEnabled: default true; booleans as config.ts; bad value is a ConfigError", () => {
  assert.equal(subnetDiscoveryEnabled({}), true);
  assert.equal(subnetDiscoveryEnabled({ ENABLE_SUBNET_DISCOVERY: "" }), true);
  assert.equal(subnetDiscoveryEnabled({ ENABLE_SUBNET_DISCOVERY: "FALSE" }), false);
  assert.equal(subnetDiscoveryEnabled({ ENABLE_SUBNET_DISCOVERY: "0" }), false);
  assert.equal(subnetDiscoveryEnabled({ ENABLE_SUBNET_DISCOVERY: "1" }), true);
  assert.throws(
    () => subnetDiscoveryEnabled({ ENABLE_SUBNET_DISCOVERY: "yes" }),
    (e) => e instanceof ConfigError && /ENABLE_SUBNET_DISCOVERY="yes"/.test(e.message),
  );
});
