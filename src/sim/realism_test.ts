import assert from "node:assert/strict";
import { formatFaults, NO_FAULTS, parseFaults, Realism } from "./realism.ts";
import { Rng } from "./realism_rng.ts";

Deno.test("parseFaults reads the lab syntax and rejects nonsense", () => {
  assert.deepEqual(
    parseFaults(
      "throttle=0.2,5xx=0.05,imds-lag=2s,attach-fail=0.1,consistency-lag=2s,attach-lag=1s,lost-response=0.2",
    ),
    {
      throttle: 0.2,
      serverError: 0.05,
      imdsLagMs: 2000,
      attachFail: 0.1,
      consistencyLagMs: 2000,
      attachLagMs: 1000,
      lostResponse: 0.2,
    },
  );
  assert.equal(parseFaults("imds-lag=250ms").imdsLagMs, 250);
  assert.deepEqual(parseFaults(""), NO_FAULTS);
  for (
    const bad of [
      "throttle=2",
      "throttle",
      "nope=1",
      "imds-lag=fast",
      "5xx=-0.1",
      "throttle=",
      "lost-response=1.5",
      "attach-lag=soon",
    ]
  ) {
    assert.throws(() => parseFaults(bad), RangeError, bad);
  }
  assert.throws(() => parseFaults("nope=1"), /known: throttle, 5xx, .*lost-response/);
  const spec =
    "throttle=0.2,5xx=0.05,imds-lag=2000ms,attach-fail=0.1,consistency-lag=2000ms,attach-lag=1000ms," +
    "lost-response=0.2";
  assert.equal(formatFaults(parseFaults(spec)), spec);
});

Deno.test("Rng is deterministic per seed and within range", () => {
  const a = new Rng(3), b = new Rng(3), c = new Rng(4);
  const xs = Array.from({ length: 20 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 20 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 20 }, () => c.next()));
  for (let i = 0; i < 1000; i++) {
    const v = a.between(5, 9);
    assert.ok(v >= 5 && v <= 9 && Number.isInteger(v));
  }
});

Deno.test("server buckets follow EC2: 50 attach calls pass, the 51st is throttled, refills at 5/s", () => {
  let now = 0;
  const r = new Realism({ now: () => now });
  for (let i = 0; i < 50; i++) assert.equal(r.admit("AttachNetworkInterface"), "ok");
  assert.equal(r.admit("DetachNetworkInterface"), "throttled");
  assert.equal(r.admit("DescribeInstances"), "ok", "other classes have their own bucket");
  now += 200;
  assert.equal(r.admit("AttachNetworkInterface"), "ok");
  assert.equal(r.admit("AttachNetworkInterface"), "throttled");
  const s = r.stats();
  assert.equal(s.AttachNetworkInterface.calls, 52);
  assert.equal(s.AttachNetworkInterface.throttles, 1);
  assert.equal(s.DetachNetworkInterface.throttles, 1);
  assert.deepEqual(JSON.parse(JSON.stringify(r)).actions.DescribeInstances, {
    calls: 1,
    errors: 0,
    throttles: 0,
    lost: 0,
  });
});

Deno.test("fault dice: rates are close to the spec and repeat per seed", () => {
  const run = (seed: number) => {
    const r = new Realism({ buckets: false, faults: "throttle=0.2,5xx=0.05,attach-fail=0.1", seed });
    return Array.from({ length: 4000 }, () => r.admit("AttachNetworkInterface"));
  };
  const v = run(11);
  assert.deepEqual(v, run(11));
  const rate = (k: string) => v.filter((x) => x === k).length / v.length;
  assert.ok(Math.abs(rate("injected-throttle") - 0.2) < 0.03, `throttle ${rate("injected-throttle")}`);
  assert.ok(Math.abs(rate("injected-5xx") - 0.8 * 0.05) < 0.015);
  assert.ok(Math.abs(rate("attach-fail") - 0.8 * 0.95 * 0.1) < 0.02);
  const d = new Realism({ buckets: false, faults: "attach-fail=1" });
  assert.equal(d.admit("CreateNetworkInterface"), "ok", "attach-fail only hits attaches");
});

Deno.test("latency presets: none is zero; realistic lies in EC2's ranges", () => {
  assert.equal(new Realism().latencyMs("CreateNetworkInterface"), 0);
  const r = new Realism({ latency: "realistic" });
  for (let i = 0; i < 200; i++) {
    const c = r.latencyMs("CreateNetworkInterface");
    assert.ok(c >= 500 && c <= 1800);
    const d = r.latencyMs("DescribeNetworkInterfaces");
    assert.ok(d >= 50 && d <= 150);
    const u = r.latencyMs("UnassignPrivateIpAddresses");
    assert.ok(u >= 250 && u <= 500);
  }
});

Deno.test("lost answers: only mutating calls, at the spec's rate, half 5xx and half dropped, repeatable", () => {
  const run = (seed: number) => {
    const r = new Realism({ buckets: false, faults: "lost-response=0.2", seed });
    return { r, v: Array.from({ length: 4000 }, () => r.loseAnswer("AssignPrivateIpAddresses")) };
  };
  const { r, v } = run(5);
  assert.deepEqual(v, run(5).v);
  const lost = v.filter((x) => x !== undefined);
  assert.ok(Math.abs(lost.length / v.length - 0.2) < 0.03, `lost ${lost.length}`);
  assert.ok(Math.abs(lost.filter((x) => x === "drop").length / lost.length - 0.5) < 0.06);
  assert.equal(r.stats().AssignPrivateIpAddresses.lost, lost.length);
  assert.equal(r.stats().AssignPrivateIpAddresses.errors, lost.length);
  for (let i = 0; i < 200; i++) assert.equal(r.loseAnswer("DescribeNetworkInterfaces"), undefined);
  assert.deepEqual(new Realism({ faults: "consistency-lag=2s,attach-lag=1s" }).modelLags(), {
    consistencyLagMs: 2000,
    attachLagMs: 1000,
  });
});
