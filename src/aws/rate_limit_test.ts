import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import type { Clock } from "../common/clock.ts";
import { Ec2Error, type Ec2Port } from "./ec2_port.ts";
import {
  actionClass,
  ADAPTIVE,
  CLIENT_BUCKETS,
  mayHaveRun,
  RateLimitedEc2,
  type RateLimitOptions,
  TokenBucket,
} from "./rate_limit.ts";

/** A clock whose sleep advances time instantly. */
function virtualTime() {
  const t = { now: 0, sleeps: [] as number[] };
  const clock: Clock = {
    now: () => t.now,
    sleep: (ms: number) => {
      t.sleeps.push(ms);
      t.now += ms;
      return Promise.resolve();
    },
    timer: () => {
      throw new Error("RateLimitedEc2 uses no timers");
    },
  };
  return { t, clock };
}

/** A port whose describeSubnets answers from a script of errors (then succeeds). */
function scripted(errors: (Ec2Error | undefined)[]): { port: Ec2Port; calls: () => number } {
  let n = 0;
  const port = {
    describeSubnets: () => {
      const e = errors[n++];
      return e ? Promise.reject(e) : Promise.resolve([]);
    },
    createTags: () => {
      n++;
      return Promise.resolve();
    },
  } as unknown as Ec2Port;
  return { port, calls: () => n };
}

const throttle = () => new Ec2Error("RequestLimitExceeded", "slow down", "DescribeSubnets", 503);
const fatal = () => new Ec2Error("InvalidSubnetID.Malformed", "bad", "DescribeSubnets", 400);

function limited(port: Ec2Port, extra: RateLimitOptions = {}) {
  const v = virtualTime();
  const hooks = { calls: [] as [string, number, string | undefined][], throttles: 0 };
  const ec2 = new RateLimitedEc2(port, {
    clock: v.clock,
    random: () => 0.5,
    onCall: (a, ms, e) => hooks.calls.push([a, ms, e?.code]),
    onThrottle: () => hooks.throttles++,
    ...extra,
  });
  return { ec2, v, hooks };
}

Deno.test("action classes follow EC2's throttling groups", () => {
  assert.equal(actionClass("DescribeNetworkInterfaces"), "describe");
  assert.equal(actionClass("AssignPrivateIpAddresses"), "mutate");
  assert.equal(actionClass("ModifyNetworkInterfaceAttribute"), "mutate");
  assert.equal(actionClass("CreateTags"), "tags");
  assert.equal(actionClass("AttachNetworkInterface"), "attach");
  assert.equal(actionClass("DetachNetworkInterface"), "attach");
  for (const c of ["mutate", "tags", "attach", "describe"] as const) {
    assert.ok(CLIENT_BUCKETS[c].capacity < 100 + 1);
  }
  assert.equal(CLIENT_BUCKETS.describe.refillPerSec, 18);
});

Deno.test("TokenBucket refills at its rate and caps at capacity", () => {
  let now = 0;
  const b = new TokenBucket({ capacity: 3, refillPerSec: 2 }, () => now);
  assert.ok(b.tryTake() && b.tryTake() && b.tryTake());
  assert.equal(b.tryTake(), false);
  assert.equal(b.msUntilToken(), 500);
  now += 500;
  assert.ok(b.tryTake());
  now += 60_000;
  assert.equal(b.tokens, 3);
});

Deno.test("retries retryable errors, then succeeds; hooks see every attempt", async () => {
  const s = scripted([throttle(), new Ec2Error("InternalError", "x", "DescribeSubnets", 500), undefined]);
  const { ec2, hooks } = limited(s.port);
  assert.deepEqual(await ec2.describeSubnets({}), []);
  assert.equal(s.calls(), 3);
  assert.deepEqual(hooks.calls.map((c) => c[2]), ["RequestLimitExceeded", "InternalError", undefined]);
  assert.equal(hooks.throttles, 1);
});

Deno.test("does not retry a client error", async () => {
  const s = scripted([fatal(), undefined]);
  const { ec2 } = limited(s.port);
  await assert.rejects(
    ec2.describeSubnets({}),
    (e) => e instanceof Ec2Error && e.code === "InvalidSubnetID.Malformed",
  );
  assert.equal(s.calls(), 1);
});

Deno.test("bounded attempts and full-jitter exponential backoff", async () => {
  const s = scripted(Array.from({ length: 50 }, throttle));
  const { ec2, v, hooks } = limited(s.port, {
    maxAttempts: 5,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    random: () => 0.999,
    adaptive: false, // only the backoff waits, no token waits
  });
  await assert.rejects(
    ec2.describeSubnets({}),
    (e) => e instanceof Ec2Error && e.code === "RequestLimitExceeded",
  );
  assert.equal(s.calls(), 5);
  assert.equal(hooks.throttles, 5);
  assert.deepEqual(v.t.sleeps, [99, 199, 399, 799]);
});

Deno.test("gives up when the time budget is spent", async () => {
  const s = scripted(Array.from({ length: 50 }, throttle));
  const { ec2, v } = limited(s.port, {
    maxAttempts: 50,
    baseDelayMs: 1000,
    maxDelayMs: 8000,
    maxTotalMs: 5000,
    random: () => 0.99,
  });
  await assert.rejects(ec2.describeSubnets({}));
  assert.ok(v.t.now <= 5000, `spent ${v.t.now} ms`);
  assert.ok(s.calls() < 50);
});

