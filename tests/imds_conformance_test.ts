/** IMDSv2 conformance: the real `ImdsClient` and raw fetch against the lab's IMDS server on 127.0.0.1. */
import assert from "node:assert/strict";
import { ImdsClient } from "../src/aws/imds.ts";
import { Ec2Model } from "../src/sim/ec2_model.ts";
import { createImdsHandler, type ImdsHandlerOptions } from "../src/sim/imds_server.ts";
import { Realism } from "../src/sim/realism.ts";

interface Ctx {
  model: Ec2Model;
  url: string;
  clock: { now: number };
  instanceId: string;
  subnetId: string;
  client: ImdsClient;
}

async function withImds(
  fn: (c: Ctx) => Promise<void>,
  o: {
    faults?: string;
    handler?: (model: Ec2Model, instanceId: string) => ImdsHandlerOptions;
    /** A dual-stack VPC and subnet (the instance's primary ENI gets an IPv6 address), client reading IPv6 keys. */
    ipv6?: boolean;
  } = {},
): Promise<void> {
  const clock = { now: Date.UTC(2026, 10, 25, 12) };
  const model = new Ec2Model({
    seed: 9,
    now: () => clock.now,
    ...(o.ipv6 ? { vpcIpv6Cidr: "2600:1f14:6b0:d800::/56" } : {}),
  });
  const subnet = model.addSubnet({
    cidr: "10.0.0.0/20",
    availabilityZone: "us-west-2b",
    ...(o.ipv6 ? { ipv6Cidr: "2600:1f14:6b0:d801::/64", assignIpv6AddressOnCreation: true } : {}),
  });
  const sg = model.addSecurityGroup("nodes");
  const inst = model.launchInstance({
    instanceType: "m5.large",
    subnetId: subnet.subnetId,
    securityGroupIds: [sg],
  });
  const realism = new Realism({ faults: o.faults ?? "" });
  const opts = o.handler?.(model, inst.instanceId) ?? { instanceId: inst.instanceId };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createImdsHandler(model, opts, realism),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    await fn({
      model,
      url,
      clock,
      instanceId: inst.instanceId,
      subnetId: subnet.subnetId,
      client: new ImdsClient({ endpoint: url, now: () => clock.now, ipv6: o.ipv6 }),
    });
  } finally {
    await server.shutdown();
  }
}

async function token(url: string, ttl = "60"): Promise<string> {
  const r = await fetch(`${url}/latest/api/token`, {
    method: "PUT",
    headers: { "x-aws-ec2-metadata-token-ttl-seconds": ttl },
  });
  assert.equal(r.status, 200);
  return await r.text();
}

