import assert from "node:assert/strict";
import type { NetworkInterface, Tag } from "../aws/ec2_port.ts";
import { unmanagedReason } from "./eni_policy.ts";

function eni(deviceIndex: number, tags: Tag[]): NetworkInterface {
  return {
    networkInterfaceId: `eni-${deviceIndex}`,
    subnetId: "subnet-1",
    vpcId: "vpc-1",
    availabilityZone: "us-west-2a",
    macAddress: "02:00:00:00:00:01",
    description: "",
    status: "in-use",
    privateIpAddress: "10.0.0.5",
    privateIps: [{ address: "10.0.0.5", primary: true }],
    ipv4Prefixes: [],
    securityGroupIds: [],
    attachment: {
      attachmentId: "a",
      instanceId: "i-1",
      deviceIndex,
      status: "attached",
      deleteOnTermination: true,
    },
    tags,
    sourceDestCheck: true,
  };
}

const ours = { key: "node.k8s.amazonaws.com/instance_id", value: "i-1" };
const noManage = (v: string) => ({ key: "node.k8s.amazonaws.com/no_manage", value: v });

Deno.test("unmanagedReason: upstream's rules, primary always used", () => {
  for (const manageUntagged of [true, false]) {
    const p = { instanceId: "i-1", manageUntagged };
    assert.equal(unmanagedReason(eni(0, [noManage("true")]), p), undefined, "the primary is always used");
    assert.match(unmanagedReason(eni(1, [noManage("true"), ours]), p)!, /no_manage=true/);
    assert.equal(unmanagedReason(eni(1, [noManage("false")]), p), undefined, "no_manage other than true");
    assert.equal(unmanagedReason(eni(2, [ours]), p), undefined, "made by ipamd on this instance");
  }
  const strict = { instanceId: "i-1", manageUntagged: false };
  assert.match(unmanagedReason(eni(1, []), strict)!, /MANAGE_UNTAGGED_ENI=false/);
  assert.match(
    unmanagedReason(eni(1, [{ key: "node.k8s.amazonaws.com/instance_id", value: "i-2" }]), strict)!,
    /not created by ipamd/,
    "another instance's ENI",
  );
  assert.equal(unmanagedReason(eni(1, []), { instanceId: "i-1", manageUntagged: true }), undefined);
});
