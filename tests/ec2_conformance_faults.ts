/**
 * EC2's throttling and server errors as conformance behaviours: they need the lab's realism knobs (buckets,
 * injected faults), so targets without them (moto) skip them.
 * @module
 */
import assert from "node:assert/strict";
import { RateLimitedEc2 } from "../src/aws/rate_limit.ts";
import { type Behaviour, rejects } from "./ec2_conformance_suite.ts";

/** Registers the throttling and fault behaviours with the suite's `t`. */
export function faultBehaviours(t: Behaviour): void {
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
}
