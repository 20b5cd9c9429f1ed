import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { Ec2Error } from "../aws/ec2_port.ts";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { cidrContains, expandCidr, ipToInt } from "../net/ipv4.ts";
import { type Ec2Event, Ec2Model } from "./ec2_model.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof Ec2Error) return e.code;
    throw e;
  }
  return "ok";
}

function lab(o: { instanceType?: string; cidr?: string; detachLatencyMs?: number; now?: () => number } = {}) {
  const model = new Ec2Model({
    seed: 7,
    now: o.now ?? (() => 1_700_000_000_000),
    detachLatencyMs: o.detachLatencyMs,
  });
  const subnet = model.addSubnet({ cidr: o.cidr ?? "10.0.0.0/20", availabilityZone: "us-west-2a" });
  const inst = model.launchInstance({
    instanceType: o.instanceType ?? "m5.large",
    subnetId: subnet.subnetId,
  });
  return { model, subnet, inst };
}

Deno.test("launchInstance gives a primary ENI at device 0 with DeleteOnTermination", () => {
  const { model, inst } = lab();
  assert.equal(inst.networkInterfaces.length, 1);
  const eni = inst.networkInterfaces[0];
  assert.equal(eni.attachment?.deviceIndex, 0);
  assert.equal(eni.attachment?.deleteOnTermination, true);
  assert.match(eni.macAddress, /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(inst.privateIpAddress, eni.privateIpAddress);
  assert.equal(model.instanceByPrivateIp(inst.privateIpAddress), inst.instanceId);
});

Deno.test("same seed gives the same IDs, MACs and addresses; another seed differs", () => {
  const a = lab().inst, b = lab().inst;
  assert.deepEqual(a, b);
  const m = new Ec2Model({ seed: 8 });
  const s = m.addSubnet({ cidr: "10.0.0.0/20" });
  const c = m.launchInstance({ instanceType: "m5.large", subnetId: s.subnetId });
  assert.notEqual(c.instanceId, a.instanceId);
});

Deno.test("subnet reserves 5 addresses and counts assignments", () => {
  const { model, subnet } = lab({ cidr: "10.0.0.0/24" });
  assert.equal(subnet.availableIpAddressCount, 256 - 5);
  assert.equal(
    model.describeSubnets({ subnetIds: [subnet.subnetId] })[0].availableIpAddressCount,
    256 - 5 - 1,
  );
  const eni = model.createNetworkInterface({ subnetId: subnet.subnetId, secondaryPrivateIpAddressCount: 9 });
  assert.equal(model.describeSubnets({ subnetIds: [subnet.subnetId] })[0].availableIpAddressCount, 250 - 10);
  for (const p of eni.privateIps) {
    assert.ok(cidrContains("10.0.0.0/24", p.address));
    assert.ok(!["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.255"].includes(p.address));
  }
  model.deleteNetworkInterface(eni.networkInterfaceId);
  assert.equal(model.describeSubnets({ subnetIds: [subnet.subnetId] })[0].availableIpAddressCount, 250);
});

Deno.test("subnet exhaustion answers InsufficientFreeAddressesInSubnet", () => {
  const { model, subnet } = lab({ cidr: "10.0.0.0/28" }); // 16 - 5 = 11, primary of the instance took 1
  const eni = model.createNetworkInterface({ subnetId: subnet.subnetId, secondaryPrivateIpAddressCount: 9 });
  assert.equal(
    code(() =>
      model.assignPrivateIpAddresses({
        networkInterfaceId: eni.networkInterfaceId,
        secondaryPrivateIpAddressCount: 1,
      })
    ),
    "InsufficientFreeAddressesInSubnet",
  );
  assert.equal(
    code(() => model.createNetworkInterface({ subnetId: subnet.subnetId })),
    "InsufficientFreeAddressesInSubnet",
  );
});

Deno.test("ENI and IPv4 limits follow the instance type", () => {
  for (const t of ["t3.medium", "m5.large", "m5.xlarge", "m4.4xlarge", "m5.4xlarge", "c5.18xlarge"]) {
    const info = lookupInstanceType(t)!;
    const { model, subnet, inst } = lab({ instanceType: t, cidr: "10.0.0.0/16" });
    const primary = inst.networkInterfaces[0].networkInterfaceId;
    model.assignPrivateIpAddresses({
      networkInterfaceId: primary,
      secondaryPrivateIpAddressCount: info.ipv4PerEni - 1,
    });
    assert.equal(
      code(() =>
        model.assignPrivateIpAddresses({ networkInterfaceId: primary, secondaryPrivateIpAddressCount: 1 })
      ),
      "PrivateIpAddressLimitExceeded",
      t,
    );
    for (let d = 1; d < info.maxEnis; d++) {
      const e = model.createNetworkInterface({ subnetId: subnet.subnetId });
      model.attachNetworkInterface({
        networkInterfaceId: e.networkInterfaceId,
        instanceId: inst.instanceId,
        deviceIndex: d,
      });
    }
    const extra = model.createNetworkInterface({ subnetId: subnet.subnetId });
    assert.equal(
      code(() =>
        model.attachNetworkInterface({
          networkInterfaceId: extra.networkInterfaceId,
          instanceId: inst.instanceId,
          deviceIndex: info.maxEnis,
        })
      ),
      "AttachmentLimitExceeded",
      t,
    );
  }
});

Deno.test("attach errors: device-index conflict, in-use, unknown IDs; delete attached", () => {
  const { model, subnet, inst } = lab();
  const e1 = model.createNetworkInterface({ subnetId: subnet.subnetId });
  const e2 = model.createNetworkInterface({ subnetId: subnet.subnetId });
  const { attachmentId } = model.attachNetworkInterface({
    networkInterfaceId: e1.networkInterfaceId,
    instanceId: inst.instanceId,
    deviceIndex: 1,
  });
  const attach = (eni: string, inst2: string, d: number) => () =>
    model.attachNetworkInterface({ networkInterfaceId: eni, instanceId: inst2, deviceIndex: d });
  assert.equal(code(attach(e2.networkInterfaceId, inst.instanceId, 1)), "InvalidParameterValue");
  assert.equal(code(attach(e1.networkInterfaceId, inst.instanceId, 2)), "InvalidNetworkInterface.InUse");
  assert.equal(code(attach("eni-0000", inst.instanceId, 2)), "InvalidNetworkInterfaceID.NotFound");
  assert.equal(code(attach(e2.networkInterfaceId, "i-0000", 2)), "InvalidInstanceID.NotFound");
  assert.equal(
    code(() => model.deleteNetworkInterface(e1.networkInterfaceId)),
    "InvalidNetworkInterface.InUse",
  );
  assert.equal(
    code(() => model.detachNetworkInterface({ attachmentId: "eni-attach-0" })),
    "InvalidAttachmentID.NotFound",
  );
  assert.equal(
    code(() => model.createNetworkInterface({ subnetId: "subnet-0" })),
    "InvalidSubnetID.NotFound",
  );
  assert.equal(code(() => model.createNetworkInterface({ subnetId: "" })), "MissingParameter");
  model.detachNetworkInterface({ attachmentId });
  model.deleteNetworkInterface(e1.networkInterfaceId);
  assert.equal(
    code(() => model.deleteNetworkInterface(e1.networkInterfaceId)),
    "InvalidNetworkInterfaceID.NotFound",
  );
});

Deno.test("detach is asynchronous: detaching, then available after the latency, with events", () => {
  let now = 1_000_000;
  const { model, subnet, inst } = lab({ detachLatencyMs: 2000, now: () => now });
  const events: Ec2Event[] = [];
  model.subscribe((e) => events.push(e));
  const e = model.createNetworkInterface({ subnetId: subnet.subnetId, secondaryPrivateIpAddressCount: 2 });
  const { attachmentId } = model.attachNetworkInterface({
    networkInterfaceId: e.networkInterfaceId,
    instanceId: inst.instanceId,
    deviceIndex: 1,
  });
  assert.equal(events[0].type, "eni-attached");
  assert.equal(events[0].type === "eni-attached" && events[0].ips.length, 3);
  model.detachNetworkInterface({ attachmentId });
  const get = () =>
    model.describeNetworkInterfaces({ networkInterfaceIds: [e.networkInterfaceId] }).networkInterfaces[0];
  assert.equal(get().status, "detaching");
  assert.equal(
    code(() => model.deleteNetworkInterface(e.networkInterfaceId)),
    "InvalidNetworkInterface.InUse",
  );
  assert.equal(model.nextTransitionAt(), now + 2000);
  now += 1999;
  model.tick();
  assert.equal(events.length, 1);
  now += 1;
  model.tick();
  assert.equal(get().status, "available");
  assert.equal(get().attachment, undefined);
  assert.deepEqual(events.map((x) => x.type), ["eni-attached", "eni-detached"]);
  model.deleteNetworkInterface(e.networkInterfaceId);
  assert.equal(events[2].type, "eni-deleted");
});

Deno.test("prefixes: Nitro only, aligned /28, events expand to 16 addresses, InsufficientCidrBlocks", () => {
  const { model, subnet, inst } = lab({ cidr: "10.0.0.0/26" }); // 4 blocks; block 0 has reserved addresses
  const events: Ec2Event[] = [];
  model.subscribe((e) => events.push(e));
  const primary = inst.networkInterfaces[0].networkInterfaceId;
  // block 0 holds .0-.3 and block 3 the broadcast address: only blocks 1 and 2 can be prefixes
  const primaryBlock = Math.floor((ipToInt(inst.privateIpAddress) - ipToInt("10.0.0.0")) / 16);
  const free = [1, 2].filter((b) => b !== primaryBlock).length;
  const { ipv4Prefixes } = model.assignPrivateIpAddresses({
    networkInterfaceId: primary,
    ipv4PrefixCount: free,
  });
  assert.equal(ipv4Prefixes.length, free);
  for (const p of ipv4Prefixes) assert.match(p, /^10\.0\.0\.(16|32)\/28$/);
  const ev = events[0];
  assert.ok(ev.type === "ips-assigned");
  assert.equal(ev.ips.length, 16 * free);
  assert.equal(
    code(() => model.assignPrivateIpAddresses({ networkInterfaceId: primary, ipv4PrefixCount: 1 })),
    "InsufficientCidrBlocks",
  );
  model.unassignPrivateIpAddresses({ networkInterfaceId: primary, ipv4Prefixes: [ipv4Prefixes[0]] });
  assert.deepEqual(events[1].type === "ips-unassigned" && events[1].ips, expandCidr(ipv4Prefixes[0]));
  const xen = new Ec2Model({ seed: 1 });
  const s = xen.addSubnet({ cidr: "10.0.0.0/20" });
  const xi = xen.launchInstance({ instanceType: "m4.4xlarge", subnetId: s.subnetId });
  assert.equal(
    code(() =>
      xen.assignPrivateIpAddresses({
        networkInterfaceId: xi.networkInterfaces[0].networkInterfaceId,
        ipv4PrefixCount: 1,
      })
    ),
    "InvalidParameterValue",
  );
  void subnet;
});

Deno.test("pagination returns every ENI once; filters and wildcards", () => {
  const { model, subnet, inst } = lab();
  for (let i = 0; i < 12; i++) {
    model.createNetworkInterface({
      subnetId: subnet.subnetId,
      description: i % 2 ? "aws-K8S-x" : "other",
      tags: [{ key: "n", value: String(i) }],
    });
  }
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = model.describeNetworkInterfaces({ maxResults: 5, nextToken: token });
    seen.push(...page.networkInterfaces.map((e) => e.networkInterfaceId));
    token = page.nextToken;
    pages++;
  } while (token);
  assert.equal(pages, 3);
  assert.equal(seen.length, 13);
  assert.equal(new Set(seen).size, 13);
  const f = (name: string, ...values: string[]) =>
    model.describeNetworkInterfaces({ filters: [{ name, values }] }).networkInterfaces.length;
  assert.equal(f("description", "aws-K8S-*"), 6);
  assert.equal(f("tag:n", "1", "2"), 2);
  assert.equal(f("tag-key", "n"), 12);
  assert.equal(f("status", "available"), 12);
  assert.equal(f("attachment.instance-id", inst.instanceId), 1);
  assert.equal(f("subnet-id", subnet.subnetId), 13);
  assert.equal(code(() => f("bogus", "x")), "InvalidParameterValue");
  assert.equal(code(() => model.describeNetworkInterfaces({ maxResults: 4 })), "InvalidParameterValue");
  assert.equal(code(() => model.describeNetworkInterfaces({ nextToken: "junk" })), "InvalidPaginationToken");
});

