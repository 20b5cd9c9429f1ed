/**
 * The ENI behaviours of the EC2 conformance suite (registered by `ec2Conformance` for every target): the
 * lifecycle, addresses, attributes, per-type limits, subnet accounting, prefixes, error codes, pagination and
 * filters.
 * @module
 */
import assert from "node:assert/strict";
import { lookupInstanceType } from "../src/aws/instance_types.ts";
import { cidrContains, expandCidr, ipToInt, parseCidr } from "../src/net/ipv4.ts";
import { type Behaviour, rejects } from "./ec2_conformance_suite.ts";

/** Registers the ENI behaviours with the suite's `t`. */
export function eniBehaviours(t: Behaviour): void {
  t("create, attach, describe, tag, detach, delete", async ({ port, subnetId, launch }) => {
    const inst = await launch("m5.large");
    const eni = await port.createNetworkInterface({
      subnetId,
      description: "aws-K8S-" + inst,
      secondaryPrivateIpAddressCount: 2,
      tags: [{ key: "node.k8s.amazonaws.com/instance_id", value: inst }],
    });
    assert.match(eni.networkInterfaceId, /^eni-[0-9a-f]{17}$/);
    assert.match(eni.macAddress, /^02(:[0-9a-f]{2}){5}$/);
    assert.equal(eni.status, "available");
    assert.equal(eni.privateIps.length, 3);
    assert.equal(eni.privateIps.filter((p) => p.primary).length, 1);
    assert.equal(eni.privateIps[0].address, eni.privateIpAddress);
    for (const p of eni.privateIps) assert.ok(cidrContains("10.0.0.0/20", p.address));
    assert.deepEqual(eni.tags, [{ key: "node.k8s.amazonaws.com/instance_id", value: inst }]);

    const { attachmentId } = await port.attachNetworkInterface({
      networkInterfaceId: eni.networkInterfaceId,
      instanceId: inst,
      deviceIndex: 1,
    });
    assert.match(attachmentId, /^eni-attach-/);
    const [d] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
    assert.equal(d.status, "in-use");
    assert.equal(d.attachment?.instanceId, inst);
    assert.equal(d.attachment?.deviceIndex, 1);
    assert.equal(d.attachment?.status, "attached");
    assert.equal(d.description, "aws-K8S-" + inst);

    const [i] = await port.describeInstances([inst]);
    assert.equal(i.instanceType, "m5.large");
    assert.deepEqual(i.networkInterfaces.map((e) => e.attachment?.deviceIndex), [0, 1]);
    assert.equal(i.networkInterfaces[1].networkInterfaceId, eni.networkInterfaceId);
    assert.equal(i.networkInterfaces[1].attachment?.attachmentId, attachmentId);
    assert.equal(i.privateIpAddress, i.networkInterfaces[0].privateIpAddress);

    await port.createTags([eni.networkInterfaceId], [{
      key: "cluster.k8s.amazonaws.com/name",
      value: "lab",
    }]);
    await port.detachNetworkInterface({ attachmentId });
    const [d4] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
    assert.equal(d4.status, "available");
    assert.equal(d4.attachment, undefined);
    assert.equal(d4.tags.length, 2);
    await port.deleteNetworkInterface(eni.networkInterfaceId);
    await rejects(
      port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] }),
      "InvalidNetworkInterfaceID.NotFound",
    );
  });

  t("assign and unassign: the answer lists the addresses just assigned", async ({ port, subnetId }) => {
    const eni = await port.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 2 });
    const got = await port.assignPrivateIpAddresses({
      networkInterfaceId: eni.networkInterfaceId,
      secondaryPrivateIpAddressCount: 3,
    });
    assert.equal(got.privateIps.length, 3);
    const [d2] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
    assert.equal(d2.privateIps.length, 6);
    for (const ip of got.privateIps) assert.ok(d2.privateIps.some((p) => p.address === ip && !p.primary));
    await port.unassignPrivateIpAddresses({
      networkInterfaceId: eni.networkInterfaceId,
      privateIpAddresses: got.privateIps,
    });
    const [d3] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
    assert.deepEqual(
      d3.privateIps.map((p) => p.address).toSorted(),
      eni.privateIps.map((p) => p.address).toSorted(),
    );
  });

  t("no security groups given: the VPC's default group", async ({ port, subnetId, launch }) => {
    const a = await port.createNetworkInterface({ subnetId });
    const b = await port.createNetworkInterface({ subnetId });
    assert.equal(a.securityGroupIds.length, 1, "EC2 applies the VPC's default security group");
    assert.match(a.securityGroupIds[0], /^sg-[0-9a-f]+$/);
    assert.deepEqual(b.securityGroupIds, a.securityGroupIds);
    const [i] = await port.describeInstances([await launch("m5.large")]);
    assert.deepEqual(i.networkInterfaces[0].securityGroupIds, a.securityGroupIds);
  });

  t(
    "SourceDestCheck: on when created, off after ModifyNetworkInterfaceAttribute",
    async ({ port, subnetId }) => {
      const eni = await port.createNetworkInterface({ subnetId });
      assert.equal(eni.sourceDestCheck, true);
      await port.modifyNetworkInterfaceAttribute({
        networkInterfaceId: eni.networkInterfaceId,
        sourceDestCheck: false,
      });
      const [d] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
      assert.equal(d.sourceDestCheck, false);
    },
  );

  t(
    "DeleteOnTermination: set on the attachment by ModifyNetworkInterfaceAttribute; unknown attachment refused",
    async ({ port, subnetId, launch }) => {
      const inst = await launch("m5.large");
      const eni = await port.createNetworkInterface({ subnetId });
      const { attachmentId } = await port.attachNetworkInterface({
        networkInterfaceId: eni.networkInterfaceId,
        instanceId: inst,
        deviceIndex: 1,
      });
      await port.modifyNetworkInterfaceAttribute({
        networkInterfaceId: eni.networkInterfaceId,
        attachmentId,
        deleteOnTermination: true,
      });
      const [d] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
      assert.equal(d.attachment?.deleteOnTermination, true);
      await rejects(
        port.modifyNetworkInterfaceAttribute({
          networkInterfaceId: eni.networkInterfaceId,
          attachmentId: "eni-attach-0123456789abcdef0",
          deleteOnTermination: false,
        }),
        "InvalidAttachmentID.NotFound",
      );
    },
  );

  const TYPES: [string, number, number][] = [
    ["t3.medium", 3, 6],
    ["m5.large", 3, 10],
    ["m5.xlarge", 4, 15],
    ["m4.4xlarge", 8, 30],
    ["m5.4xlarge", 8, 30],
    ["c5.18xlarge", 15, 50],
  ];
  for (const [type, enis, ips] of TYPES) {
    t(`limits of ${type}: ${enis} ENIs × ${ips} IPv4`, async ({ port, subnetId, launch }) => {
      const [info] = await port.describeInstanceTypes([type]);
      assert.equal(info.maxEnis, enis);
      assert.equal(info.ipv4PerEni, ips);
      assert.equal(info.hypervisor, lookupInstanceType(type)!.hypervisor);
      const inst = await launch(type);
      const [i] = await port.describeInstances([inst]);
      const primary = i.networkInterfaces[0].networkInterfaceId;
      await port.assignPrivateIpAddresses({
        networkInterfaceId: primary,
        secondaryPrivateIpAddressCount: ips - 1,
      });
      await rejects(
        port.assignPrivateIpAddresses({ networkInterfaceId: primary, secondaryPrivateIpAddressCount: 1 }),
        "PrivateIpAddressLimitExceeded",
      );
      for (let dev = 1; dev < enis; dev++) {
        const e = await port.createNetworkInterface({ subnetId });
        await port.attachNetworkInterface({
          networkInterfaceId: e.networkInterfaceId,
          instanceId: inst,
          deviceIndex: dev,
        });
      }
      const extra = await port.createNetworkInterface({ subnetId });
      await rejects(
        port.attachNetworkInterface({
          networkInterfaceId: extra.networkInterfaceId,
          instanceId: inst,
          deviceIndex: enis,
        }),
        "AttachmentLimitExceeded",
      );
      const [after] = await port.describeInstances([inst]);
      assert.equal(after.networkInterfaces.length, enis);
    }, { cidr: "10.0.0.0/18" });
  }

  t(
    "an ENI holding more addresses than the type allows cannot attach",
    async ({ port, subnetId, launch }) => {
      const inst = await launch("t3.medium");
      const e = await port.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 6 });
      await rejects(
        port.attachNetworkInterface({
          networkInterfaceId: e.networkInterfaceId,
          instanceId: inst,
          deviceIndex: 1,
        }),
        "PrivateIpAddressLimitExceeded",
      );
    },
  );

  t("AvailableIpAddressCount: a /28 less the 5 reserved, less every address held", async ({
    port,
    subnetId,
    launch,
  }) => {
    await launch("m5.xlarge");
    const [s0] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(s0.availableIpAddressCount, 16 - 5 - 1);
    const e = await port.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 8 });
    const [s1] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(s1.availableIpAddressCount, 1);
    await port.deleteNetworkInterface(e.networkInterfaceId);
    const [s2] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(s2.availableIpAddressCount, 10);
  }, { cidr: "10.0.0.0/28" });

  t("subnet exhaustion: InsufficientFreeAddressesInSubnet", async ({ port, subnetId, launch }) => {
    await launch("m5.xlarge"); // takes 1 of the /28's 11 usable addresses
    const [s0] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(s0.availableIpAddressCount, 16 - 5 - 1);
    const e = await port.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 8 });
    const [s1] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(s1.availableIpAddressCount, 1);
    await rejects(
      port.assignPrivateIpAddresses({
        networkInterfaceId: e.networkInterfaceId,
        secondaryPrivateIpAddressCount: 2,
      }),
      "InsufficientFreeAddressesInSubnet",
    );
    await port.assignPrivateIpAddresses({
      networkInterfaceId: e.networkInterfaceId,
      secondaryPrivateIpAddressCount: 1,
    });
    await rejects(port.createNetworkInterface({ subnetId }), "InsufficientFreeAddressesInSubnet");
    await port.deleteNetworkInterface(e.networkInterfaceId);
    const [s2] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(s2.availableIpAddressCount, 10);
  }, { cidr: "10.0.0.0/28" });

  t(
    "prefixes: aligned /28 on Nitro; refused on Xen; InsufficientCidrBlocks",
    async ({ port, launch, addSubnet }) => {
      const small = await addSubnet({ cidr: "10.0.32.0/26", availabilityZone: "us-west-2a" });
      const nitro = await launch("m5.large", small);
      const [i] = await port.describeInstances([nitro]);
      const primary = i.networkInterfaces[0].networkInterfaceId;
      const primaryBlock = Math.floor((ipToInt(i.privateIpAddress) - ipToInt("10.0.32.0")) / 16);
      const usable = [1, 2].filter((b) => b !== primaryBlock).length; // blocks 0 and 3 hold reserved addresses
      const r = await port.assignPrivateIpAddresses({ networkInterfaceId: primary, ipv4PrefixCount: usable });
      assert.equal(r.ipv4Prefixes.length, usable);
      for (const p of r.ipv4Prefixes) {
        const c = parseCidr(p);
        assert.equal(c.prefixLen, 28);
        assert.equal(ipToInt(c.network) % 16, 0);
        assert.ok(cidrContains("10.0.32.0/26", c.network));
      }
      const [d] = await port.describeNetworkInterfaces({ networkInterfaceIds: [primary] });
      assert.deepEqual(d.ipv4Prefixes.toSorted(), r.ipv4Prefixes.toSorted());
      await rejects(
        port.assignPrivateIpAddresses({ networkInterfaceId: primary, ipv4PrefixCount: 1 }),
        "InsufficientCidrBlocks",
      );
      await port.unassignPrivateIpAddresses({
        networkInterfaceId: primary,
        ipv4Prefixes: [r.ipv4Prefixes[0]],
      });
      const again = await port.assignPrivateIpAddresses({ networkInterfaceId: primary, ipv4PrefixCount: 1 });
      assert.deepEqual(again.ipv4Prefixes, [r.ipv4Prefixes[0]]);

      const xen = await launch("m4.4xlarge");
      const [x] = await port.describeInstances([xen]);
      await rejects(
        port.assignPrivateIpAddresses({
          networkInterfaceId: x.networkInterfaces[0].networkInterfaceId,
          ipv4PrefixCount: 1,
        }),
        "InvalidParameterValue",
      );
      assert.equal(expandCidr(again.ipv4Prefixes[0]).length, 16);
    },
  );

  t("error codes: unknown IDs are NotFound, an unknown instance type is InvalidInstanceType", async ({
    port,
    subnetId,
  }) => {
    await rejects(
      port.describeNetworkInterfaces({ networkInterfaceIds: ["eni-0123456789abcdef0"] }),
      "InvalidNetworkInterfaceID.NotFound",
    );
    await rejects(port.deleteNetworkInterface("eni-0123456789abcdef0"), "InvalidNetworkInterfaceID.NotFound");
    await rejects(
      port.assignPrivateIpAddresses({
        networkInterfaceId: "eni-0123456789abcdef0",
        secondaryPrivateIpAddressCount: 1,
      }),
      "InvalidNetworkInterfaceID.NotFound",
    );
    const notFound = await rejects(
      port.describeInstances(["i-0123456789abcdef0"]),
      "InvalidInstanceID.NotFound",
    );
    assert.equal(notFound.retryable, false); // the caller decides: "not visible yet" or "gone"
    assert.equal(notFound.notFound, true);
    await rejects(
      port.createNetworkInterface({ subnetId: "subnet-0123456789abcdef0" }),
      "InvalidSubnetID.NotFound",
    );
    await rejects(
      port.describeSubnets({ subnetIds: ["subnet-0123456789abcdef0"] }),
      "InvalidSubnetID.NotFound",
    );
    await rejects(
      port.detachNetworkInterface({ attachmentId: "eni-attach-0123456789abcdef0" }),
      "InvalidAttachmentID.NotFound",
    );
    await rejects(port.describeInstanceTypes(["x9.huge"]), "InvalidInstanceType");
    const a = await port.createNetworkInterface({ subnetId });
    await rejects(
      port.attachNetworkInterface({
        networkInterfaceId: a.networkInterfaceId,
        instanceId: "i-0123456789abcdef0",
        deviceIndex: 1,
      }),
      "InvalidInstanceID.NotFound",
    );
  });

  t(
    "attachments: a taken device index is refused; an attached ENI cannot attach again or be deleted",
    async ({
      port,
      subnetId,
      launch,
    }) => {
      const inst = await launch("m5.large");
      const a = await port.createNetworkInterface({ subnetId });
      const b = await port.createNetworkInterface({ subnetId });
      await port.attachNetworkInterface({
        networkInterfaceId: a.networkInterfaceId,
        instanceId: inst,
        deviceIndex: 1,
      });
      const conflict = await rejects(
        port.attachNetworkInterface({
          networkInterfaceId: b.networkInterfaceId,
          instanceId: inst,
          deviceIndex: 1,
        }),
        "InvalidParameterValue",
      );
      assert.equal(conflict.retryable, false);
      assert.equal(conflict.httpStatus, 400);
      await rejects(
        port.attachNetworkInterface({
          networkInterfaceId: a.networkInterfaceId,
          instanceId: inst,
          deviceIndex: 2,
        }),
        "InvalidNetworkInterface.InUse",
      );
      await rejects(port.deleteNetworkInterface(a.networkInterfaceId), "InvalidNetworkInterface.InUse");
    },
  );

  t("addresses: the primary cannot be unassigned; assigning needs a count or addresses", async ({
    port,
    subnetId,
  }) => {
    const a = await port.createNetworkInterface({ subnetId });
    await rejects(
      port.unassignPrivateIpAddresses({
        networkInterfaceId: a.networkInterfaceId,
        privateIpAddresses: [a.privateIpAddress],
      }),
      "InvalidParameterValue",
    );
    await rejects(
      port.assignPrivateIpAddresses({ networkInterfaceId: a.networkInterfaceId }),
      "MissingParameter",
    );
  });

  t(
    "pagination: MaxResults 5 over 12 ENIs returns all, distinct, in 3+ pages",
    async ({ port, calls, subnetId, launch }) => {
      await launch("m5.large");
      const made = new Set<string>();
      for (let n = 0; n < 12; n++) {
        made.add(
          (await port.createNetworkInterface({ subnetId, tags: [{ key: "batch", value: "p" }] }))
            .networkInterfaceId,
        );
      }
      const before = await calls("DescribeNetworkInterfaces");
      const all = await port.describeNetworkInterfaces({
        maxResults: 5,
        filters: [{ name: "tag:batch", values: ["p"] }],
      });
      const ids = all.map((e) => e.networkInterfaceId);
      assert.equal(ids.length, 12);
      assert.equal(new Set(ids).size, 12);
      assert.deepEqual(new Set(ids), made);
      assert.equal(await calls("DescribeNetworkInterfaces") - before, 3);
      const everything = await port.describeNetworkInterfaces({ maxResults: 5 });
      assert.equal(new Set(everything.map((e) => e.networkInterfaceId)).size, 13);
      await rejects(port.describeNetworkInterfaces({ maxResults: 4 }), "InvalidParameterValue");
    },
  );

  t("filters on ENIs and subnets", async ({ port, vpcId, subnetId, launch, addSubnet }) => {
    const inst = await launch("m5.large");
    const other = await addSubnet({
      cidr: "10.0.16.0/20",
      availabilityZone: "us-west-2b",
      tags: [{ key: "x", value: "y" }],
    });
    const mk = (description: string, tags: { key: string; value: string }[], s = subnetId) =>
      port.createNetworkInterface({ subnetId: s, description, tags });
    const a = await mk("aws-K8S-i-1", [{ key: "node.k8s.amazonaws.com/instance_id", value: inst }]);
    await mk("aws-K8S-i-2", [{ key: "node.k8s.amazonaws.com/no_manage", value: "true" }]);
    await mk("something else", [], other);
    await port.attachNetworkInterface({
      networkInterfaceId: a.networkInterfaceId,
      instanceId: inst,
      deviceIndex: 1,
    });
    const q = async (name: string, ...values: string[]) =>
      (await port.describeNetworkInterfaces({ filters: [{ name, values }] })).map((e) => e.networkInterfaceId)
        .length;
    assert.equal(await q("attachment.instance-id", inst), 2);
    assert.equal(await q("status", "available"), 2);
    assert.equal(await q("status", "in-use"), 2);
    assert.equal(await q("description", "aws-K8S-*"), 2);
    assert.equal(await q("description", "aws-K8S-i-?"), 2);
    assert.equal(await q("tag:node.k8s.amazonaws.com/no_manage", "true"), 1);
    assert.equal(
      await q("tag-key", "node.k8s.amazonaws.com/instance_id", "node.k8s.amazonaws.com/no_manage"),
      2,
    );
    assert.equal(await q("subnet-id", other), 1);
    assert.equal(await q("network-interface-id", a.networkInterfaceId), 1);
    const two = await port.describeNetworkInterfaces({
      filters: [{ name: "status", values: ["available"] }, { name: "description", values: ["aws-K8S-*"] }],
    });
    assert.equal(two.length, 1);

    // Scoped to this VPC: an account (moto's, EC2's) may hold a default VPC with subnets of its own.
    const sub = async (name: string, ...values: string[]) =>
      (await port.describeSubnets({ filters: [{ name, values }, { name: "vpc-id", values: [vpcId] }] }))
        .map((s) => s.subnetId);
    assert.deepEqual(await sub("availability-zone", "us-west-2b"), [other]);
    assert.deepEqual(await sub("tag:x", "y"), [other]);
    assert.deepEqual(await sub("tag-key", "kubernetes.io/role/cni"), [subnetId]);
    assert.equal((await sub("vpc-id", vpcId)).length, 2);
    assert.deepEqual(await sub("subnet-id", subnetId), [subnetId]);
  });

  t("an unknown filter name is InvalidParameterValue", async ({ port }) => {
    await rejects(
      port.describeNetworkInterfaces({ filters: [{ name: "no-such-filter", values: ["1"] }] }),
      "InvalidParameterValue",
    );
  });
}
