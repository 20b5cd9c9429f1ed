import assert from "node:assert/strict";
import { VirtualClock } from "../sim/fleet/virtual_clock.ts";
import { Ec2Error } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { RateLimitedEc2 } from "../aws/rate_limit.ts";
import { systemClock } from "../common/clock.ts";
import { Ec2Model } from "../sim/ec2_model.ts";
import { Ec2ModelPort } from "../sim/ec2_model_port.ts";
import { Realism } from "../sim/realism.ts";
import { CIDR_PAUSE_MS, classifyError, EniError, EniManager, pollUntil } from "./eni_manager.ts";

Deno.test("classifyError: EC2 codes map to the socket API's reasons", () => {
  const c = (code: string, status = 400) =>
    classifyError(new Ec2Error(code, "x", "CreateNetworkInterface", status));
  assert.equal(c("AttachmentLimitExceeded").reason, "max_enis_reached");
  assert.equal(c("InsufficientFreeAddressesInSubnet").reason, "subnet_exhausted");
  assert.equal(c("InsufficientFreeAddressesInSubnet").pauseMs, 0);
  assert.equal(c("InsufficientCidrBlocks").reason, "subnet_exhausted");
  assert.equal(c("InsufficientCidrBlocks").pauseMs, CIDR_PAUSE_MS);
  assert.equal(c("RequestLimitExceeded", 503).reason, "ec2_throttled");
  assert.equal(c("RequestLimitExceeded", 503).retryable, true);
  assert.equal(c("InternalError", 500).reason, "internal");
  assert.equal(c("InternalError", 500).retryable, true);
  const own = new EniError("max_enis_reached", "full", false);
  assert.equal(classifyError(own), own);
  assert.equal(classifyError(new Error("?")).reason, "internal");
});

Deno.test("pollUntil: backs off exponentially and gives up at the deadline", async () => {
  // Virtual time: the probe times are exact, whatever the machine's load.
  const clock = new VirtualClock();
  const at: number[] = [];
  const polled = pollUntil("never", () => {
    at.push(clock.elapsed);
    return undefined;
  }, { deadlineMs: 700, initialMs: 20, maxMs: 400, clock });
  const outcome = polled.then(() => "resolved", (e: Error) => e);
  await clock.run(clock.now() + 10_000);
  const e = await outcome;
  assert.ok(e instanceof EniError && /timed out waiting for never/.test(e.message), String(e));
  // 20 ms doubling to the 400 ms cap, the last wait cut short by the 700 ms deadline.
  assert.deepEqual(at, [0, 20, 60, 140, 300, 620, 700]);
  let n = 0;
  assert.equal(await pollUntil("third time", () => ++n === 3 ? "ok" : undefined, { initialMs: 1 }), "ok");
});

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
