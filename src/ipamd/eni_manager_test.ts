import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { RateLimitedEc2 } from "../aws/rate_limit.ts";
import { systemClock } from "../common/clock.ts";
import { Ec2Model } from "../sim/ec2_model.ts";
import { Ec2ModelPort } from "../sim/ec2_model_port.ts";
import { Realism } from "../sim/realism.ts";
import { VirtualClock } from "../sim/fleet/virtual_clock.ts";
import { EniManager } from "./eni_manager.ts";

/** An EniManager over `RateLimitedEc2` (instant backoff) over the model, as the daemon builds it. */
function managerOverModel(faults = "") {
  const model = new Ec2Model({ seed: 7 });
  const subnetId = model.addSubnet({ cidr: "10.0.0.0/20" }).subnetId;
  const instanceId = model.launchInstance({ instanceType: "m5.large", subnetId }).instanceId;
  const realism = new Realism({ buckets: false, faults, seed: 3 });
  const ec2 = new RateLimitedEc2(new Ec2ModelPort(model, realism), {
    clock: { ...systemClock, sleep: () => Promise.resolve() },
    random: () => 0.5,
  });
  const imds = {} as ImdsPort; // freeEni never asks IMDS
  const eni = new EniManager({ ec2, imds, instanceId, subnetId, securityGroupIds: [], clusterName: "" });
  const calls = (action: string) => model.calls[action] ?? 0;
  return { model, realism, eni, subnetId, instanceId, calls };
}

Deno.test("freeEni of an ENI already gone costs one DescribeNetworkInterfaces (NotFound = gone)", async () => {
  const { model, eni, subnetId, calls } = managerOverModel();
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  model.deleteNetworkInterface(id);
  const before = calls("DescribeNetworkInterfaces");
  await eni.freeEni(id);
  assert.equal(calls("DescribeNetworkInterfaces") - before, 1);
  assert.equal(calls("DeleteNetworkInterface"), 1, "no second delete");
});

Deno.test("freeEni of an attached ENI: describe, detach, describe until available, delete", async () => {
  const { model, eni, subnetId, instanceId, calls } = managerOverModel();
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  model.attachNetworkInterface({ networkInterfaceId: id, instanceId, deviceIndex: 1 });
  await eni.freeEni(id);
  assert.deepEqual(
    ["DescribeNetworkInterfaces", "DetachNetworkInterface", "DeleteNetworkInterface"].map(calls),
    [2, 1, 1],
  );
  assert.throws(() => model.describeNetworkInterfaces({ networkInterfaceIds: [id] }), /NotFound/);
});

Deno.test("one retry layer: a call that keeps failing with 5xx is tried maxAttempts times, not more", async () => {
  const { model, eni, subnetId, realism } = managerOverModel();
  const id = model.createNetworkInterface({ subnetId }).networkInterfaceId;
  realism.setFaults("5xx=1");
  await assert.rejects(eni.freeEni(id), (e) => e instanceof Ec2Error && e.code === "InternalError");
  // RateLimitedEc2's 8 attempts; the stacked layers made 5 × 8 = 40.
  assert.equal(realism.stats().DescribeNetworkInterfaces.calls, 8);
});

/**
 * EC2's hard parts on a virtual clock: the model, the retry layer and the manager share it, so lags and
 * backoff cost no real time. IMDS is the model's view of the instance (no IMDS lag).
 */
function hardParts(
  faults: string,
  seed: number,
  o: { stripToken?: boolean; throttleModify?: { on: boolean } } = {},
) {
  const clock = new VirtualClock();
  const model = new Ec2Model({ seed, now: () => clock.now() });
  const subnetId = model.addSubnet({ cidr: "10.0.0.0/20" }).subnetId;
  const instanceId = model.launchInstance({ instanceType: "m5.4xlarge", subnetId }).instanceId;
  const realism = new Realism({ buckets: false, faults, seed });
  const port = new Ec2ModelPort(model, realism);
  if (o.stripToken) {
    const create = port.createNetworkInterface.bind(port);
    port.createNetworkInterface = (input) => create({ ...input, clientToken: undefined });
  }
  const throttle = o.throttleModify;
  if (throttle) {
    const modify = port.modifyNetworkInterfaceAttribute.bind(port);
    port.modifyNetworkInterfaceAttribute = (input) =>
      throttle.on
        ? Promise.reject(new Ec2Error("RequestLimitExceeded", "Request limit exceeded.", "Modify", 503))
        : modify(input);
  }
  const ec2 = new RateLimitedEc2(port, { clock, random: () => 0.5 });
  const imds = {
    interfaces: () => Promise.resolve(model.imdsInterfaces(instanceId, clock.now())),
  } as ImdsPort;
  const eni = new EniManager({
    ec2,
    imds,
    instanceId,
    subnetId,
    securityGroupIds: [],
    clusterName: "",
    clock,
  });
  /** Runs `p` to its end on the virtual clock. */
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const r = p.finally(() => done = true);
    await clock.run(Infinity, () => done);
    return r;
  };
  const tagged = () =>
    model.describeNetworkInterfaces({
      filters: [{ name: "tag:node.k8s.amazonaws.com/instance_id", values: [instanceId] }],
    }).networkInterfaces;
  return { clock, model, realism, eni, run, tagged, instanceId };
}