Deno.test("property: addresses are never handed out twice and accounting stays exact", () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant("create" as const), n: fc.integer({ min: 0, max: 12 }) }),
    fc.record({ k: fc.constant("assign" as const), i: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ k: fc.constant("prefix" as const), i: fc.nat(), n: fc.integer({ min: 1, max: 2 }) }),
    fc.record({ k: fc.constant("unassign" as const), i: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ k: fc.constant("attach" as const), i: fc.nat() }),
    fc.record({ k: fc.constant("detach" as const), i: fc.nat() }),
    fc.record({ k: fc.constant("delete" as const), i: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.array(op, { maxLength: 60 }), (seed, ops) => {
      const model = new Ec2Model({ seed });
      const subnet = model.addSubnet({ cidr: "10.0.0.0/25" });
      const inst = model.launchInstance({ instanceType: "t3.medium", subnetId: subnet.subnetId });
      const limit = lookupInstanceType("t3.medium")!;
      for (const o of ops) {
        const enis = model.describeNetworkInterfaces().networkInterfaces;
        const e = "i" in o ? enis[o.i % enis.length] : undefined;
        try {
          if (o.k === "create") {
            model.createNetworkInterface({
              subnetId: subnet.subnetId,
              secondaryPrivateIpAddressCount: o.n || undefined,
            });
          } else if (o.k === "assign") {
            model.assignPrivateIpAddresses({
              networkInterfaceId: e!.networkInterfaceId,
              secondaryPrivateIpAddressCount: o.n,
            });
          } else if (o.k === "prefix") {
            model.assignPrivateIpAddresses({
              networkInterfaceId: e!.networkInterfaceId,
              ipv4PrefixCount: o.n,
            });
          } else if (o.k === "unassign") {
            const sec = e!.privateIps.filter((p) => !p.primary).slice(0, o.n).map((p) => p.address);
            model.unassignPrivateIpAddresses({
              networkInterfaceId: e!.networkInterfaceId,
              privateIpAddresses: sec,
              ipv4Prefixes: e!.ipv4Prefixes.slice(0, 1),
            });
          } else if (o.k === "attach") {
            const used = new Set(enis.flatMap((x) => x.attachment ? [x.attachment.deviceIndex] : []));
            const d = [1, 2, 3].find((x) => !used.has(x)) ?? 1;
            model.attachNetworkInterface({
              networkInterfaceId: e!.networkInterfaceId,
              instanceId: inst.instanceId,
              deviceIndex: d,
            });
          } else if (o.k === "detach" && e!.attachment) {
            model.detachNetworkInterface({ attachmentId: e!.attachment.attachmentId });
          } else if (o.k === "delete") model.deleteNetworkInterface(e!.networkInterfaceId);
        } catch (err) {
          if (!(err instanceof Ec2Error)) throw err;
        }
      }
      const enis = model.describeNetworkInterfaces().networkInterfaces;
      const all = enis.flatMap((
        x,
      ) => [...x.privateIps.map((p) => p.address), ...x.ipv4Prefixes.flatMap((p) => expandCidr(p))]);
      assert.equal(new Set(all).size, all.length, "duplicate address");
      for (const ip of all) assert.ok(cidrContains(subnet.cidrBlock, ip));
      const s = model.describeSubnets({ subnetIds: [subnet.subnetId] })[0];
      assert.equal(s.availableIpAddressCount, 128 - 5 - all.length);
      const attached = enis.filter((x) => x.attachment?.instanceId === inst.instanceId);
      assert.ok(attached.length <= limit.maxEnis);
      for (const x of attached) assert.ok(x.privateIps.length + x.ipv4Prefixes.length <= limit.ipv4PerEni);
    }),
    { numRuns: 200 },
  );
});

