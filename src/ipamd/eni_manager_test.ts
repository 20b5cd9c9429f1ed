import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { CIDR_PAUSE_MS, classifyError, EniError, pollUntil } from "./eni_manager.ts";

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
  const at: number[] = [];
  const t0 = Date.now();
  await assert.rejects(
    pollUntil("never", () => {
      at.push(Date.now() - t0);
      return undefined;
    }, { deadlineMs: 700, initialMs: 20, maxMs: 400 }),
    (e: Error) => e instanceof EniError && /timed out waiting for never/.test(e.message),
  );
  const gaps = at.slice(1).map((t, i) => t - at[i]);
  assert.ok(gaps.length >= 3 && gaps.length <= 7, `gaps ${gaps}`);
  assert.ok(gaps[2] > gaps[0], `growing gaps ${gaps}`);
  let n = 0;
  assert.equal(await pollUntil("third time", () => ++n === 3 ? "ok" : undefined, { initialMs: 1 }), "ok");
});
