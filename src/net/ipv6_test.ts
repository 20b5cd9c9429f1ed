import assert from "node:assert/strict";
import {
  bigToIp6,
  cidr6Contains,
  ip6ToBig,
  isIpv6,
  normalizeCidr6,
  nthAddress6,
  nthSubnet6,
  offsetIn6,
  parseCidr6,
} from "./ipv6.ts";

Deno.test("ipv6: text ↔ 128-bit numbers, canonical output", () => {
  assert.equal(ip6ToBig("::1"), 1n);
  assert.equal(bigToIp6((1n << 128n) - 1n), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  assert.equal(bigToIp6(ip6ToBig("2600:1F13:0:0:0:0:0:5")), "2600:1f13::5");
  assert.equal(isIpv6("10.0.0.1"), false);
  assert.equal(isIpv6("fe80::1"), true);
});

Deno.test("ipv6 CIDRs: parse clears host bits, contains, n-th address and n-th sub-block", () => {
  assert.equal(normalizeCidr6("2600:1f13:b66:8203:34e5::9/80"), "2600:1f13:b66:8203:34e5::/80");
  assert.equal(parseCidr6("2600::/56").prefixLen, 56);
  assert.throws(() => parseCidr6("2600::/129"), RangeError);
  assert.throws(() => parseCidr6("2600::/x"), RangeError);
  assert.equal(cidr6Contains("2600:1f13:b66:8203:34e5::/80", "2600:1f13:b66:8203:34e5:ffff:ffff:ffff"), true);
  assert.equal(cidr6Contains("2600:1f13:b66:8203:34e5::/80", "2600:1f13:b66:8203:34e6::"), false);
  assert.equal(nthAddress6("2600:1f13:b66:8203:34e5::/80", 0n), "2600:1f13:b66:8203:34e5::");
  assert.equal(nthAddress6("2600:1f13:b66:8203:34e5::/80", 257n), "2600:1f13:b66:8203:34e5::101");
  assert.throws(() => nthAddress6("2600::/80", 1n << 48n), RangeError);
  assert.equal(offsetIn6("2600::/80", "2600::a"), 10n);
  assert.equal(nthSubnet6("2600:1f14:6b0:d800::/56", 64, 3n), "2600:1f14:6b0:d803::/64");
  assert.equal(nthSubnet6("2600:1f14:6b0:d803::/64", 80, 0x34e5n), "2600:1f14:6b0:d803:34e5::/80");
});
