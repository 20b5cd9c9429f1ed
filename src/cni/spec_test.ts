import assert from "node:assert/strict";
import {
  CniError,
  Code,
  compareVersions,
  errorJson,
  isSupportedVersion,
  minVersionFor,
  SUPPORTED_VERSIONS,
} from "./spec.ts";

Deno.test("compareVersions orders x.y.z numerically", () => {
  assert.ok(compareVersions("0.3.1", "0.4.0") < 0);
  assert.ok(compareVersions("1.10.0", "1.9.9") > 0);
  assert.equal(compareVersions("1.1.0", "1.1.0"), 0);
  assert.throws(() => compareVersions("1.0", "1.0.0"), CniError);
});

Deno.test("supported versions and the versions that have each command", () => {
  assert.deepEqual([...SUPPORTED_VERSIONS], ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  assert.ok(!isSupportedVersion("0.2.0"));
  assert.ok(!isSupportedVersion("1.2.0"));
  assert.equal(minVersionFor("CHECK"), "0.4.0");
  assert.equal(minVersionFor("GC"), "1.1.0");
  assert.equal(minVersionFor("STATUS"), "1.1.0");
  assert.equal(minVersionFor("ADD"), "0.3.0");
});

Deno.test("errorJson keeps CniError code/msg/details and maps anything else to 100", () => {
  assert.deepEqual(errorJson(new CniError(4, "CNI_IFNAME is bad", "why"), "0.4.0"), {
    cniVersion: "0.4.0",
    code: 4,
    msg: "CNI_IFNAME is bad",
    details: "why",
  });
  assert.deepEqual(errorJson(new CniError(7, "x"), "1.1.0"), { cniVersion: "1.1.0", code: 7, msg: "x" });
  const j = errorJson(new TypeError("boom"), "1.0.0");
  assert.equal(j.code, Code.INTERNAL);
  assert.match(j.msg, /TypeError: boom/);
  assert.equal(errorJson("str", "1.0.0").code, 100);
});
