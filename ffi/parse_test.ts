import assert from "node:assert/strict";
import { checkIfName, formatMac, isNetwork, parseCidr4, parseIpv4, parseMac } from "./parse.ts";

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
