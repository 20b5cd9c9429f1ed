import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import {
  cidrContains,
  cidrSize,
  expandCidr,
  intToIp,
  ipToInt,
  isIpv4,
  nthAddress,
  parseCidr,
  subnetGateway,
} from "./ipv4.ts";

Deno.test("ipToInt and intToIp round-trip every 32-bit value", () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => ipToInt(intToIp(n)) === n));
});

Deno.test("ipToInt rejects malformed addresses", () => {
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1.2.3.-1", "01234.1.1.1"]) {
    assert.throws(() => ipToInt(bad), RangeError, bad);
    assert.equal(isIpv4(bad), false);
  }
});

Deno.test("parseCidr clears host bits and rejects bad prefixes", () => {
  assert.deepEqual(parseCidr("10.0.17.9/20"), { network: "10.0.16.0", prefixLen: 20 });
  assert.deepEqual(parseCidr("10.0.0.5"), { network: "10.0.0.5", prefixLen: 32 });
  for (const bad of ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/a", "10.0.0.0/1/2", "10.0.0.0/"]) {
    assert.throws(() => parseCidr(bad), RangeError, bad);
  }
});

Deno.test("cidr helpers agree with each other", () => {
  assert.equal(subnetGateway("10.0.16.0/20"), "10.0.16.1");
  assert.equal(cidrSize("10.0.0.0/28"), 16);
  assert.equal(expandCidr("10.0.0.32/28").length, 16);
  assert.equal(expandCidr("10.0.0.32/28")[15], "10.0.0.47");
  assert.equal(nthAddress("10.0.0.0/16", 65535), "10.0.255.255");
  assert.throws(() => nthAddress("10.0.0.0/28", 16), RangeError);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, len) => {
      const c = parseCidr(`${intToIp(n)}/${len}`);
      return cidrContains(`${c.network}/${len}`, intToIp(n));
    }),
  );
});
