import assert from "node:assert/strict";
import { systemClock } from "../common/clock.ts";
import { BackgroundFailures, errorText } from "./background_failures.ts";
import { IpamdMetrics } from "./metrics.ts";

function setup() {
  let clock = Date.parse("2026-12-06T10:00:00Z");
  const lines: string[] = [];
  const log = {
    error: (msg: string, f: Record<string, unknown>) => lines.push(`E ${msg} ${JSON.stringify(f)}`),
    info: (msg: string, f: Record<string, unknown>) => lines.push(`I ${msg} ${JSON.stringify(f)}`),
  };
  const metrics = new IpamdMetrics();
  const failures = new BackgroundFailures({
    log: log as never,
    metrics,
    clock: { ...systemClock, now: () => clock },
  });
  return { failures, metrics, lines, advance: (ms: number) => clock += ms };
}

Deno.test("BackgroundFailures: a failure is logged with its cause, counted, listed until the task succeeds", () => {
  const t = setup();
  const cause = new Error("connection refused");
  t.failures.failed("eniReconcile", new Error("DescribeNetworkInterfaces failed", { cause }));
  t.advance(30_000);
  t.failures.failed("eniReconcile", new Error("DescribeNetworkInterfaces failed", { cause }));
  assert.deepEqual(t.failures.list(), [{
    task: "eniReconcile",
    error: "DescribeNetworkInterfaces failed: connection refused",
    since: "2026-12-06T10:00:00.000Z",
    lastAt: "2026-12-06T10:00:30.000Z",
    count: 2,
  }]);
  assert.equal(t.metrics.ipamdErr.get({ fn: "eniReconcile" }), 2);
  assert.match(t.lines[0], /^E eniReconcile failed .*connection refused/);
  t.failures.succeeded("eniReconcile");
  assert.deepEqual(t.failures.list(), []);
  assert.match(t.lines.at(-1)!, /^I eniReconcile works again .*"failedTimes":2/);
});

Deno.test("BackgroundFailures: AWS helper failures count in awscni_aws_utils_error_count{fn, error}", () => {
  const t = setup();
  t.failures.failed(
    "imdsInterfaces",
    Object.assign(new Error("IMDS 500"), { code: "ImdsError" }),
    "awsUtils",
  );
  assert.equal(t.metrics.awsUtilsErr.get({ fn: "imdsInterfaces", error: "ImdsError" }), 1);
  assert.equal(t.metrics.ipamdErr.get({ fn: "imdsInterfaces" }), 0);
});

Deno.test("BackgroundFailures.run: never rejects; records a failure and clears it on success", async () => {
  const t = setup();
  await t.failures.run("podSweep", () => Promise.reject(new TypeError("boom")));
  assert.equal(t.failures.list()[0].error, "boom");
  await t.failures.run("podSweep", () => Promise.resolve());
  assert.deepEqual(t.failures.list(), []);
});

Deno.test("errorText: the message and every cause; non-errors as text", () => {
  assert.equal(errorText(new Error("a", { cause: new Error("b", { cause: "c" }) })), "a: b: c");
  assert.equal(errorText("plain"), "plain");
});
