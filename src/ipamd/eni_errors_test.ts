import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { CIDR_PAUSE_MS, classifyError, EniError } from "./eni_errors.ts";

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
