/**
 * The EC2 port's conformance behaviours, registered once per target by {@linkcode ec2Conformance}. Targets
 * (in `ec2_conformance_test.ts`): `SdkEc2` → the lab's Query server over HTTP, `Ec2ModelPort` in-process, and
 * `SdkEc2` → moto. Every target must answer identically, errors included; a behaviour a target cannot
 * show is skipped for that target only, with its reason, in the target's gap table.
 * @module
 */
import assert from "node:assert/strict";
import { Ec2Error, type Ec2Port, type Tag } from "../src/aws/ec2_port.ts";
import { lookupInstanceType } from "../src/aws/instance_types.ts";
import { RateLimitedEc2 } from "../src/aws/rate_limit.ts";
import { cidrContains, expandCidr, ipToInt, parseCidr } from "../src/net/ipv4.ts";
import type { ActionStats, RealismOptions } from "../src/sim/realism.ts";
import { ec2HardParts } from "./ec2_conformance_hard_parts.ts";
import { ipv6Behaviours } from "./ec2_conformance_ipv6.ts";

/** A subnet to create: what the behaviours ask a target for. */
export interface SubnetSpec {
  cidr: string;
  availabilityZone?: string;
  tags?: Tag[];
  /** A dual-stack subnet: a /64 of the VPC's IPv6 /56, with AssignIpv6AddressOnCreation. */
  ipv6?: boolean;
}

/** What one behaviour sets its target up with. */
export interface FixtureOptions {
  /** The first subnet's CIDR (default 10.0.0.0/20, in us-west-2a, tagged `kubernetes.io/role/cni=1`). */
  cidr?: string;
  /** The lab's realism knobs (latency, buckets, faults): only targets backed by the lab's model honour it. */
  realism?: RealismOptions;
}