Deno.test("createEni under consistency lag, attach lag and lost answers: one ENI per intent, none left", async () => {
  const seed = Number(Deno.env.get("VPC_CNI_SEED") ?? 19);
  const { clock, eni, run, tagged, realism, instanceId } = hardParts(
    "consistency-lag=2s,attach-lag=1s,lost-response=0.3,throttle=0.1",
    seed,
  );
  const made: string[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await run(eni.createEni({ ips: 2, maxEnis: 8 }).catch((e) => e as Error));
    if (!(r instanceof Error)) made.push(r.eni.networkInterfaceId);
  }
  await run(eni.settle());
  clock.timer(3000, () => {}); // let every consistency lag pass
  await clock.run(Infinity);
  const enis = tagged();
  const lost = realism.stats();
  const msg = `seed ${seed} (VPC_CNI_SEED): ${JSON.stringify(lost)}`;
  assert.ok(made.length >= 4, `${made.length} ENIs made; ${msg}`);
  assert.ok((lost.CreateNetworkInterface?.lost ?? 0) > 0, `no create answer was lost; ${msg}`);
  assert.ok((lost.AttachNetworkInterface?.lost ?? 0) > 0, `no attach answer was lost; ${msg}`);
  assert.deepEqual(enis.map((e) => e.networkInterfaceId).toSorted(), made.toSorted(), msg);
  assert.ok(enis.every((e) => e.attachment?.instanceId === instanceId && e.status === "in-use"), msg);
  assert.equal(eni.unanswered, 0);
  assert.equal(eni.leftovers.size, 0);
});

Deno.test("control: the same run without the ClientToken leaves ENIs behind", async () => {
  const seed = Number(Deno.env.get("VPC_CNI_SEED") ?? 19);
  const { clock, eni, run, tagged } = hardParts(
    "consistency-lag=2s,attach-lag=1s,lost-response=0.3,throttle=0.1",
    seed,
    { stripToken: true },
  );
  for (let i = 0; i < 7; i++) await run(eni.createEni({ ips: 2, maxEnis: 8 }).catch(() => undefined));
  await run(eni.settle());
  clock.timer(3000, () => {});
  await clock.run(Infinity);
  const leaked = tagged().filter((e) => e.status === "available");
  assert.ok(leaked.length > 0, `seed ${seed}: nothing leaked without the token`);
});

Deno.test("a create that never got an answer is asked again with its token; settle() deletes what it made", async () => {
  const { eni, run, tagged, realism, model } = hardParts("lost-response=1", 4);
  const err = await run(eni.createEni({ ips: 1, maxEnis: 8 }).then(() => undefined, (e) => e));
  assert.ok(err, "every answer is lost");
  assert.equal(eni.unanswered, 1);
  assert.equal(model.calls.CreateNetworkInterface, 8, "RateLimitedEc2's 8 attempts");
  assert.equal(tagged().length, 1, "one ENI for 8 attempts with one token");
  realism.setFaults("");
  await run(eni.settle());
  assert.equal(eni.unanswered, 0);
  assert.deepEqual(tagged(), []);
});

Deno.test("a half-made ENI EC2 does not describe yet is still deleted (attach keeps failing)", async () => {
  const { eni, run, tagged } = hardParts("consistency-lag=2s,attach-fail=1", 5);
  const err = await run(eni.createEni({ ips: 1, maxEnis: 8 }).then(() => undefined, (e) => e));
  assert.ok(err);
  assert.equal(eni.leftovers.size, 0);
  assert.deepEqual(tagged(), []);
});

Deno.test("a throttled DeleteOnTermination keeps the working ENI (no undo); settle() sets it later", async () => {
  const throttleModify = { on: true };
  const { eni, run, tagged, model } = hardParts("", 6, { throttleModify });
  const made = await run(eni.createEni({ ips: 2, maxEnis: 8 }));
  const id = made.eni.networkInterfaceId;
  assert.equal(model.calls.DeleteNetworkInterface ?? 0, 0, "the ENI is kept");
  const dot = () => tagged().find((e) => e.networkInterfaceId === id)?.attachment?.deleteOnTermination;
  assert.equal(dot(), false);
  await run(eni.settle());
  assert.equal(dot(), false, "still throttled: still to do");
  throttleModify.on = false;
  await run(eni.settle());
  assert.equal(dot(), true);
  const calls = model.calls.ModifyNetworkInterfaceAttribute;
  await run(eni.settle());
  assert.equal(model.calls.ModifyNetworkInterfaceAttribute, calls, "done once, not again");
});

Deno.test("settle() called again while one runs joins it: DeleteOnTermination is set once", async () => {
  const throttleModify = { on: true };
  const { eni, run, model, tagged } = hardParts("", 6, { throttleModify });
  const id = (await run(eni.createEni({ ips: 2, maxEnis: 8 }))).eni.networkInterfaceId;
  throttleModify.on = false;
  const calls = model.calls.ModifyNetworkInterfaceAttribute ?? 0;
  // Reconciles every minute, each settling while the one before still waits for EC2's tokens.
  await run(Promise.all([eni.settle(), eni.settle(), eni.settle()]));
  assert.equal(model.calls.ModifyNetworkInterfaceAttribute, calls + 1);
  assert.equal(tagged().find((e) => e.networkInterfaceId === id)?.attachment?.deleteOnTermination, true);
});
