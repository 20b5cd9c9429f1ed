/** The pool driver over Ec2ModelPort with a test clock: shrink with hysteresis, EC2 reconcile, no-IP reasons. */
import assert from "node:assert/strict";
import { ImdsClient } from "../src/aws/imds.ts";
import { systemClock } from "../src/common/clock.ts";
import { loadConfig } from "../src/ipamd/config.ts";
import { Datastore } from "../src/ipamd/datastore.ts";
import { EniManager } from "../src/ipamd/eni_manager.ts";
import { IpamdMetrics } from "../src/ipamd/metrics.ts";
import { PoolDriver } from "../src/ipamd/pool_driver.ts";
import { Ec2Model } from "../src/sim/ec2_model.ts";
import { createImdsHandler } from "../src/sim/imds_server.ts";
import { Ec2ModelPort } from "../src/sim/ec2_model_port.ts";
import { Realism } from "../src/sim/realism.ts";

function setup(env: Record<string, string> = {}, realism?: Realism) {
  let clock = Date.parse("2026-11-25T12:00:00Z");
  const now = () => clock;
  const model = new Ec2Model({ now });
  const ec2 = new Ec2ModelPort(model, realism);
  const subnet = model.addSubnet({ cidr: "10.0.0.0/20" });
  const inst = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.subnetId });
  const h = createImdsHandler(model, { instanceId: inst.instanceId, lagMs: 0 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (r) => h(r));
  const imds = new ImdsClient({ endpoint: `http://127.0.0.1:${server.addr.port}` });
  const config = loadConfig({
    MY_NODE_NAME: "n",
    AWS_VPC_K8S_CNI_LOG_FILE: "stdout",
    AWS_VPC_K8S_CNI_LOGLEVEL: "ERROR",
    ...env,
  });
  const ds = new Datastore({ cooldownMs: config.ipCooldownMs });
  const metrics = new IpamdMetrics();
  const eni = new EniManager({
    ec2,
    imds,
    instanceId: inst.instanceId,
    subnetId: subnet.subnetId,
    securityGroupIds: [],
    clusterName: "c",
    metrics,
  });
  const primary = inst.networkInterfaces[0];
  ds.addEni({
    eniId: primary.networkInterfaceId,
    deviceNumber: 0,
    subnetId: subnet.subnetId,
    subnetCidr: subnet.cidrBlock,
    primaryIp: primary.privateIpAddress,
    mac: primary.macAddress,
    createdAt: clock,
  });
  const driver = new PoolDriver({
    ds,
    eni,
    imds,
    config,
    limits: { maxEnis: 3, ipv4PerEni: 10 },
    primaryEniId: primary.networkInterfaceId,
    metrics,
    clock: { ...systemClock, now },
  });
  return {
    model,
    ec2,
    ds,
    driver,
    metrics,
    instanceId: inst.instanceId,
    now,
    advance: (ms: number) => clock += ms,
    [Symbol.asyncDispose]: async () => {
      await driver.stop();
      await server.shutdown();
    },
  };
}

const key = (i: number) => ({ netName: "aws-cni", containerId: `c${i}`, ifName: "eth0" });

Deno.test("pool driver: grows on demand, then frees the surplus ENI only after age and cooldown", async () => {
  await using t = setup({ IP_COOLDOWN_PERIOD: "30" });
  await t.driver.trigger();
  assert.equal(t.ds.enis().length, 2);
  for (let i = 0; i < 10; i++) t.ds.assign(key(i), {}, t.now());
  await t.driver.trigger();
  assert.equal(t.ds.enis().length, 3, "10 used of 18: a third ENI for the warm target");
  for (let i = 0; i < 10; i++) t.ds.release(key(i), t.now());
  await t.driver.trigger();
  assert.equal(t.ds.enis().length, 3, "released IPs are cooling and the ENIs are young: nothing freed");
  t.advance(61_000);
  const plan = await t.driver.trigger();
  assert.ok(plan?.actions.some((a) => a.kind === "delete-eni"), plan?.reason);
  assert.equal(t.ds.enis().length, 2);
  const attached = await t.ec2.describeNetworkInterfaces({
    filters: [{ name: "attachment.instance-id", values: [t.instanceId] }],
  });
  assert.equal(attached.length, 2);
  assert.equal(
    (await t.ec2.describeNetworkInterfaces({})).length,
    2,
    "the freed ENI is deleted, not left available",
  );
  const again = await t.driver.trigger();
  assert.deepEqual(again?.actions, [], "no flapping right after a shrink");
});