/** One target, set up for one behaviour. */
export interface Ec2Fixture {
  port: Ec2Port;
  vpcId: string;
  subnetId: string;
  addSubnet(spec: SubnetSpec): Promise<string>;
  /** Launches an instance (primary ENI at device 0) and returns its id. */
  launch(instanceType: string, subnetId: string): Promise<string>;
  /** Counters per action of the calls the target's server received (throttled ones included). */
  stats(): Promise<Record<string, ActionStats>>;
  /** Moves the target's clock forward (targets with the lab's realism knobs only). */
  advance?(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** A target: builds a fresh fixture per behaviour. */
export interface Ec2Target {
  name: string;
  /** Whether the target honours `FixtureOptions.realism` (the lab's knobs). */
  realism: boolean;
  /** Behaviour title → why this target skips it (shown as the test's name). */
  gaps?: Readonly<Record<string, string>>;
  setUp(o: FixtureOptions): Promise<Ec2Fixture>;
}

/** What a behaviour's body gets. */
export interface Lab {
  port: Ec2Port;
  vpcId: string;
  subnetId: string;
  addSubnet(spec: SubnetSpec): Promise<string>;
  launch(instanceType: string, subnetId?: string): Promise<string>;
  calls(action: string): Promise<number>;
  stats(): Promise<Record<string, ActionStats>>;
  /** Moves the target's clock forward (only in behaviours with `realism`). */
  advance(ms: number): Promise<void>;
}

/** Registers one behaviour. */
export type Behaviour = (title: string, fn: (lab: Lab) => Promise<void>, o?: FixtureOptions) => void;

/** Awaits `p` and asserts it rejects with an `Ec2Error` of `code`; returns that error. */
export async function rejects(p: Promise<unknown>, code: string): Promise<Ec2Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Ec2Error, `expected Ec2Error, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** Every behaviour title registered so far (a gap table naming an unknown title is a mistake). */
export const BEHAVIOURS = new Set<string>();

/** The shared behaviours, registered once per target. */
export function ec2Conformance(target: Ec2Target): void {
  const t: Behaviour = (title, fn, o = {}) => {
    BEHAVIOURS.add(title);
    const gap = target.gaps?.[title] ??
      (o.realism && !target.realism ? "needs the lab's realism knobs" : undefined);
    if (gap) {
      Deno.test({ name: `${target.name}: ${title} [skipped: ${gap}]`, ignore: true, fn() {} });
      return;
    }
    Deno.test(`${target.name}: ${title}`, async () => {
      const fx = await target.setUp(o);
      try {
        await fn({
          port: fx.port,
          vpcId: fx.vpcId,
          subnetId: fx.subnetId,
          addSubnet: (spec) => fx.addSubnet(spec),
          launch: (instanceType, subnetId = fx.subnetId) => fx.launch(instanceType, subnetId),
          calls: async (action) => (await fx.stats())[action]?.calls ?? 0,
          stats: () => fx.stats(),
          advance: (ms) => {
            if (!fx.advance) throw new Error(`${target.name} cannot move its clock`);
            return fx.advance(ms);
          },
        });
      } finally {
        await fx.close();
      }
    });
  };

  t("create, attach, describe, assign, unassign, detach, delete", async ({ port, subnetId, launch }) => {
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
    await port.modifyNetworkInterfaceAttribute({
      networkInterfaceId: eni.networkInterfaceId,
      attachmentId,
      deleteOnTermination: true,
    });
    const [d] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
    assert.equal(d.status, "in-use");
    assert.equal(d.attachment?.instanceId, inst);
    assert.equal(d.attachment?.deviceIndex, 1);
    assert.equal(d.attachment?.status, "attached");
    assert.equal(d.attachment?.deleteOnTermination, true);
    assert.equal(d.description, "aws-K8S-" + inst);

    const [i] = await port.describeInstances([inst]);
    assert.equal(i.instanceType, "m5.large");
    assert.deepEqual(i.networkInterfaces.map((e) => e.attachment?.deviceIndex), [0, 1]);
    assert.equal(i.networkInterfaces[1].networkInterfaceId, eni.networkInterfaceId);
    assert.equal(i.networkInterfaces[1].attachment?.attachmentId, attachmentId);
    assert.equal(i.privateIpAddress, i.networkInterfaces[0].privateIpAddress);

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
    assert.equal(d3.privateIps.length, 3);

    assert.equal(d3.sourceDestCheck, true);
    await port.modifyNetworkInterfaceAttribute({
      networkInterfaceId: eni.networkInterfaceId,
      sourceDestCheck: false,
    });
    const [d3b] = await port.describeNetworkInterfaces({ networkInterfaceIds: [eni.networkInterfaceId] });
    assert.equal(d3b.sourceDestCheck, false);
    await rejects(
      port.modifyNetworkInterfaceAttribute({
        networkInterfaceId: eni.networkInterfaceId,
        attachmentId: "eni-attach-0123456789abcdef0",
        deleteOnTermination: false,
      }),
      "InvalidAttachmentID.NotFound",
    );
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

  t("error codes: unknown IDs, device-index conflict, in-use ENIs", async ({ port, subnetId, launch }) => {
    const inst = await launch("m5.large");
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
    const b = await port.createNetworkInterface({ subnetId });
    await rejects(
      port.attachNetworkInterface({
        networkInterfaceId: a.networkInterfaceId,
        instanceId: "i-0123456789abcdef0",
        deviceIndex: 1,
      }),
      "InvalidInstanceID.NotFound",
    );
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
    await rejects(
      port.describeNetworkInterfaces({ filters: [{ name: "no-such-filter", values: ["1"] }] }),
      "InvalidParameterValue",
    );

    const sub = async (name: string, ...values: string[]) =>
      (await port.describeSubnets({ filters: [{ name, values }] })).map((s) => s.subnetId);
    assert.deepEqual(await sub("availability-zone", "us-west-2b"), [other]);
    assert.deepEqual(await sub("tag:x", "y"), [other]);
    assert.deepEqual(await sub("tag-key", "kubernetes.io/role/cni"), [subnetId]);
    assert.equal((await sub("vpc-id", vpcId)).length, 2);
    assert.deepEqual(await sub("subnet-id", subnetId), [subnetId]);
  });

  t(
    "throttling: an empty bucket answers RequestLimitExceeded (retryable, 503)",
    async ({ port, subnetId }) => {
      await port.createNetworkInterface({ subnetId });
      await port.createNetworkInterface({ subnetId });
      const e = await rejects(port.createNetworkInterface({ subnetId }), "RequestLimitExceeded");
      assert.equal(e.retryable, true);
      assert.equal(e.httpStatus, 503);
      assert.equal(e.action, "CreateNetworkInterface");
      await port.describeSubnets({}); // another class is unaffected
    },
    { realism: { buckets: { mutate: { capacity: 2, refillPerSec: 0 } } } },
  );

  t("injected 5xx surfaces as retryable InternalError", async ({ port, subnetId }) => {
    const e = await rejects(port.describeSubnets({ subnetIds: [subnetId] }), "InternalError");
    assert.equal(e.retryable, true);
    assert.equal(e.httpStatus, 500);
  }, { realism: { faults: "5xx=1" } });

  t(
    "RateLimitedEc2 converges under 30% injected throttling with bounded calls",
    async ({ port, stats, subnetId, launch }) => {
      const inst = await launch("m5.4xlarge");
      let throttles = 0;
      const calls: string[] = [];
      const limited = new RateLimitedEc2(port, {
        baseDelayMs: 1,
        maxDelayMs: 4,
        onThrottle: () => throttles++,
        onCall: (action) => calls.push(action),
      });
      const OPS = 20;
      for (let n = 1; n < 8; n++) {
        const e = await limited.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 2 });
        await limited.attachNetworkInterface({
          networkInterfaceId: e.networkInterfaceId,
          instanceId: inst,
          deviceIndex: n,
        });
      }
      const enis = await limited.describeNetworkInterfaces({
        filters: [{ name: "attachment.instance-id", values: [inst] }],
      });
      assert.equal(enis.length, 8);
      for (const e of enis.slice(0, 5)) {
        await limited.assignPrivateIpAddresses({
          networkInterfaceId: e.networkInterfaceId,
          secondaryPrivateIpAddressCount: 3,
        });
      }
      const logical = 7 * 2 + 1 + 5;
      assert.equal(logical, OPS);
      const counters = await stats();
      const total = Object.values(counters).reduce((n, s) => n + s.calls, 0);
      const throttled = Object.values(counters).reduce((n, s) => n + s.throttles, 0);
      assert.ok(throttled > 0, "the fault injection must have throttled something");
      assert.equal(throttles, throttled);
      assert.equal(calls.length, total);
      assert.ok(total <= OPS * 3, `too many calls: ${total} for ${OPS} operations`);
      const [after] = await port.describeInstances([inst]);
      assert.equal(after.networkInterfaces.length, 8);
    },
    { realism: { faults: "throttle=0.3", seed: 5 } },
  );
  ec2HardParts(t);
  ipv6Behaviours(t);
}
