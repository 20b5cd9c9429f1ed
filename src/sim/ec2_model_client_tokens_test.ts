/** ClientToken idempotency of CreateNetworkInterface, as EC2 documents it. */
import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { Ec2Model } from "./ec2_model.ts";
import { CLIENT_TOKEN_TTL_MS, fingerprint } from "./ec2_model_client_tokens.ts";

function lab() {
  const clock = { now: 1_700_000_000_000 };
  const model = new Ec2Model({ seed: 7, now: () => clock.now });
  const subnetId = model.addSubnet({ cidr: "10.0.0.0/24" }).subnetId;
  const enis = () => model.describeNetworkInterfaces().networkInterfaces.length;
  const free = () => model.describeSubnets({ subnetIds: [subnetId] })[0].availableIpAddressCount;
  return { clock, model, subnetId, enis, free };
}

/** Asserts `fn` throws EC2's `code`. */
const throwsCode = (fn: () => unknown, code: string) =>
  assert.throws(fn, (e) => e instanceof Ec2Error && e.code === code);

Deno.test("same token, same parameters: the original ENI, nothing new", () => {
  const { model, subnetId, enis, free } = lab();
  const input = {
    subnetId,
    clientToken: "intent-1",
    secondaryPrivateIpAddressCount: 2,
    tags: [{ key: "k", value: "v" }],
  };
  const first = model.createNetworkInterface(input);
  const [n, left] = [enis(), free()];
  const again = model.createNetworkInterface({ ...input, tags: [{ key: "k", value: "v" }] });
  assert.equal(again.networkInterfaceId, first.networkInterfaceId);
  assert.deepEqual(again.privateIps, first.privateIps);
  assert.equal(enis(), n);
  assert.equal(free(), left, "no address taken twice");
  // Without a token, or with another token: a new ENI each time.
  model.createNetworkInterface({ ...input, clientToken: undefined });
  model.createNetworkInterface({ ...input, clientToken: "intent-2" });
  assert.equal(enis(), n + 2);
});

Deno.test("same token, other parameters: IdempotentParameterMismatch, and nothing made", () => {
  const { model, subnetId, enis } = lab();
  model.createNetworkInterface({ subnetId, clientToken: "t", secondaryPrivateIpAddressCount: 2 });
  const n = enis();
  throwsCode(
    () => model.createNetworkInterface({ subnetId, clientToken: "t", secondaryPrivateIpAddressCount: 3 }),
    "IdempotentParameterMismatch",
  );
  throwsCode(
    () => model.createNetworkInterface({ subnetId, clientToken: "t", description: "x" }),
    "IdempotentParameterMismatch",
  );
  assert.equal(enis(), n);
});

Deno.test("a failed call binds nothing; a deleted ENI is still the answer; tokens expire after 24 h", () => {
  const { clock, model, subnetId, enis } = lab();
  throwsCode(
    () => model.createNetworkInterface({ subnetId, clientToken: "big", secondaryPrivateIpAddressCount: 400 }),
    "PrivateIpAddressLimitExceeded",
  );
  assert.equal(enis(), 0);
  const ok = model.createNetworkInterface({
    subnetId,
    clientToken: "big",
    secondaryPrivateIpAddressCount: 4,
  });
  model.deleteNetworkInterface(ok.networkInterfaceId);
  const replay = model.createNetworkInterface({
    subnetId,
    clientToken: "big",
    secondaryPrivateIpAddressCount: 4,
  });
  assert.equal(replay.networkInterfaceId, ok.networkInterfaceId, "the original result");
  assert.equal(enis(), 0, "and no new ENI");
  clock.now += CLIENT_TOKEN_TTL_MS;
  const fresh = model.createNetworkInterface({
    subnetId,
    clientToken: "big",
    secondaryPrivateIpAddressCount: 4,
  });
  assert.notEqual(fresh.networkInterfaceId, ok.networkInterfaceId, "a token older than 24 h is new again");
});

Deno.test("fingerprint: key order and unset values do not matter, the token itself does not count", () => {
  assert.equal(
    fingerprint({ a: 1, b: [{ y: 2, x: 1 }], c: undefined, clientToken: "p" }),
    fingerprint({ clientToken: "q", b: [{ x: 1, y: 2 }], a: 1 }),
  );
  assert.notEqual(fingerprint({ b: [1, 2] }), fingerprint({ b: [2, 1] }));
});
