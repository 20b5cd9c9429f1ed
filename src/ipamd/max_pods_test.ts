import assert from "node:assert/strict";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { maxPods } from "./max_pods.ts";

function it(name: string) {
  const t = lookupInstanceType(name);
  assert.ok(t, `${name} is in the instance table`);
  return t;
}

Deno.test("maxPods: secondary-IP figures from upstream's table", () => {
  const want: Record<string, number> = {
    "t2.micro": 4,
    "t3.medium": 17,
    "t3.large": 35,
    "m5.large": 29,
    "m5.xlarge": 58,
    "m4.4xlarge": 234,
    "m5.4xlarge": 234,
    "c5.18xlarge": 737,
    "m5.24xlarge": 737,
  };
  for (const [name, n] of Object.entries(want)) assert.equal(maxPods(it(name)), n, name);
});

Deno.test("maxPods: prefix delegation is capped at 110 (≤ 30 vCPUs) and 250 (above)", () => {
  const want: Record<string, number> = {
    "m5.large": 110,
    "m5.4xlarge": 110,
    "c5.18xlarge": 250,
    "m5.24xlarge": 250,
    "t3.medium": 110,
    "m5.xlarge": 110,
  };
  for (const [name, n] of Object.entries(want)) {
    assert.equal(maxPods(it(name), { prefixDelegation: true }), n, name);
  }
  // Uncapped raw figure shows through when it is below the cap: 1 ENI × (2−1) × 16 + 2.
  assert.equal(
    maxPods({ maxEnis: 1, ipv4PerEni: 2, vcpus: 1, hypervisor: "nitro" }, { prefixDelegation: true }),
    18,
  );
});

Deno.test("maxPods: prefix delegation on Xen is refused with a clear error", () => {
  for (const name of ["t2.micro", "m4.4xlarge"]) {
    assert.throws(() => maxPods(it(name), { prefixDelegation: true }), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /Nitro/);
      assert.match(e.message, /xen/);
      return true;
    });
  }
});

Deno.test("maxPods: custom networking drops the primary ENI", () => {
  assert.equal(maxPods(it("m5.large"), { customNetworking: true }), 2 * 9 + 2);
  assert.equal(maxPods(it("m5.xlarge"), { customNetworking: true }), 3 * 14 + 2);
  assert.equal(maxPods(it("c5.18xlarge"), { customNetworking: true }), 14 * 49 + 2);
  assert.equal(maxPods(it("m5.large"), { customNetworking: true, prefixDelegation: true }), 110);
});

Deno.test("maxPods: MAX_ENI caps the ENIs", () => {
  assert.equal(maxPods(it("m5.xlarge"), { maxEni: 2 }), 2 * 14 + 2);
  assert.equal(maxPods(it("m5.xlarge"), { maxEni: 10 }), 58);
  assert.equal(maxPods(it("m5.xlarge"), { maxEni: 2, customNetworking: true }), 14 + 2);
  assert.equal(maxPods(it("m5.large"), { maxEni: 1, prefixDelegation: true }), 110); // 146, capped
  const small = { maxEnis: 3, ipv4PerEni: 3, vcpus: 2, hypervisor: "nitro" };
  assert.equal(maxPods(small, { maxEni: 1, prefixDelegation: true }), 1 * 2 * 16 + 2);
  assert.equal(maxPods(small, { prefixDelegation: true }), 3 * 2 * 16 + 2);
});

Deno.test("maxPods: IPv6 is the prefix-delegation figure (EKS guidance), Nitro only, no custom networking", () => {
  for (const [name, n] of Object.entries({ "m5.large": 110, "t3.medium": 110, "c5.18xlarge": 250 })) {
    assert.equal(maxPods(it(name), { ipv6: true }), n, name);
  }
  assert.equal(maxPods({ maxEnis: 1, ipv4PerEni: 2, vcpus: 1, hypervisor: "nitro" }, { ipv6: true }), 18);
  assert.throws(() => maxPods(it("t2.micro"), { ipv6: true }), /IPv6 needs a Nitro instance/);
  assert.throws(() => maxPods(it("m5.large"), { ipv6: true, customNetworking: true }), /custom networking/);
});
