import assert from "node:assert/strict";
import {
  checkIfName,
  formatIp,
  formatIpv6,
  formatMac,
  isNetwork,
  parseCidr,
  parseCidr4,
  parseIp,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "./parse.ts";

Deno.test("parseIpv4 / parseCidr4", () => {
  assert.deepEqual([...parseIpv4("10.0.255.1")], [10, 0, 255, 1]);
  assert.throws(() => parseIpv4("10.0.0"), TypeError);
  assert.throws(() => parseIpv4("10.0.0.1 "), TypeError);
  assert.throws(() => parseIpv4("10.0.0.300"), RangeError);
  assert.deepEqual(parseCidr4("10.1.0.0/16").prefixLen, 16);
  assert.equal(parseCidr4("10.1.0.9", "x", true).prefixLen, 32);
  assert.throws(() => parseCidr4("10.1.0.9"), TypeError);
  assert.throws(() => parseCidr4("10.1.0.0/33"), RangeError);
  assert.throws(() => parseCidr4("10.1.0.0/x"), TypeError);
  assert.equal(isNetwork(parseCidr4("10.1.0.0/16")), true);
  assert.equal(isNetwork(parseCidr4("10.1.0.1/16")), false);
  assert.equal(isNetwork(parseCidr4("0.0.0.0/0")), true);
  assert.equal(isNetwork(parseCidr4("255.255.255.255/32")), true);
});

Deno.test("parseMac / formatMac / checkIfName", () => {
  assert.equal(formatMac(parseMac("0A:0b:00:11:22:FF")), "0a:0b:00:11:22:ff");
  assert.equal(formatMac(parseMac("0a-0b-00-11-22-ff")), "0a:0b:00:11:22:ff");
  assert.throws(() => parseMac("0a:0b:00:11:22"), TypeError);
  assert.throws(() => parseMac("0a:0b:00:11:22:gg"), TypeError);
  assert.equal(checkIfName("eth0"), "eth0");
  assert.throws(() => checkIfName("0123456789abcdef"), TypeError);
  assert.throws(() => checkIfName("a/b"), TypeError);
  assert.throws(() => checkIfName(""), TypeError);
});

Deno.test("parseIpv6 / formatIpv6 (RFC 4291 forms in, RFC 5952 out)", () => {
  const rt = (s: string) => formatIpv6(parseIpv6(s));
  assert.equal(rt("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(rt("2001:db8::"), "2001:db8::");
  assert.equal(rt("::"), "::");
  assert.equal(rt("::1"), "::1");
  assert.equal(rt("fe80::1"), "fe80::1");
  assert.equal(rt("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1"); // a single zero group stays
  assert.equal(rt("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1"); // the longest run is compressed
  assert.equal(rt("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1"); // ties: the first
  assert.equal(rt("::ffff:10.0.0.1"), "::ffff:a00:1");
  assert.deepEqual([...parseIpv6("::ffff:10.0.0.1").slice(12)], [10, 0, 0, 1]);
  for (const bad of ["1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "1.2.3.4", ":1"]) {
    assert.throws(() => parseIpv6(bad), TypeError, bad);
  }
  assert.throws(() => parseIpv6("::1.2.3.400"), RangeError);
});

Deno.test("parseIp / parseCidr pick the family from the text; isNetwork covers both", () => {
  assert.equal(parseIp("10.0.0.1").family, 4);
  assert.equal(parseIp("2600::1").family, 6);
  assert.deepEqual(parseCidr("2600:1f13:b66:8203:34e5::/80").prefixLen, 80);
  assert.equal(parseCidr("2600::5", "x", true).prefixLen, 128);
  assert.equal(parseCidr("10.0.0.5", "x", true).prefixLen, 32);
  assert.throws(() => parseCidr("2600::5"), TypeError);
  assert.throws(() => parseCidr("2600::/129"), RangeError);
  assert.equal(isNetwork(parseCidr("2600:1f13:b66:8203:34e5::/80")), true);
  assert.equal(isNetwork(parseCidr("2600:1f13:b66:8203:34e5::1/80")), false);
  assert.equal(isNetwork(parseCidr("::/0")), true);
  assert.equal(formatIp(parseCidr("2600:0::1/128").bytes), "2600::1");
  assert.equal(formatIp(parseCidr("10.1.2.3/32").bytes), "10.1.2.3");
});