async function get(url: string, path: string, tok?: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${url}${path}`, { headers: tok ? { "x-aws-ec2-metadata-token": tok } : {} });
  return { status: r.status, body: await r.text() };
}

Deno.test("imds: every GET needs a token; no IMDSv1 fallback", () =>
  withImds(async ({ url }) => {
    assert.equal((await get(url, "/latest/meta-data/instance-id")).status, 401);
    assert.equal((await get(url, "/latest/meta-data/instance-id", "not-a-token")).status, 401);
    const tok = await token(url);
    const ok = await get(url, "/latest/meta-data/instance-id", tok);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^i-[0-9a-f]{17}$/);
  }));

Deno.test("imds: token TTL must be 1..21600 and expires", () =>
  withImds(async ({ url, clock }) => {
    const put = (h: Record<string, string>) =>
      fetch(`${url}/latest/api/token`, { method: "PUT", headers: h }).then(async (
        r,
      ) => (await r.body?.cancel(), r.status));
    assert.equal(await put({}), 400);
    for (const bad of ["0", "21601", "-5", "abc", "1.5"]) {
      assert.equal(await put({ "x-aws-ec2-metadata-token-ttl-seconds": bad }), 400, bad);
    }
    assert.equal(await put({ "x-aws-ec2-metadata-token-ttl-seconds": "21600" }), 200);
    const r = await fetch(`${url}/latest/api/token`);
    await r.body?.cancel();
    assert.equal(r.status, 405);
    const tok = await token(url, "1");
    assert.equal((await get(url, "/latest/meta-data/instance-id", tok)).status, 200);
    clock.now += 1000;
    assert.equal((await get(url, "/latest/meta-data/instance-id", tok)).status, 401);
  }));

Deno.test("imds: instance paths and per-interface paths via ImdsClient", () =>
  withImds(async ({ model, url, client, instanceId, subnetId }) => {
    const rec = model.attachedEnis(instanceId)[0];
    assert.equal(await client.instanceId(), instanceId);
    assert.equal(await client.instanceType(), "m5.large");
    assert.equal(await client.availabilityZone(), "us-west-2b");
    assert.equal(await client.region(), "us-west-2");
    assert.equal(await client.localIpv4(), rec.primaryIp);
    assert.equal(await client.primaryMac(), rec.mac);

    const eni = model.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 2 });
    model.attachNetworkInterface({ networkInterfaceId: eni.networkInterfaceId, instanceId, deviceIndex: 1 });
    const { ipv4Prefixes } = model.assignPrivateIpAddresses({
      networkInterfaceId: eni.networkInterfaceId,
      ipv4PrefixCount: 1,
    });
    const ifs = await client.interfaces();
    assert.equal(ifs.length, 2);
    const [p, s] = ifs;
    assert.equal(p.deviceNumber, 0);
    assert.equal(p.interfaceId, rec.id);
    assert.deepEqual(p.localIpv4s, [rec.primaryIp]);
    assert.deepEqual(p.ipv4Prefixes, []);
    assert.equal(p.securityGroupIds.length, 1);
    assert.equal(s.deviceNumber, 1);
    assert.equal(s.mac, eni.macAddress);
    assert.equal(s.interfaceId, eni.networkInterfaceId);
    assert.equal(s.subnetId, subnetId);
    assert.equal(s.subnetCidr, "10.0.0.0/20");
    assert.deepEqual(s.vpcCidrs, ["10.0.0.0/16"]);
    assert.deepEqual(s.localIpv4s, eni.privateIps.map((x) => x.address)); // primary first
    assert.deepEqual(s.ipv4Prefixes, ipv4Prefixes);

    const tok = await token(url);
    const macs = await get(url, "/latest/meta-data/network/interfaces/macs/", tok);
    assert.deepEqual(macs.body.split("\n").toSorted(), [`${rec.mac}/`, `${eni.macAddress}/`].toSorted());
    assert.equal(
      (await get(url, `/latest/meta-data/network/interfaces/macs/${rec.mac}/ipv4-prefix`, tok)).status,
      404,
    );
    assert.equal((await get(url, "/latest/meta-data/no-such-thing", tok)).status, 404);
    assert.equal((await get(url, `/latest/meta-data/placement/region`, tok)).body, "us-west-2");
    const doc = JSON.parse((await get(url, "/latest/dynamic/instance-identity/document", tok)).body);
    assert.equal(doc.region, "us-west-2");
    assert.equal(doc.instanceId, instanceId);
    assert.equal(doc.privateIp, rec.primaryIp);
  }));

Deno.test("imds: IPv6 keys per interface and the top-level ipv6, only where the ENI has them", () =>
  withImds(async ({ model, url, client, instanceId }) => {
    const rec = model.attachedEnis(instanceId)[0];
    const { ipv6Prefixes } = model.assignIpv6Addresses({ networkInterfaceId: rec.id, ipv6PrefixCount: 1 });
    assert.match(ipv6Prefixes[0], /^2600:1f14:6b0:d801:[0-9a-f:]+\/80$/);
    const [p] = await client.interfaces();
    assert.equal(p.ipv6s?.length, 1);
    assert.ok(p.ipv6s![0].startsWith("2600:1f14:6b0:d801:"));
    assert.deepEqual(p.ipv6Prefixes, ipv6Prefixes);
    assert.deepEqual(p.subnetIpv6Cidrs, ["2600:1f14:6b0:d801::/64"]);
    assert.deepEqual(p.vpcIpv6Cidrs, ["2600:1f14:6b0:d800::/56"]);

    const tok = await token(url);
    const base = `/latest/meta-data/network/interfaces/macs/${rec.mac}/`;
    const keys = (await get(url, base, tok)).body.split("\n");
    for (const k of ["ipv6-prefix", "ipv6s", "subnet-ipv6-cidr-blocks", "vpc-ipv6-cidr-blocks"]) {
      assert.ok(keys.includes(k), k);
    }
    assert.ok(!keys.includes("ipv4-prefix"));
    assert.deepEqual(keys, keys.toSorted());
    assert.equal((await get(url, "/latest/meta-data/ipv6", tok)).body, p.ipv6s![0]);
    assert.ok((await get(url, "/latest/meta-data/", tok)).body.split("\n").includes("ipv6"));
  }, { ipv6: true }));

Deno.test("imds: an IPv4-only ENI has no IPv6 keys, no top-level ipv6", () =>
  withImds(async ({ model, url, instanceId }) => {
    const rec = model.attachedEnis(instanceId)[0];
    const tok = await token(url);
    const keys = (await get(url, `/latest/meta-data/network/interfaces/macs/${rec.mac}/`, tok)).body;
    assert.doesNotMatch(keys, /ipv6/);
    assert.equal(
      (await get(url, `/latest/meta-data/network/interfaces/macs/${rec.mac}/ipv6s`, tok)).status,
      404,
    );
    assert.equal((await get(url, "/latest/meta-data/ipv6", tok)).status, 404);
    assert.doesNotMatch((await get(url, "/latest/meta-data/", tok)).body, /ipv6/);
    const [p] = await new ImdsClient({ endpoint: url, ipv6: true }).interfaces();
    assert.deepEqual([p.ipv6s, p.ipv6Prefixes, p.subnetIpv6Cidrs, p.vpcIpv6Cidrs], [[], [], [], []]);
  }));

Deno.test("imds: an attached ENI and assigned IPs appear only after the lag", () =>
  withImds(async ({ model, client, clock, instanceId, subnetId }) => {
    const eni = model.createNetworkInterface({ subnetId });
    model.attachNetworkInterface({ networkInterfaceId: eni.networkInterfaceId, instanceId, deviceIndex: 1 });
    assert.equal((await client.interfaces()).length, 1);
    clock.now += 1999;
    assert.equal((await client.interfaces()).length, 1);
    clock.now += 1;
    const two = await client.interfaces();
    assert.equal(two.length, 2);
    assert.deepEqual(two[1].localIpv4s, [eni.privateIpAddress]);
    const { privateIps } = model.assignPrivateIpAddresses({
      networkInterfaceId: eni.networkInterfaceId,
      secondaryPrivateIpAddressCount: 2,
    });
    assert.equal((await client.interfaces())[1].localIpv4s.length, 1);
    clock.now += 2000;
    assert.deepEqual((await client.interfaces())[1].localIpv4s, [eni.privateIpAddress, ...privateIps]);
  }, { faults: "imds-lag=2s" }));

Deno.test("imds: the instance is chosen by the caller's source address", async () => {
  const seen: string[] = [];
  let other = "";
  await withImds(async ({ model, url, client, instanceId, subnetId }) => {
    // over real HTTP the caller is 127.0.0.1
    assert.equal(await client.instanceId(), instanceId);
    assert.ok(seen.includes("127.0.0.1"));
    other = model.launchInstance({ instanceType: "t3.medium", subnetId }).instanceId;
    const otherIp = model.describeInstances([other])[0].privateIpAddress;
    // the handler itself, called as the lab daemon calls it, with each node's address
    const h = createImdsHandler(model, { instanceForRemote: (a) => model.instanceByPrivateIp(a) });
    const tokFor = async (addr: string | Deno.NetAddr) => {
      const r = await h(
        new Request("http://169.254.169.254/latest/api/token", {
          method: "PUT",
          headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" },
        }),
        { remoteAddr: addr },
      );
      return await r.text();
    };
    const ask = async (addr: string | Deno.NetAddr, tok: string) => {
      const r = await h(
        new Request("http://169.254.169.254/latest/meta-data/instance-id", {
          headers: { "x-aws-ec2-metadata-token": tok },
        }),
        { remoteAddr: addr },
      );
      return { status: r.status, body: await r.text() };
    };
    const primaryIp = model.describeInstances([instanceId])[0].privateIpAddress;
    const t1 = await tokFor(primaryIp);
    const t2 = await tokFor({ transport: "tcp", hostname: otherIp, port: 40000 });
    assert.deepEqual(await ask(primaryIp, t1), { status: 200, body: instanceId });
    assert.deepEqual(await ask(otherIp, t2), { status: 200, body: other });
    assert.equal((await ask(otherIp, t1)).status, 401, "a token is bound to the instance that asked for it");
    assert.equal((await ask("10.9.9.9", await tokFor("10.9.9.9"))).status, 404);
    void url;
  }, {
    handler: (model, id) => ({
      instanceForRemote: (addr) => {
        seen.push(addr);
        return addr === "127.0.0.1" ? id : model.instanceByPrivateIp(addr);
      },
    }),
  });
  assert.match(other, /^i-/);
});

Deno.test("imds: the client re-fetches its token after a 401 (IMDS restarted)", async () => {
  const clock = { now: 1_000_000 };
  const model = new Ec2Model({ seed: 2, now: () => clock.now });
  const s = model.addSubnet({ cidr: "10.0.0.0/20" });
  const id = model.launchInstance({ instanceType: "m5.large", subnetId: s.subnetId }).instanceId;
  let handler = createImdsHandler(model, { instanceId: id });
  let puts = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    if (req.method === "PUT") puts++;
    return handler(req, info);
  });
  try {
    const client = new ImdsClient({ endpoint: `http://127.0.0.1:${server.addr.port}`, now: () => clock.now });
    assert.equal(await client.instanceId(), id);
    assert.equal(await client.instanceType(), "m5.large");
    assert.equal(puts, 1, "the token is cached");
    handler = createImdsHandler(model, { instanceId: id }); // forgets every token
    assert.equal(await client.instanceId(), id);
    assert.equal(puts, 2);
    clock.now += 21600 * 1000; // past the TTL: refreshed before use
    assert.equal(await client.instanceId(), id);
    assert.equal(puts, 3);
  } finally {
    await server.shutdown();
  }
});

