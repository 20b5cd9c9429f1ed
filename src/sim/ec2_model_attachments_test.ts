/** The model's attachments with the `attach-lag` fault: attaching → attached, detaching → available. */
import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { type Ec2Event, Ec2Model } from "./ec2_model.ts";

const T0 = 1_700_000_000_000;

function lab(attachLagMs: number, detachLatencyMs = 0) {
  const clock = { now: T0 };
  const model = new Ec2Model({ seed: 7, now: () => clock.now, attachLagMs, detachLatencyMs });
  const subnetId = model.addSubnet({ cidr: "10.0.0.0/20" }).subnetId;
  const instanceId = model.launchInstance({ instanceType: "m5.large", subnetId }).instanceId;
  const events: Ec2Event[] = [];
  model.subscribe((e) => events.push(e));
  const get = (id: string) =>
    model.describeNetworkInterfaces({ networkInterfaceIds: [id] }).networkInterfaces[0];
  const imds = () => model.imdsInterfaces(instanceId, clock.now).map((i) => i.interfaceId);
  return { clock, model, subnetId, instanceId, events, get, imds };
}

Deno.test("attach lag: attaching until the lag passes, then attached; IMDS and the fabric hear of it then", () => {
  const { clock, model, subnetId, instanceId, events, get, imds } = lab(1000);
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  model.attachNetworkInterface({ networkInterfaceId: id, instanceId, deviceIndex: 1 });
  assert.equal(get(id).attachment?.status, "attaching");
  assert.equal(get(id).status, "attaching");
  assert.equal(events.length, 0, "no eni-attached yet");
  assert.ok(!imds().includes(id), "IMDS shows only attached interfaces");
  // The slot is taken while attaching.
  const other = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  assert.throws(
    () => model.attachNetworkInterface({ networkInterfaceId: other, instanceId, deviceIndex: 1 }),
    (e) => e instanceof Ec2Error && e.code === "InvalidParameterValue",
  );
  assert.equal(model.nextTransitionAt(), T0 + 1000);
  clock.now = T0 + 999;
  model.tick();
  assert.equal(get(id).attachment?.status, "attaching");
  clock.now = T0 + 1000;
  model.tick();
  assert.equal(get(id).attachment?.status, "attached");
  assert.equal(get(id).status, "in-use");
  assert.deepEqual(events.map((e) => e.type), ["eni-attached"]);
  assert.ok(imds().includes(id));
});

Deno.test("attach lag: detach passes through detaching for at least the lag; detaching an attaching ENI", () => {
  const { clock, model, subnetId, instanceId, events, get } = lab(1000);
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  const { attachmentId } = model.attachNetworkInterface({
    networkInterfaceId: id,
    instanceId,
    deviceIndex: 1,
  });
  clock.now += 1000;
  model.detachNetworkInterface({ attachmentId });
  assert.equal(get(id).status, "detaching");
  clock.now += 999;
  assert.equal(get(id).status, "detaching");
  clock.now += 1;
  assert.equal(get(id).status, "available");
  assert.deepEqual(events.map((e) => e.type), ["eni-attached", "eni-detached"]);

  // Detached while still attaching: never attached, so the fabric hears nothing.
  events.length = 0;
  const r = model.attachNetworkInterface({ networkInterfaceId: id, instanceId, deviceIndex: 2 });
  model.detachNetworkInterface({ attachmentId: r.attachmentId });
  assert.equal(get(id).status, "detaching");
  clock.now += 5000;
  model.tick();
  assert.equal(get(id).status, "available");
  assert.equal(events.length, 0);
});

Deno.test("no attach lag: attached at once (as before the fault existed)", () => {
  const { model, subnetId, instanceId, events, get } = lab(0);
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  model.attachNetworkInterface({ networkInterfaceId: id, instanceId, deviceIndex: 1 });
  assert.equal(get(id).attachment?.status, "attached");
  assert.equal(events.length, 1);
  assert.equal(model.nextTransitionAt(), undefined);
});
