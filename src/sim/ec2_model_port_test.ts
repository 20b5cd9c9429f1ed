import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { type Ec2Event, Ec2Model } from "./ec2_model.ts";
import { Ec2ModelPort } from "./ec2_model_port.ts";
import { Realism } from "./realism.ts";

Deno.test("Ec2ModelPort tags model errors with the action", async () => {
  const port = new Ec2ModelPort(new Ec2Model({ seed: 1 }));
  const e = await port.createNetworkInterface({ subnetId: "" }).then(() => undefined, (e) => e);
  assert.ok(e instanceof Ec2Error);
  assert.equal(e.code, "MissingParameter");
  assert.equal(e.action, "CreateNetworkInterface");
  assert.equal(
    e.message,
    "CreateNetworkInterface: MissingParameter: The request must contain the parameter SubnetId",
  );
});

Deno.test("Ec2ModelPort with realism waits the preset latency and counts calls", async () => {
  const waits: number[] = [];
  const realism = new Realism({ latency: "realistic", sleep: (ms) => (waits.push(ms), Promise.resolve()) });
  const model = new Ec2Model({ seed: 1 });
  const s = model.addSubnet({ cidr: "10.0.0.0/20" });
  const port = new Ec2ModelPort(model, realism);
  await port.createNetworkInterface({ subnetId: s.subnetId });
  await port.describeSubnets({});
  assert.ok(waits[0] >= 500 && waits[0] <= 1800);
  assert.ok(waits[1] >= 50 && waits[1] <= 150);
  assert.equal(realism.stats().CreateNetworkInterface.calls, 1);
  assert.equal(model.calls.CreateNetworkInterface, 1);
});

Deno.test("terminateInstance detaches everything and deletes DeleteOnTermination ENIs, with events", () => {
  const model = new Ec2Model({ seed: 1, now: () => 0 });
  const s = model.addSubnet({ cidr: "10.0.0.0/20" });
  const events: Ec2Event[] = [];
  model.subscribe((e) => events.push(e));
  const inst = model.launchInstance({ instanceType: "m5.large", subnetId: s.subnetId });
  const keep = model.createNetworkInterface({ subnetId: s.subnetId });
  model.attachNetworkInterface({
    networkInterfaceId: keep.networkInterfaceId,
    instanceId: inst.instanceId,
    deviceIndex: 1,
  });
  model.terminateInstance(inst.instanceId);
  assert.deepEqual(events.map((e) => e.type), [
    "eni-attached",
    "eni-attached",
    "eni-detached",
    "eni-deleted",
    "eni-detached",
  ]);
  const left = model.describeNetworkInterfaces().networkInterfaces;
  assert.deepEqual(left.map((e) => [e.networkInterfaceId, e.status]), [[
    keep.networkInterfaceId,
    "available",
  ]]);
  assert.throws(
    () =>
      model.attachNetworkInterface({
        networkInterfaceId: keep.networkInterfaceId,
        instanceId: inst.instanceId,
        deviceIndex: 1,
      }),
    (e) => e instanceof Ec2Error && e.code === "InvalidInstanceID.NotFound",
  );
  assert.equal(model.instanceByPrivateIp(inst.privateIpAddress), undefined);
});

Deno.test("a throwing listener does not break the model", () => {
  const model = new Ec2Model({ seed: 1 });
  const s = model.addSubnet({ cidr: "10.0.0.0/20" });
  const seen: string[] = [];
  model.subscribe(() => {
    throw new Error("boom");
  });
  const off = model.subscribe((e) => seen.push(e.type));
  model.launchInstance({ instanceType: "m5.large", subnetId: s.subnetId });
  off();
  model.launchInstance({ instanceType: "m5.large", subnetId: s.subnetId });
  assert.deepEqual(seen, ["eni-attached"]);
});
