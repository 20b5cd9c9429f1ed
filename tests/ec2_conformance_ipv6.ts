/**
 * The EC2 port's IPv6 conformance behaviours (registered by ec2_conformance_suite.ts for every target):
 * dual-stack subnets (a /64 of the VPC's /56), AssignIpv6Addresses with Ipv6PrefixCount (a /80 of the subnet's
 * /64, as ipamd asks for in IPv6 mode), the IPv6 fields of DescribeNetworkInterfaces/DescribeSubnets, and
 * UnassignIpv6Addresses; with EC2's refusals.
 * @module
 */
import assert from "node:assert/strict";
import { cidr6Contains, parseCidr6 } from "../src/net/ipv6.ts";
import { type Behaviour, rejects } from "./ec2_conformance_suite.ts";

const VPC6 = "2600:1f14:6b0:d800::/56";

export function ipv6Behaviours(t: Behaviour): void {
  t("IPv6: a dual-stack subnet's /64, a /80 by Ipv6PrefixCount, described, unassigned", async (lab) => {
    const { port } = lab;
    const subnetId = await lab.addSubnet({ cidr: "10.0.16.0/20", ipv6: true });
    const [sub] = await port.describeSubnets({ subnetIds: [subnetId] });
    assert.equal(sub.ipv6CidrBlocks?.length, 1);
    const block = sub.ipv6CidrBlocks![0];
    assert.equal(parseCidr6(block).prefixLen, 64);
    assert.ok(cidr6Contains(VPC6, block.split("/")[0]), `${block} in the VPC's ${VPC6}`);
    assert.equal(sub.assignIpv6AddressOnCreation, true);
    const [v4only] = await port.describeSubnets({ subnetIds: [lab.subnetId] });
    assert.deepEqual(v4only.ipv6CidrBlocks ?? [], []);

    const inst = await lab.launch("m5.large", subnetId);
    const [node] = await port.describeInstances([inst]);
    const primary = node.networkInterfaces[0];
    assert.equal(primary.ipv6Addresses?.length, 1, "a node in a dual-stack subnet gets an IPv6 address");
    assert.ok(cidr6Contains(block, primary.ipv6Addresses![0]));

    const got = await port.assignIpv6Addresses({
      networkInterfaceId: primary.networkInterfaceId,
      ipv6PrefixCount: 1,
    });
    assert.deepEqual(got.ipv6Addresses, []);
    assert.equal(got.ipv6Prefixes.length, 1);
    const p80 = got.ipv6Prefixes[0];
    assert.equal(parseCidr6(p80).prefixLen, 80);
    assert.ok(cidr6Contains(block, p80.split("/")[0]), `${p80} in ${block}`);
    assert.ok(!cidr6Contains(p80, primary.ipv6Addresses![0]), "a /80 never holds an assigned address");

    const [eni] = await port.describeNetworkInterfaces({ networkInterfaceIds: [primary.networkInterfaceId] });
    assert.deepEqual(eni.ipv6Prefixes, [p80]);
    assert.deepEqual(eni.ipv6Addresses, primary.ipv6Addresses);
    assert.equal(await lab.calls("AssignIpv6Addresses"), 1);

    await port.unassignIpv6Addresses({ networkInterfaceId: primary.networkInterfaceId, ipv6Prefixes: [p80] });
    const [after] = await port.describeNetworkInterfaces({
      networkInterfaceIds: [primary.networkInterfaceId],
    });
    assert.deepEqual(after.ipv6Prefixes ?? [], []);
    await rejects(
      port.unassignIpv6Addresses({ networkInterfaceId: primary.networkInterfaceId, ipv6Prefixes: [p80] }),
      "InvalidParameterValue",
    );
    // the freed /80 can be named explicitly again
    const again = await port.assignIpv6Addresses({
      networkInterfaceId: primary.networkInterfaceId,
      ipv6Prefixes: [p80],
    });
    assert.deepEqual(again.ipv6Prefixes, [p80]);
  });

  t(
    "IPv6: refusals — no IPv6 block, two forms, none, over the per-ENI limit, prefixes off Nitro",
    async (lab) => {
      const { port } = lab;
      const v4 = await lab.launch("m5.large");
      const [v4node] = await port.describeInstances([v4]);
      const eni4 = v4node.networkInterfaces[0].networkInterfaceId;
      await rejects(
        port.assignIpv6Addresses({ networkInterfaceId: eni4, ipv6PrefixCount: 1 }),
        "InvalidParameterValue",
      );

      const subnetId = await lab.addSubnet({ cidr: "10.0.16.0/20", ipv6: true });
      const [node] = await port.describeInstances([await lab.launch("m5.large", subnetId)]);
      const eni = node.networkInterfaces[0].networkInterfaceId;
      await rejects(
        port.assignIpv6Addresses({ networkInterfaceId: eni, ipv6PrefixCount: 1, ipv6AddressCount: 1 }),
        "InvalidParameterCombination",
      );
      await rejects(port.assignIpv6Addresses({ networkInterfaceId: eni }), "MissingParameter");
      // m5.large: 10 IPv6 per interface (addresses and prefixes together); it holds one address already
      await rejects(
        port.assignIpv6Addresses({ networkInterfaceId: eni, ipv6PrefixCount: 10 }),
        "InvalidParameterValue",
      );
      assert.equal(
        (await port.assignIpv6Addresses({ networkInterfaceId: eni, ipv6PrefixCount: 9 })).ipv6Prefixes.length,
        9,
      );

      // t2.micro (Xen): 2 per interface, one taken by its address
      const [xen] = await port.describeInstances([await lab.launch("t2.micro", subnetId)]);
      await rejects(
        port.assignIpv6Addresses({
          networkInterfaceId: xen.networkInterfaces[0].networkInterfaceId,
          ipv6PrefixCount: 1,
        }),
        "InvalidParameterValue",
      );
      assert.equal(
        (await port.assignIpv6Addresses({
          networkInterfaceId: xen.networkInterfaces[0].networkInterfaceId,
          ipv6AddressCount: 1,
        })).ipv6Addresses.length,
        1,
        "addresses (not prefixes) are fine off Nitro",
      );
    },
  );
}
