/**
 * EC2's hard parts as conformance behaviours (registered by `ec2Conformance` for every target): ClientToken
 * idempotency, eventual consistency (`consistency-lag`), the attaching/detaching states (`attach-lag`) and
 * lost answers (`lost-response`). The lag and loss behaviours need the lab's realism knobs, so targets
 * without them (moto) skip them.
 * @module
 */
import assert from "node:assert/strict";
import { Ec2Error, type Ec2Port } from "../src/aws/ec2_port.ts";
import { RateLimitedEc2 } from "../src/aws/rate_limit.ts";
import { type Behaviour, rejects } from "./ec2_conformance_suite.ts";

/** The ENIs carrying tag `batch=<value>`. */
async function batch(port: Ec2Port, value: string): Promise<string[]> {
  const enis = await port.describeNetworkInterfaces({ filters: [{ name: "tag:batch", values: [value] }] });
  return enis.map((e) => e.networkInterfaceId);
}

/** Whether DescribeNetworkInterfaces by ID shows the ENI (false on InvalidNetworkInterfaceID.NotFound). */
async function shown(port: Ec2Port, id: string): Promise<boolean> {
  try {
    return (await port.describeNetworkInterfaces({ networkInterfaceIds: [id] })).length === 1;
  } catch (e) {
    if (e instanceof Ec2Error && e.code === "InvalidNetworkInterfaceID.NotFound") return false;
    throw e;
  }
}

/** Registers the hard-part behaviours with the suite's `t`. */
export function ec2HardParts(t: Behaviour): void {
  t("ClientToken: same token and parameters give the original ENI; other parameters are a mismatch", async ({
    port,
    subnetId,
  }) => {
    const input = {
      subnetId,
      clientToken: `conformance-${crypto.randomUUID()}`,
      secondaryPrivateIpAddressCount: 1,
      tags: [{ key: "batch", value: "token" }],
    };
    const first = await port.createNetworkInterface(input);
    const again = await port.createNetworkInterface({ ...input });
    assert.equal(again.networkInterfaceId, first.networkInterfaceId);
    assert.deepEqual(await batch(port, "token"), [first.networkInterfaceId]);
    const e = await rejects(
      port.createNetworkInterface({ ...input, secondaryPrivateIpAddressCount: 2 }),
      "IdempotentParameterMismatch",
    );
    assert.equal(e.httpStatus, 400);
    assert.equal(e.retryable, false);
    assert.deepEqual(await batch(port, "token"), [first.networkInterfaceId]);
  });

  t("consistency-lag: a new ENI is NotFound by ID and left out of lists until the lag passes", async ({
    port,
    subnetId,
    launch,
    advance,
  }) => {
    const inst = await launch("m5.large");
    const eni = await port.createNetworkInterface({ subnetId, tags: [{ key: "batch", value: "lag" }] });
    const id = eni.networkInterfaceId;
    assert.equal(await shown(port, id), false);
    assert.deepEqual(await batch(port, "lag"), []);
    // Only Describe* lag: the ENI can be attached and given addresses at once.
    await port.attachNetworkInterface({ networkInterfaceId: id, instanceId: inst, deviceIndex: 1 });
    const [i] = await port.describeInstances([inst]);
    assert.equal(i.networkInterfaces.some((n) => n.networkInterfaceId === id), false);
    await advance(2000);
    assert.equal(await shown(port, id), true);
    assert.deepEqual(await batch(port, "lag"), [id]);
    const { privateIps } = await port.assignPrivateIpAddresses({
      networkInterfaceId: id,
      secondaryPrivateIpAddressCount: 2,
    });
    const secondaries = async () =>
      (await port.describeNetworkInterfaces({ networkInterfaceIds: [id] }))[0].privateIps
        .filter((p) => !p.primary).map((p) => p.address).toSorted();
    assert.deepEqual(await secondaries(), [], "new addresses lag too");
    await advance(2000);
    assert.deepEqual(await secondaries(), privateIps.toSorted());
  }, { realism: { faults: "consistency-lag=2s" } });

  t("attach-lag: attaching, then attached; detach passes through detaching", async ({
    port,
    subnetId,
    launch,
    advance,
  }) => {
    const inst = await launch("m5.large");
    const { networkInterfaceId: id } = await port.createNetworkInterface({ subnetId });
    const { attachmentId } = await port.attachNetworkInterface({
      networkInterfaceId: id,
      instanceId: inst,
      deviceIndex: 1,
    });
    const get = async () => (await port.describeNetworkInterfaces({ networkInterfaceIds: [id] }))[0];
    assert.equal((await get()).attachment?.status, "attaching");
    await rejects(port.deleteNetworkInterface(id), "InvalidNetworkInterface.InUse");
    await advance(1000);
    assert.equal((await get()).attachment?.status, "attached");
    assert.equal((await get()).status, "in-use");
    await port.detachNetworkInterface({ attachmentId });
    assert.equal((await get()).status, "detaching");
    await advance(1000);
    assert.equal((await get()).status, "available");
    assert.equal((await get()).attachment, undefined);
  }, { realism: { faults: "attach-lag=1s" } });

  t("lost-response: EC2 commits, the answer is lost; retried with one ClientToken, one ENI", async ({
    port,
    subnetId,
    stats,
  }) => {
    // Every mutating answer is lost half the time (seeded): a 500 or a connection cut mid-answer.
    const errors: string[] = [];
    const limited = new RateLimitedEc2(port, {
      maxAttempts: 30,
      baseDelayMs: 1,
      maxDelayMs: 2,
      onCall: (_a, _ms, e) => e && errors.push(`${e.code}/${e.httpStatus}`),
    });
    const made = await limited.createNetworkInterface({
      subnetId,
      clientToken: "lost-1",
      tags: [{ key: "batch", value: "lost" }],
    });
    assert.deepEqual(await batch(port, "lost"), [made.networkInterfaceId], "one ENI for one intent");
    // The same intent without a token makes one ENI per lost answer (what the token prevents). Go on until
    // both kinds of loss were seen (bounded; the dice are seeded).
    let tokenless = 0;
    const both = () => errors.includes("InternalError/500") && errors.includes("NetworkError/599");
    while (tokenless < 20 && (tokenless < 4 || !both())) {
      await limited.createNetworkInterface({ subnetId, tags: [{ key: "batch", value: "no-token" }] });
      tokenless++;
    }
    const leaked = (await batch(port, "no-token")).length - tokenless;
    const lost = (await stats()).CreateNetworkInterface.lost;
    assert.ok(lost >= 2, `lost answers: ${lost}`);
    assert.ok(leaked > 0, `no ENI was made twice without a token (${errors.join(", ")})`);
    assert.ok(errors.every((e) => e === "InternalError/500" || e === "NetworkError/599"), errors.join(", "));
    assert.ok(both(), errors.join(", "));
  }, { realism: { faults: "lost-response=0.5", seed: 9 } });
}