Deno.test("the client bucket paces a burst to EC2's sustained rate", async () => {
  const s = scripted([]);
  const { ec2, v } = limited(s.port, { buckets: { tags: { capacity: 5, refillPerSec: 2 } } });
  for (let i = 0; i < 9; i++) await ec2.createTags(["eni-1"], [{ key: "k", value: "v" }]);
  assert.equal(s.calls(), 9);
  // 5 from the burst, then 4 at 2/s
  assert.equal(v.t.now, 2000);
});

Deno.test("property: calls ≤ maxAttempts; success iff a success came within them", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom("throttle", "5xx", "fatal", "ok"), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 6 }),
      async (script, maxAttempts) => {
        const errs = script.map((k) =>
          k === "throttle"
            ? throttle()
            : k === "5xx"
            ? new Ec2Error("InternalError", "x", "DescribeSubnets", 500)
            : k === "fatal"
            ? fatal()
            : undefined
        );
        const s = scripted(errs);
        const { ec2 } = limited(s.port, { maxAttempts });
        const ok = await ec2.describeSubnets({}).then(() => true, () => false);
        const firstStop = script.findIndex((k) => k === "ok" || k === "fatal");
        const stopAt = firstStop === -1 ? script.length : firstStop;
        const expectOk = (firstStop === -1 ? script.length < maxAttempts : script[firstStop] === "ok") &&
          stopAt < maxAttempts;
        assert.equal(ok, expectOk);
        assert.ok(s.calls() <= maxAttempts);
        assert.equal(s.calls(), Math.min(stopAt + 1, maxAttempts));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("adaptive: a lone throttle empties the class bucket but keeps its rate", async () => {
  const s = scripted([throttle(), undefined]);
  const { ec2, v } = limited(s.port, {
    buckets: { describe: { capacity: 10, refillPerSec: 4 } },
    random: () => 0,
  });
  await ec2.describeSubnets({});
  assert.deepEqual(v.t.sleeps.filter((ms) => ms > 0), [250]); // one token at 4/s
});

Deno.test("adaptive: throttles in a row halve, then cut the rate by ADAPTIVE.cut, not below the floor; time wins it back", async () => {
  const s = scripted([...Array.from({ length: 8 }, throttle), undefined, undefined]);
  const shape = { capacity: 10, refillPerSec: 4 };
  const { ec2, v } = limited(s.port, { buckets: { describe: shape }, maxAttempts: 20, random: () => 0 });
  await ec2.describeSubnets({});
  const waits = v.t.sleeps.filter((ms) => ms > 0);
  assert.equal(waits.length, 8);
  assert.deepEqual(waits.slice(0, 2), [250, 500]); // emptied at 4/s, then halved
  for (let i = 2; i < 4; i++) {
    const ratio = waits[i] / waits[i - 1];
    assert.ok(ratio > ADAPTIVE.cut * 0.75 && ratio <= ADAPTIVE.cut, `waits ${waits}`);
  }
  const floorWait = 1000 / (shape.refillPerSec * ADAPTIVE.floor);
  assert.ok(Math.max(...waits) <= floorWait, `no wait beyond the floor's ${floorWait} ms: ${waits}`);
  // Ten doubling periods later the rate is back to the shape's and tokens refilled: no wait at all.
  v.t.now += 10 * ADAPTIVE.doublingMs;
  const before = v.t.sleeps.length;
  await ec2.describeSubnets({});
  assert.deepEqual(v.t.sleeps.slice(before).filter((ms) => ms > 0), []);
  assert.equal(s.calls(), 10);
});

Deno.test("waiting for client tokens costs no EC2 call and has its own budget (maxTokenWaitMs)", async () => {
  const slow = { capacity: 1, refillPerSec: 0.01 }; // a token per 100 s
  const s = scripted([]);
  const { ec2, v } = limited(s.port, { buckets: { tags: slow }, maxTotalMs: 30_000 });
  await ec2.createTags(["eni-1"], []);
  await ec2.createTags(["eni-1"], []); // waits 100 s: beyond maxTotalMs, within maxTokenWaitMs
  assert.equal(v.t.now, 100_000);
  const s2 = scripted([]);
  const { ec2: short } = limited(s2.port, { buckets: { tags: slow }, maxTokenWaitMs: 50_000 });
  await short.createTags(["eni-1"], []);
  await assert.rejects(short.createTags(["eni-1"], []), /client-side rate limit: no token within 50000 ms/);
  assert.equal(s2.calls(), 1, "the refused call never reached EC2");
});

Deno.test("mayHaveRun: only a call with an unanswered or 5xx attempt may have been carried out", async () => {
  const s5xx = scripted([new Ec2Error("InternalError", "x", "DescribeSubnets", 500), throttle(), throttle()]);
  const e1 = await limited(s5xx.port, { maxAttempts: 3 }).ec2.describeSubnets({}).catch((e) => e);
  assert.equal(mayHaveRun(e1), true, "the 5xx attempt may have run; the last error is a throttle");
  const refused = scripted([throttle(), throttle(), fatal()]);
  const e2 = await limited(refused.port, { maxAttempts: 3 }).ec2.describeSubnets({}).catch((e) => e);
  assert.equal(mayHaveRun(e2), false, "throttles and a 4xx: EC2 did nothing");
  assert.equal(mayHaveRun(new Ec2Error("NetworkError", "no answer", "CreateNetworkInterface", 599)), true);
  assert.equal(mayHaveRun(throttle()), false);
});