Deno.test("imds: a listing answers the same with and without its trailing slash", () =>
  withImds(async ({ model, url, instanceId, subnetId }) => {
    const eni = model.createNetworkInterface({ subnetId });
    model.attachNetworkInterface({ networkInterfaceId: eni.networkInterfaceId, instanceId, deviceIndex: 1 });
    const tok = await token(url);
    const [primary] = model.attachedEnis(instanceId);
    const base = "/latest/meta-data";
    const listings: [string, (body: string) => void][] = [
      [base, (b) => assert.ok(b.split("\n").includes("network/"), b)],
      [`${base}/placement`, (b) => assert.deepEqual(b.split("\n"), ["availability-zone", "region"])],
      [`${base}/network`, (b) => assert.equal(b, "interfaces/")],
      [`${base}/network/interfaces`, (b) => assert.equal(b, "macs/")],
      [
        `${base}/network/interfaces/macs`,
        (b) =>
          assert.deepEqual(b.split("\n").toSorted(), [`${primary.mac}/`, `${eni.macAddress}/`].toSorted()),
      ],
      [
        `${base}/network/interfaces/macs/${eni.macAddress}`,
        (b) => assert.ok(b.split("\n").includes("local-ipv4s") && b.split("\n").includes("device-number"), b),
      ],
    ];
    for (const [path, check] of listings) {
      const bare = await get(url, path, tok);
      const slash = await get(url, `${path}/`, tok);
      assert.equal(bare.status, 200, path);
      assert.equal(slash.status, 200, `${path}/`);
      assert.equal(bare.body, slash.body, path);
      check(bare.body);
    }
    assert.equal((await get(url, `${base}/instance-id`, tok)).body, instanceId);
    assert.equal((await get(url, `${base}/network/interfaces/macs/02:00:00:00:00:99`, tok)).status, 404);
  }));