Deno.test("property: pagination over filters equals the unpaged answer, for any page size", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ tag: fc.constantFrom("a", "b", "c"), desc: fc.constantFrom("aws-K8S-1", "x") }), {
        maxLength: 40,
      }),
      fc.integer({ min: 5, max: 12 }),
      fc.constantFrom("a", "b", "*"),
      fc.nat(),
      (specs, pageSize, want, deleteEvery) => {
        const model = new Ec2Model({ seed: 1, now: () => 0 });
        const s = model.addSubnet({ cidr: "10.0.0.0/20" });
        const ids = specs.map((x) =>
          model.createNetworkInterface({
            subnetId: s.subnetId,
            description: x.desc,
            tags: [{ key: "t", value: x.tag }],
          })
            .networkInterfaceId
        );
        // deletions before the walk must not confuse the tokens
        if (deleteEvery > 0) {
          ids.filter((_, i) => i % (deleteEvery + 2) === 0).forEach((id) => model.deleteNetworkInterface(id));
        }
        const filters = [{ name: "tag:t", values: [want] }];
        const all = model.describeNetworkInterfaces({ filters }).networkInterfaces.map((e) =>
          e.networkInterfaceId
        );
        const walked: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = model.describeNetworkInterfaces({ filters, maxResults: pageSize, nextToken: token });
          assert.ok(page.networkInterfaces.length <= pageSize);
          walked.push(...page.networkInterfaces.map((e) => e.networkInterfaceId));
          token = page.nextToken;
          pages++;
        } while (token);
        assert.deepEqual(walked, all);
        assert.equal(pages, Math.max(1, Math.ceil(all.length / pageSize)));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("indexed filters (instance, available) answer as a scan of every ENI does, through attach/detach/terminate", () => {
  let now = 1_700_000_000_000;
  const { model, subnet, inst } = lab({ detachLatencyMs: 1000, now: () => now });
  const other = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.subnetId });
  const make = () => model.createNetworkInterface({ subnetId: subnet.subnetId }).networkInterfaceId;
  const [a, b, c] = [make(), make(), make()];
  make(); // stays available
  const att = model.attachNetworkInterface({
    networkInterfaceId: a,
    instanceId: inst.instanceId,
    deviceIndex: 1,
  });
  model.attachNetworkInterface({ networkInterfaceId: b, instanceId: inst.instanceId, deviceIndex: 2 });
  model.attachNetworkInterface({ networkInterfaceId: c, instanceId: other.instanceId, deviceIndex: 1 });
  model.detachNetworkInterface({ attachmentId: att.attachmentId });
  const ids = (filters: { name: string; values: string[] }[]) =>
    model.describeNetworkInterfaces({ filters }).networkInterfaces.map((e) => e.networkInterfaceId);
  const check = () => {
    for (const i of [inst.instanceId, other.instanceId]) {
      // A glob value takes the scan path; an exact one the index.
      assert.deepEqual(
        ids([{ name: "attachment.instance-id", values: [i] }]),
        ids([{ name: "attachment.instance-id", values: [`${i}*`] }]),
      );
    }
    assert.deepEqual(
      ids([{ name: "status", values: ["available"] }]),
      ids([{ name: "status", values: ["availabl?"] }]),
    );
  };
  check(); // a detaching
  assert.equal(ids([{ name: "attachment.instance-id", values: [inst.instanceId] }]).length, 3);
  now += 1000;
  check(); // a available again
  assert.ok(ids([{ name: "status", values: ["available"] }]).includes(a));
  model.terminateInstance(other.instanceId);
  check();
  assert.deepEqual(ids([{ name: "attachment.instance-id", values: [other.instanceId] }]), []);
});