Deno.test("pool driver: reconcile drops IPs and ENIs that vanished from EC2 and adopts new IPs", async () => {
  await using t = setup();
  await t.driver.trigger();
  const [, second] = t.ds.enis();
  const gone = second.ips.slice(0, 2);
  await t.ec2.unassignPrivateIpAddresses({ networkInterfaceId: second.eniId, privateIpAddresses: gone });
  const primary = t.ds.enis()[0];
  t.ds.assign(key(1), {}, t.now());
  await t.driver.reconcile();
  assert.equal(t.ds.eni(second.eniId)!.ips.length, 7);
  for (const ip of gone) assert.equal(t.ds.ipState(ip, t.now()), "unknown");
  assert.equal(t.metrics.forceRemovedIps.get(), 2);
  const extra = await t.ec2.assignPrivateIpAddresses({
    networkInterfaceId: second.eniId,
    secondaryPrivateIpAddressCount: 1,
  });
  await t.driver.reconcile();
  assert.ok(t.ds.eni(second.eniId)!.ips.includes(extra.privateIps[0]));
  assert.equal(t.ds.eni(primary.eniId)!.ips.length, 9);
  assert.equal(t.metrics.reconcileCount.get({ fn: "eniReconcile" }), 2);
  // The ENI itself vanishes (detached and deleted behind ipamd's back): dropped, as it holds no pod.
  const [n] = await t.ec2.describeNetworkInterfaces({ networkInterfaceIds: [second.eniId] });
  await t.ec2.detachNetworkInterface({ attachmentId: n.attachment!.attachmentId });
  await t.ec2.deleteNetworkInterface(second.eniId);
  await t.driver.reconcile();
  assert.equal(t.ds.eni(second.eniId), undefined);
  assert.equal(t.metrics.forceRemovedEnis.get(), 1);
});

Deno.test("pool driver: reasons for no free IP", async () => {
  await using t = setup({ MAX_ENI: "1" });
  await t.driver.trigger();
  for (let i = 0; i < 9; i++) t.ds.assign(key(i), {}, t.now());
  let r = t.driver.reasonForNoIp();
  assert.equal(r.reason, "max_enis_reached");
  assert.equal(r.retryable, false);
  t.ds.release(key(0), t.now());
  r = t.driver.reasonForNoIp(30_000);
  assert.equal(r.reason, "pool_growing");
  assert.equal(r.retryAfterMs, 30_000);
});

Deno.test("pool driver: several ENIs are created in parallel", async () => {
  await using t = setup({ WARM_IP_TARGET: "27" }, new Realism({ latency: "realistic", buckets: false }));
  const t0 = performance.now();
  const plan = await t.driver.trigger();
  const ms = performance.now() - t0;
  assert.equal(t.ds.enis().length, 3, plan?.reason);
  assert.equal(t.ds.stats(t.now()).total, 27);
  // One ENI takes CreateNetworkInterface + DescribeInstances + Attach + Modify (about 2.4 s with realistic
  // latency); two in a row would take twice that.
  const one = ["DescribeInstances", "CreateNetworkInterface", "AttachNetworkInterface"]
    .map((a) => t.metrics.awsLatency.sum({ api: a }) / Math.max(1, t.metrics.awsLatency.get({ api: a })))
    .reduce((x, y) => x + y, 0);
  assert.ok(ms < one * 1.6, `plan took ${Math.round(ms)} ms; one ENI ~${Math.round(one)} ms`);
});
