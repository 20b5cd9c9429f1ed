/** The pool driver over Ec2ModelPort with a test clock: shrink with hysteresis, EC2 reconcile, no-IP reasons. */
import assert from "node:assert/strict";
import { ImdsClient } from "../src/aws/imds.ts";
import { systemClock } from "../src/common/clock.ts";
import { loadConfig } from "../src/ipamd/config.ts";
import { Datastore } from "../src/ipamd/datastore.ts";
import { EniManager } from "../src/ipamd/eni_manager.ts";
import { IpamdMetrics } from "../src/ipamd/metrics.ts";
import { EC2_RECONCILE_EVERY, PoolDriver } from "../src/ipamd/pool_driver.ts";
import { Ec2Model } from "../src/sim/ec2_model.ts";
import { createImdsHandler } from "../src/sim/imds_server.ts";
import { Ec2ModelPort } from "../src/sim/ec2_model_port.ts";
import { parseFaults, Realism } from "../src/sim/realism.ts";
import type { AttachmentKey } from "../src/cni/api.ts";
import type { PodMeta } from "../src/ipamd/datastore.ts";
import { poolSnapshot } from "../src/ipamd/pool_status.ts";
import { apiHandler } from "../src/ipamd/server.ts";
import { renderStatus } from "../src/ipamd/status_table.ts";
import { until } from "../harness/poll.ts";

/** `ds`: the datastore (a test double may replace it); the returned `imds.down` makes IMDS answer 500. */
function setup(env: Record<string, string> = {}, realism?: Realism, o: { ds?: Datastore } = {}) {
  let clock = Date.parse("2026-11-25T12:00:00Z");
  const now = () => clock;
  const model = new Ec2Model({ now });
  const ec2 = new Ec2ModelPort(model, realism);
  const subnet = model.addSubnet({ cidr: "10.0.0.0/20" });
  const inst = model.launchInstance({ instanceType: "m5.large", subnetId: subnet.subnetId });
  const h = createImdsHandler(model, { instanceId: inst.instanceId, lagMs: 0 });
  const imdsState = { down: false };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (r) => imdsState.down ? new Response("injected IMDS failure", { status: 500 }) : h(r),
  );
  const imds = new ImdsClient({ endpoint: `http://127.0.0.1:${server.addr.port}` });
  const config = loadConfig({
    MY_NODE_NAME: "n",
    AWS_VPC_K8S_CNI_LOG_FILE: "stdout",
    AWS_VPC_K8S_CNI_LOGLEVEL: "ERROR",
    ...env,
  });
  const ds = o.ds ?? new Datastore({ cooldownMs: config.ipCooldownMs });
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
    config,
    imds: imdsState,
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

Deno.test("pool driver: reconcile asks EC2 only when IMDS disagrees with the datastore, or every 10th time", async () => {
  await using t = setup();
  await t.driver.trigger();
  const describes = () => t.model.calls["DescribeNetworkInterfaces"] ?? 0;
  const before = describes();
  for (let i = 0; i < EC2_RECONCILE_EVERY - 1; i++) await t.driver.reconcile();
  assert.equal(describes(), before, "IMDS agrees: no EC2 call");
  await t.driver.reconcile();
  assert.equal(describes(), before + 1, "the 10th reconcile asks EC2 anyway");
  const [, second] = t.ds.enis();
  await t.ec2.unassignPrivateIpAddresses({
    networkInterfaceId: second.eniId,
    privateIpAddresses: [second.ips[0]],
  });
  await t.driver.reconcile();
  assert.equal(describes(), before + 2, "IMDS shows a change: EC2 is asked");
  assert.equal(t.ds.eni(second.eniId)!.ips.length, 8);
});

Deno.test("pool driver: under EC2's consistency lag reconcile drops no ENI or IP it made that EC2 hides yet", async () => {
  await using t = setup({}, new Realism({ buckets: false, faults: "consistency-lag=2s" }));
  await t.driver.trigger();
  const view = () => t.ds.enis().map((e) => [e.eniId, e.ips.length]);
  const before = view();
  assert.deepEqual(before.map(([, n]) => n), [9, 9], "the primary's assigned IPs and a second ENI");
  const [, second] = t.ds.enis();
  await assert.rejects(
    t.ec2.describeNetworkInterfaces({ networkInterfaceIds: [second.eniId] }),
    /NotFound/,
    "EC2 does not show the new ENI (nor the primary's new IPs) yet",
  );
  // Every 10th reconcile asks EC2 even when IMDS agrees: that one sees EC2's lagging view.
  const describes = () => t.model.calls["DescribeNetworkInterfaces"] ?? 0;
  const asked = describes();
  for (let i = 0; i < EC2_RECONCILE_EVERY; i++) await t.driver.reconcile();
  assert.equal(describes(), asked + 1, "EC2 was asked");
  assert.deepEqual(view(), before, "nothing dropped");
  assert.equal(t.metrics.forceRemovedEnis.get(), 0);
  assert.equal(t.metrics.forceRemovedIps.get(), 0);
  t.advance(2_000);
  for (let i = 0; i < EC2_RECONCILE_EVERY; i++) await t.driver.reconcile();
  assert.deepEqual(view(), before, "nothing counted twice");
  assert.equal(t.driver.recent.size, 0, "EC2 shows every change now");
  // EC2's view wins again: addresses taken away behind ipamd's back are dropped.
  await t.ec2.unassignPrivateIpAddresses({
    networkInterfaceId: second.eniId,
    privateIpAddresses: second.ips,
  });
  await t.driver.reconcile();
  assert.equal(t.ds.eni(second.eniId)!.ips.length, 0);
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
    .map((api) => ({ api, error: "false", status: "200" }))
    .map((l) => t.metrics.awsLatency.sum(l) / Math.max(1, t.metrics.awsLatency.get(l)))
    .reduce((x, y) => x + y, 0);
  assert.ok(ms < one * 1.6, `plan took ${Math.round(ms)} ms; one ENI ~${Math.round(one)} ms`);
});

