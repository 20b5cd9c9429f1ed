/** The model's network interfaces under EC2's eventual consistency (`consistency-lag`). */
import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { Ec2Model } from "./ec2_model.ts";

const T0 = 1_700_000_000_000;

function lab(consistencyLagMs: number, seed = 7) {
  const clock = { now: T0 };
  const model = new Ec2Model({ seed, now: () => clock.now, consistencyLagMs });
  const subnetId = model.addSubnet({ cidr: "10.0.0.0/20" }).subnetId;
  const instanceId = model.launchInstance({ instanceType: "m5.large", subnetId }).instanceId;
  const byId = (id: string) => {
    try {
      return model.describeNetworkInterfaces({ networkInterfaceIds: [id] }).networkInterfaces[0];
    } catch (e) {
      if (e instanceof Ec2Error && e.code === "InvalidNetworkInterfaceID.NotFound") return undefined;
      throw e;
    }
  };
  const listed = (id: string) =>
    model.describeNetworkInterfaces().networkInterfaces.some((n) => n.networkInterfaceId === id);
  return { clock, model, subnetId, instanceId, byId, listed };
}

Deno.test("consistency lag: Describe* show a new ENI only after a seeded lag in [lag/2, lag]", () => {
  const { clock, model, subnetId, instanceId, byId, listed } = lab(2000);
  const made = model.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 2 });
  const id = made.networkInterfaceId;
  assert.equal(made.privateIps.length, 3, "the create answer itself shows everything");
  assert.equal(byId(id), undefined, "by ID: InvalidNetworkInterfaceID.NotFound");
  assert.equal(listed(id), false, "in a list: left out");
  // Other actions see it at once (only Describe* lag): attach it now.
  model.attachNetworkInterface({ networkInterfaceId: id, instanceId, deviceIndex: 1 });
  const onInstance = () =>
    model.describeInstances([instanceId])[0].networkInterfaces.some((n) => n.networkInterfaceId === id);
  assert.equal(onInstance(), false, "DescribeInstances lags too");
  clock.now = T0 + 999;
  assert.equal(byId(id), undefined, "still hidden before lag/2");
  clock.now = T0 + 2000;
  assert.equal(byId(id)?.privateIps.length, 3);
  assert.equal(listed(id), true);
  assert.equal(onInstance(), true);
});

Deno.test("consistency lag: newly assigned addresses and prefixes show late; unassigned ones go at once", () => {
  const { clock, model, subnetId, byId } = lab(2000);
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  clock.now += 2000;
  const { privateIps } = model.assignPrivateIpAddresses({
    networkInterfaceId: id,
    secondaryPrivateIpAddressCount: 3,
  });
  const { ipv4Prefixes } = model.assignPrivateIpAddresses({ networkInterfaceId: id, ipv4PrefixCount: 1 });
  assert.equal(byId(id)!.privateIps.length, 1, "only the primary so far");
  assert.deepEqual(byId(id)!.ipv4Prefixes, []);
  clock.now += 2000;
  assert.deepEqual(
    byId(id)!.privateIps.filter((p) => !p.primary).map((p) => p.address).toSorted(),
    privateIps.toSorted(),
  );
  assert.deepEqual(byId(id)!.ipv4Prefixes, ipv4Prefixes);
  model.unassignPrivateIpAddresses({ networkInterfaceId: id, privateIpAddresses: [privateIps[0]] });
  assert.equal(byId(id)!.privateIps.length, 3);
});

Deno.test("consistency lag: lags are seeded apart from IDs and addresses; none without the fault", () => {
  const ids = (lag: number) => {
    const { model, subnetId } = lab(lag, 11);
    return Array.from({ length: 5 }, () => {
      const e = model.createNetworkInterface({ subnetId, secondaryPrivateIpAddressCount: 1 });
      return [e.networkInterfaceId, e.macAddress, ...e.privateIps.map((p) => p.address)].join(" ");
    });
  };
  assert.deepEqual(ids(2000), ids(0), "the lag draws do not move the ID/address sequence");
  const { model, subnetId, byId } = lab(0);
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  assert.ok(byId(id), "no lag: shown at once");
  // The draws: each ENI in [lag/2, lag], and the same per seed.
  const draws = (seed: number) => {
    const l = lab(2000, seed);
    const made = Array.from({ length: 20 }, () => l.model.createNetworkInterface({ subnetId: l.subnetId }));
    const out: number[] = [];
    for (let t = 0; t <= 2000; t += 50) {
      l.clock.now = T0 + t;
      for (const m of made) {
        if (l.byId(m.networkInterfaceId) && !out[made.indexOf(m)]) out[made.indexOf(m)] = t;
      }
    }
    return out;
  };
  const d = draws(3);
  assert.deepEqual(d, draws(3));
  assert.ok(d.every((t) => t >= 1000 && t <= 2000), `draws ${d}`);
  assert.ok(new Set(d).size > 3, `draws vary: ${d}`);
});