Deno.test("pool driver: a failing periodic reconcile is logged, counted and listed until it works again", async () => {
  const realism = new Realism({ latency: "none", buckets: false });
  await using t = setup({}, realism);
  await t.driver.trigger();
  realism.setFaults(parseFaults("5xx=1"));
  t.driver.start({ planEveryMs: 3_600_000, reconcileEveryMs: 20 });
  const failing = await until(
    "the reconcile failure to be listed",
    () => t.driver.failures.list().find((f) => f.task === "eniReconcile"),
  );
  assert.match(failing.error, /InternalError|500|internal/i, failing.error);
  assert.ok(t.metrics.ipamdErr.get({ fn: "eniReconcile" }) >= 1);
  assert.deepEqual(poolSnapshot(t, t.now()).failures.map((f) => f.task), ["eniReconcile"]);
  realism.setFaults(parseFaults(""));
  await until("the reconcile failure to clear", () => t.driver.failures.list().length === 0);
});

Deno.test("pool driver: IMDS failing during a reconcile: adopts nothing, counted in aws_utils_error_count, listed", async () => {
  await using t = setup();
  await t.driver.trigger();
  t.imds.down = true;
  await t.driver.reconcile();
  const [f] = t.driver.failures.list();
  assert.equal(f?.task, "imdsInterfaces");
  assert.match(f.error, /500|injected/, f.error);
  assert.equal(
    t.metrics.registry.render().split("\n").filter((l) => l.startsWith("awscni_aws_utils_error_count{"))
      .length,
    1,
  );
  t.imds.down = false;
  await t.driver.reconcile();
  assert.deepEqual(t.driver.failures.list(), []);
});

/** A datastore whose assign, after its first call, fails with something other than "no free IP". */
class BrokenDatastore extends Datastore {
  calls = 0;
  override tryAssign(key: AttachmentKey, meta: PodMeta, now: number) {
    if (this.calls++ > 0) throw new TypeError("datastore index corrupted (injected)");
    return super.tryAssign(key, meta, now);
  }
}

Deno.test("socket API: an unexpected error in assign is a 500 with its cause, never 'no free IP'", async () => {
  const ds = new BrokenDatastore({ cooldownMs: 0 });
  await using t = setup({}, undefined, { ds });
  // Growth paused: the ADD finds no IP, the plan grows nothing, and the last attempt hits the broken datastore.
  t.driver.growthPausedUntil = t.now() + 3_600_000;
  const api = apiHandler({
    ds,
    driver: t.driver,
    config: t.config,
    vpcCidrs: [],
    persist: () => Promise.resolve(),
    ready: () => true,
    metrics: t.metrics,
    clock: { ...systemClock, now: t.now },
  });
  const r = await api(
    new Request("http://ipamd/v1/add-network", { method: "POST", body: JSON.stringify(key(1)) }),
  );
  const body = await r.json();
  assert.equal(r.status, 500, JSON.stringify(body));
  assert.equal(body.error.reason, "internal");
  assert.match(body.error.message, /datastore index corrupted/);
  assert.equal(ds.calls, 2, "the first attempt found no IP, the second threw");
  assert.equal(t.metrics.ipamdErr.get({ fn: "/v1/add-network" }), 1);
});

Deno.test("ipamd status: the plan shown is the current pool's, with the time it was computed", async () => {
  await using t = setup({ WARM_IP_TARGET: "2" });
  await t.driver.trigger();
  assert.equal(t.ds.stats(t.now()).total, 2);
  // The pool changes after the last plan ran (two pods take both IPs), and time passes.
  t.ds.assign(key(1), {}, t.now());
  t.ds.assign(key(2), {}, t.now());
  t.advance(45_000);
  const { plan } = poolSnapshot(t, t.now());
  assert.match(plan.reason, /: 2 IPs, 0 available; short 2 IP\(s\)/, plan.reason);
  assert.deepEqual(plan.actions, ["assign-ips"]);
  assert.equal(plan.computedAt, new Date(t.now()).toISOString());
  assert.match(
    renderStatus(poolSnapshot(t, t.now())),
    new RegExp(`plan \\(${plan.computedAt.replaceAll(".", "\\.")}\\): IP target`),
  );
});
