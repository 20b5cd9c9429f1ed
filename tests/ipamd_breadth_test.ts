/**
 * IPAM breadth with upstream's knobs, on ipamd running in-process against the EC2 model (`TestNode`: Ec2ModelPort,
 * the lab's IMDS and Kubernetes handlers, a real node namespace) and, where said, on the lab:
 * prefix delegation, custom networking, subnet discovery, leaked-ENI GC, EC2 rate limiting under throttling.
 */
import assert from "node:assert/strict";
import { cidrContains } from "../src/net/ipv4.ts";
import { TAG_CNI_ROLE } from "../src/ipamd/subnet_select.ts";
import { TAG_CLUSTER_NAME, TAG_CREATED_AT, TAG_INSTANCE_ID, TAG_NO_MANAGE } from "../src/ipamd/eni_tags.ts";
import { Realism } from "../src/sim/realism.ts";
import { LAB_NET } from "../src/sim/naming.ts";
import { podAdd } from "../src/sim/runtime_pod.ts";
import { ec2FromNode, labStatus, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { until } from "../harness/poll.ts";
import { TestNode } from "./helpers/ipamd_node.ts";
import { IpamdSocket, testPod } from "./helpers/ipamd_client.ts";

async function withNode(
  o: Parameters<typeof TestNode.create>[0],
  fn: (n: TestNode) => Promise<void>,
): Promise<void> {
  const node = await TestNode.create(o);
  try {
    await fn(node);
  } catch (e) {
    try {
      console.error(Deno.readTextFileSync(`${node.dir}/ipamd.log`).split("\n").slice(-40).join("\n"));
    } catch { /* no log */ }
    throw e;
  } finally {
    await node.close();
  }
}

/** Runs `ipamd max-pods ARGS`; returns exit code and output. */
async function maxPodsCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      "src/ipamd/main.ts",
      "max-pods",
      ...args,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout).trim(), err: d.decode(r.stderr).trim() };
}

Deno.test("ipamd max-pods: EKS's calculator with --prefix-delegation and --custom-networking", async () => {
  const cases: [string[], string][] = [
    [["--instance-type", "m5.large"], "29"],
    [["--instance-type", "m5.large", "--prefix-delegation"], "110"],
    [["--instance-type", "m5.4xlarge", "--prefix-delegation"], "110"],
    [["--instance-type", "c5.18xlarge", "--prefix-delegation"], "250"],
    [["--instance-type", "m5.24xlarge", "--prefix-delegation"], "250"],
    [["--instance-type", "m5.large", "--custom-networking"], "20"],
    [["--instance-type", "t3.medium", "--custom-networking"], "12"],
  ];
  for (const [args, want] of cases) {
    const r = await maxPodsCli(...args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    assert.equal(r.out, want, args.join(" "));
  }
  const xen = await maxPodsCli("--instance-type", "m4.4xlarge", "--prefix-delegation");
  assert.equal(xen.code, 1);
  assert.match(xen.err, /Nitro/i);
});

// ---------------------------------------------------------------------------------------------- prefixes

Deno.test(
  {
    name: "prefix delegation: /28s via Ipv4PrefixCount, pod IPs from them, WARM_PREFIX_TARGET kept",
    ...rootOnly,
  },
  () =>
    withNode({}, async (node) => {
      const d = await node.start({ ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" });
      const pool = await node.until("one free prefix", async () => {
        const p = (await node.call("/v1/pool")).body;
        return p.totals.total >= 16 ? p : undefined;
      });
      assert.equal(pool.totals.total, 16, "WARM_PREFIX_TARGET=1: exactly one /28");
      // EC2 holds the /28 on the primary ENI (prefix mode does not use WARM_ENI_TARGET).
      const [inst] = await node.ec2.describeInstances([node.instanceId]);
      const prefixes = inst.networkInterfaces.flatMap((n) => n.ipv4Prefixes);
      assert.equal(prefixes.length, 1);
      assert.match(prefixes[0], /\/28$/);
      assert.equal(node.model.calls.CreateNetworkInterface ?? 0, 0, "no ENI needed for 16 IPs");
      // 17 pods: the 17th needs a second prefix; every IP is inside a delegated /28.
      const ips: string[] = [];
      for (let i = 0; i < 17; i++) {
        const r = await node.call("/v1/add-network", testPod(i));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        ips.push(r.body.ipv4);
      }
      assert.equal(new Set(ips).size, 17);
      await node.until("a spare prefix again", async () =>
        (await node.call("/v1/pool")).body.totals.free >= 16);
      const held = (await node.ec2.describeInstances([node.instanceId]))[0].networkInterfaces
        .flatMap((n) =>
          n.ipv4Prefixes
        );
      for (const ip of ips) assert.ok(held.some((p) => cidrContains(p, ip)), `${ip} in ${held}`);
      assert.ok(held.length >= 2);
      assert.ok(d.metrics.totalPrefixes.get() >= 2);
      assert.equal(d.metrics.ipMax.get(), 3 * 9 * 16, "awscni_ip_max in prefix mode");
      const assignCalls = node.model.calls.AssignPrivateIpAddresses ?? 0;
      assert.ok(assignCalls >= 2 && assignCalls <= 4, `AssignPrivateIpAddresses ${assignCalls}`);
    }),
);

Deno.test(
  {
    name: "prefix delegation: WARM_IP/MINIMUM_IP targets count in prefixes; a new ENI comes with /28s",
    ...rootOnly,
  },
  () =>
    withNode({}, async (node) => {
      // m5.large: 9 prefix slots per ENI (144 IPs). MINIMUM_IP_TARGET=150 needs 10 prefixes: 9 on the primary
      // and a new ENI created with Ipv4PrefixCount (no secondary IPs).
      await node.start({ ENABLE_PREFIX_DELEGATION: "true", WARM_IP_TARGET: "5", MINIMUM_IP_TARGET: "150" });
      const pool = await node.until("160 IPs", async () => {
        const p = (await node.call("/v1/pool")).body;
        return p.totals.total === 160 && p.pendingEnis === 0 ? p : undefined;
      });
      assert.deepEqual(pool.enis.map((e: { prefixes: string[] }) => e.prefixes.length), [9, 1]);
      const [inst] = await node.ec2.describeInstances([node.instanceId]);
      const eni1 = inst.networkInterfaces.find((n) => n.attachment?.deviceIndex === 1)!;
      assert.equal(eni1.ipv4Prefixes.length, 1);
      assert.equal(eni1.privateIps.length, 1, "only the ENI's own primary address");
      assert.equal(node.model.calls.CreateNetworkInterface, 1);
    }),
);

Deno.test(
  {
    name: "prefix delegation on Xen: start-up fails naming the variable, before any EC2 change",
    ...rootOnly,
  },
  () =>
    withNode({ instanceType: "m4.4xlarge" }, async (node) => {
      await assert.rejects(
        node.start({ ENABLE_PREFIX_DELEGATION: "true" }),
        (e: Error) =>
          e.name === "StartupError" && /ENABLE_PREFIX_DELEGATION/.test(e.message) &&
          /m4\.4xlarge/.test(e.message) && /Nitro/.test(e.message) && /xen/.test(e.message),
      );
      for (const a of ["CreateNetworkInterface", "AssignPrivateIpAddresses", "AttachNetworkInterface"]) {
        assert.equal(node.model.calls[a] ?? 0, 0, a);
      }
    }),
);

Deno.test(
  {
    name: "prefix delegation: InsufficientCidrBlocks pauses growth 120 s and ADD says subnet_exhausted",
    ...rootOnly,
  },
  () =>
    // A /26 node subnet: only a few /28s are free (the primary and EC2's reserved addresses block the rest).
    withNode({ subnetCidr: "10.0.0.0/26" }, async (node) => {
      const d = await node.start({ ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" });
      await node.until("a /28", async () => (await node.call("/v1/pool")).body.totals.total === 16);
      let added = 0;
      for (let i = 0; i < 64; i++) {
        const r = await node.call("/v1/add-network", testPod(i));
        if (r.status === 200) {
          added++;
          continue;
        }
        if (r.body.error.reason === "subnet_exhausted") break;
        assert.equal(r.body.error.reason, "pool_growing", JSON.stringify(r.body));
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(added >= 16 && added % 16 === 0 && added < 64, `added ${added}`);
      assert.equal((await node.call("/v1/pool")).body.totals.free, 0);
      await node.until("growth paused", () => d.driver.growthPausedUntil > Date.now());
      const left = d.driver.growthPausedUntil - Date.now();
      assert.ok(left > 100_000 && left <= 120_000, `paused ${left} ms`);
      const r = await node.call("/v1/add-network", testPod(99));
      assert.notEqual(r.status, 200);
      assert.equal(r.body.error.reason, "subnet_exhausted");
      assert.equal(r.body.error.retryable, true);
      assert.match(r.body.error.message, /InsufficientCidrBlocks/);
      assert.match(r.body.error.message, /paused 120 s/);
      assert.ok(r.body.error.retryAfterMs > 100_000 && r.body.error.retryAfterMs <= 120_000);
      // While paused, plans carry no growth and say why; EC2 is not asked again.
      const calls = node.model.calls.AssignPrivateIpAddresses ?? 0;
      const plan = await d.driver.trigger();
      assert.match(plan!.reason, /growth paused until/);
      assert.equal(node.model.calls.AssignPrivateIpAddresses ?? 0, calls);
      assert.equal(node.model.calls.CreateNetworkInterface ?? 0, 0);
    }),
);

// ------------------------------------------------------------------------------------- custom networking

Deno.test(
  {
    name: "custom networking: ENIs in the ENIConfig's subnet and groups; label change moves new ENIs",
    ...rootOnly,
  },
  () =>
    withNode({}, async (node) => {
      const subA = node.model.addSubnet({ cidr: "10.0.16.0/20" });
      const subB = node.model.addSubnet({ cidr: "10.0.32.0/20" });
      const sgA = node.model.addSecurityGroup("pods-a");
      const sgB = node.model.addSecurityGroup("pods-b");
      node.kubeStore.putEniConfig("cfg-a", { subnet: subA.subnetId, securityGroups: [sgA] });
      node.kubeStore.putEniConfig("cfg-b", { subnet: subB.subnetId, securityGroups: [sgB] });
      node.kubeStore.patchNode(node.nodeName, { labels: { "k8s.amazonaws.com/eniConfig": "cfg-a" } });
      const d = await node.start({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true" });
      const pool = await node.until("one pod ENI", async () => {
        const p = (await node.call("/v1/pool")).body;
        return p.enis.length === 2 && p.totals.total === 9 ? p : undefined;
      });
      // The primary ENI carries no pods.
      const primary = pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 0);
      assert.equal(primary.total, 0, JSON.stringify(primary));
      assert.equal(d.metrics.ipMax.get(), 2 * 9, "awscni_ip_max without the primary ENI");
      const eni1 = (await node.ec2.describeNetworkInterfaces({
        networkInterfaceIds: [pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 1).eniId],
      }))[0];
      assert.equal(eni1.subnetId, subA.subnetId);
      assert.deepEqual(eni1.securityGroupIds, [sgA]);
      // Relabel: the next ENI (WARM_ENI_TARGET=1 wants a spare one once a pod is on ENI 1) goes to cfg-b.
      node.kubeStore.patchNode(node.nodeName, { labels: { "k8s.amazonaws.com/eniConfig": "cfg-b" } });
      await node.until("watcher saw cfg-b", () => d.eniConfig?.current?.eniConfig === "cfg-b");
      const r0 = await node.call("/v1/add-network", testPod(0));
      assert.equal(r0.status, 200);
      assert.ok(cidrContains("10.0.16.0/20", r0.body.ipv4), r0.body.ipv4);
      assert.equal(r0.body.deviceNumber, 1);
      const enis = await node.until("second pod ENI", async () => {
        const all = await node.ec2.describeNetworkInterfaces({
          filters: [{ name: "attachment.instance-id", values: [node.instanceId] }],
        });
        return all.length === 3 ? all : undefined;
      });
      const eni2 = enis!.find((n) => n.attachment?.deviceIndex === 2)!;
      assert.equal(eni2.subnetId, subB.subnetId);
      assert.deepEqual(eni2.securityGroupIds, [sgB]);
      // The existing ENI stays where it was.
      assert.equal(enis!.find((n) => n.attachment?.deviceIndex === 1)!.subnetId, subA.subnetId);
      // /v1/eni-configs shows both.
      const ec = await (await fetch(
        `http://${d.introspectionAddr!.hostname}:${d.introspectionAddr!.port}/v1/eni-configs`,
      ))
        .json();
      assert.deepEqual(Object.keys(ec).sort(), ["cfg-a", "cfg-b"]);
    }),
);

Deno.test(
  {
    name:
      "custom networking: annotation wins over label; ENIConfig edits apply to new ENIs; none fails start-up",
    ...rootOnly,
  },
  () =>
    withNode({}, async (node) => {
      const subA = node.model.addSubnet({ cidr: "10.0.16.0/20" });
      const subB = node.model.addSubnet({ cidr: "10.0.32.0/20" });
      node.kubeStore.patchNode(node.nodeName, { labels: { "k8s.amazonaws.com/eniConfig": "nope" } });
      await assert.rejects(
        node.start({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true" }),
        /ENIConfig "nope" \(from the node's label\) does not exist/,
      );
      node.kubeStore.putEniConfig("by-label", { subnet: subA.subnetId });
      node.kubeStore.putEniConfig("by-annotation", { subnet: subB.subnetId });
      node.kubeStore.patchNode(node.nodeName, {
        labels: { "k8s.amazonaws.com/eniConfig": "by-label" },
        annotations: { "k8s.amazonaws.com/eniConfig": "by-annotation" },
      });
      const d = await node.start({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true" });
      assert.equal(d.eniConfig?.current?.subnetId, subB.subnetId);
      // No groups in the ENIConfig: the primary ENI's.
      const [inst] = await node.ec2.describeInstances([node.instanceId]);
      assert.deepEqual(d.eniConfig?.current?.securityGroupIds, inst.networkInterfaces[0].securityGroupIds);
      await node.until("ENI in the annotated subnet", async () => {
        const all = await node.ec2.describeNetworkInterfaces({
          filters: [{ name: "subnet-id", values: [subB.subnetId] }],
        });
        return all.length === 1;
      });
      // Editing the ENIConfig's spec applies to the next ENI (one pod on ENI 1 makes WARM_ENI_TARGET want one).
      const subC = node.model.addSubnet({ cidr: "10.0.48.0/20" });
      const sgC = node.model.addSecurityGroup("pods-c");
      node.kubeStore.putEniConfig("by-annotation", { subnet: subC.subnetId, securityGroups: [sgC] });
      assert.equal((await node.call("/v1/add-network", testPod(1))).status, 200);
      const eni2 = await node.until("second pod ENI", async () =>
        (await node.ec2.describeNetworkInterfaces({
          filters: [{ name: "attachment.instance-id", values: [node.instanceId] }],
        })).find((n) => n.attachment?.deviceIndex === 2));
      assert.equal(eni2!.subnetId, subC.subnetId);
      assert.deepEqual(eni2!.securityGroupIds, [sgC]);
    }),
);

// ------------------------------------------------------------------------------------- subnet discovery

Deno.test(
  {
    name: "subnet discovery: new ENIs go to the tagged subnet with most room; 0 excludes; off = primary",
    ...rootOnly,
  },
  async () => {
    const setup = (node: TestNode) => ({
      small: node.model.addSubnet({ cidr: "10.0.16.0/24", tags: [{ key: TAG_CNI_ROLE, value: "1" }] }),
      big: node.model.addSubnet({ cidr: "10.0.64.0/18", tags: [{ key: TAG_CNI_ROLE, value: "" }] }),
      excluded: node.model.addSubnet({ cidr: "10.0.128.0/17", tags: [{ key: TAG_CNI_ROLE, value: "0" }] }),
      untagged: node.model.addSubnet({ cidr: "10.0.32.0/19" }),
    });
    const eniSubnets = async (node: TestNode) =>
      (await node.ec2.describeNetworkInterfaces({
        filters: [{ name: "attachment.instance-id", values: [node.instanceId] }],
      })).filter((n) => n.attachment!.deviceIndex > 0).map((n) => n.subnetId);
    await withNode({}, async (node) => {
      const s = setup(node);
      await node.start();
      await node.until("warm ENI", async () => (await node.call("/v1/pool")).body.enis.length === 2);
      assert.deepEqual(await eniSubnets(node), [s.big.subnetId]);
      // Pods there are wired through the ENI's own subnet gateway.
      const r = await node.call("/v1/add-network", testPod(1));
      assert.equal(r.status, 200);
      // Device 0 first: fill the primary's 9 then one lands on ENI 1 in 10.0.64.0/18.
      for (let i = 2; i <= 10; i++) {
        assert.equal((await node.call("/v1/add-network", testPod(i))).status, 200);
      }
      const pods: { ip: string }[] = (await node.call("/v1/pool")).body.pods;
      assert.equal(pods.filter((p) => cidrContains("10.0.64.0/18", p.ip)).length, 1, JSON.stringify(pods));
      assert.match(await node.exec("ip", "route", "show", "table", "2"), /default via 10\.0\.64\.1 dev eth1/);
    });
    await withNode({}, async (node) => {
      setup(node);
      await node.start({}, { subnetDiscovery: false });
      await node.until("warm ENI", async () => (await node.call("/v1/pool")).body.enis.length === 2);
      assert.deepEqual(await eniSubnets(node), [node.subnetId]);
    });
    await withNode({}, async (node) => {
      node.model.addSubnet({ cidr: "10.0.32.0/19" }); // bigger but untagged
      await node.start();
      await node.until("warm ENI", async () => (await node.call("/v1/pool")).body.enis.length === 2);
      assert.deepEqual(await eniSubnets(node), [node.subnetId], "nothing tagged: the primary's subnet");
    });
  },
);

// -------------------------------------------------------------------------------------------- ENI GC

Deno.test(
  {
    name: "leaked-ENI GC in the daemon: deletes this node's old available ENIs only; metric; can be disabled",
    ...rootOnly,
  },
  async () => {
    const leak = async (
      node: TestNode,
      o: { instanceId?: string; age?: number; extra?: { key: string; value: string }[] },
    ) =>
      (await node.ec2.createNetworkInterface({
        subnetId: node.subnetId,
        description: `aws-K8S-${node.instanceId}`,
        tags: [
          { key: TAG_INSTANCE_ID, value: o.instanceId ?? node.instanceId },
          { key: TAG_CLUSTER_NAME, value: "test-cluster" },
          { key: TAG_CREATED_AT, value: new Date(Date.now() - (o.age ?? 30 * 60_000)).toISOString() },
          ...(o.extra ?? []),
        ],
      })).networkInterfaceId;
    const exists = async (node: TestNode, id: string) =>
      (await node.ec2.describeNetworkInterfaces({
        filters: [{ name: "network-interface-id", values: [id] }],
      }))
        .length === 1;
    await withNode({}, async (node) => {
      // Before start-up: only other nodes' ENIs and a no_manage one, which neither the start-up sweep nor
      // the GC touches, however old.
      const other = await leak(node, { instanceId: "i-someoneelse" });
      const otherYoung = await leak(node, { instanceId: "i-someoneelse", age: 60_000 });
      const noManage = await leak(node, { extra: [{ key: TAG_NO_MANAGE, value: "true" }] });
      const d = await node.start({}, { eniGc: { firstDelayMs: 1_500, everyMs: 60_000 } });
      assert.deepEqual(d.startupSweep?.deleted, []);
      // After start-up (so the sweep is past): the periodic GC's 5-minute rule decides.
      const leaked = await leak(node, {});
      const young = await leak(node, { age: 60_000 });
      assert.equal(d.eniGc?.runs, 0, "the GC's first run comes after the ENIs exist");
      await node.until("leaked ENI deleted", async () => !(await exists(node, leaked)));
      for (const id of [young, other, otherYoung, noManage]) assert.ok(await exists(node, id), id);
      assert.equal(d.eniGc?.runs, 1);
      const text = await (await fetch(`http://127.0.0.1:${d.metricsAddr!.port}/metrics`)).text();
      assert.match(text, /^awscni_force_removed_enis(\{\})? 1$/m);
    });
    await withNode({}, async (node) => {
      const leaked = await leak(node, {});
      const d = await node.start({ DISABLE_LEAKED_ENI_CLEANUP: "true" }, { eniGc: { firstDelayMs: 10 } });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(d.eniGc, undefined);
      assert.ok(await exists(node, leaked));
    });
  },
);

Deno.test(
  {
    name:
      "start-up sweep: this node's ENIs left available by a previous run go at start-up, however young; " +
      "other nodes' stay; can be disabled",
    ...rootOnly,
  },
  async () => {
    const leak = async (
      node: TestNode,
      o: { instanceId?: string; age?: number; extra?: { key: string; value: string }[]; cluster?: string },
    ) =>
      (await node.ec2.createNetworkInterface({
        subnetId: node.subnetId,
        description: `aws-K8S-${o.instanceId ?? node.instanceId}`,
        tags: [
          { key: TAG_INSTANCE_ID, value: o.instanceId ?? node.instanceId },
          { key: TAG_CLUSTER_NAME, value: o.cluster ?? "test-cluster" },
          { key: TAG_CREATED_AT, value: new Date(Date.now() - (o.age ?? 5_000)).toISOString() },
          ...(o.extra ?? []),
        ],
      })).networkInterfaceId;
    const exists = async (node: TestNode, id: string) =>
      (await node.ec2.describeNetworkInterfaces({
        filters: [{ name: "network-interface-id", values: [id] }],
      })).length === 1;
    await withNode({}, async (node) => {
      // A previous ipamd killed between CreateNetworkInterface and AttachNetworkInterface, seconds ago.
      const orphan = await leak(node, { age: 3_000 });
      const orphanOld = await leak(node, { age: 30 * 60_000 });
      const keep = {
        otherNode: await leak(node, { instanceId: "i-someoneelse", age: 3_000 }),
        otherCluster: await leak(node, { cluster: "another-cluster" }),
        noManage: await leak(node, { extra: [{ key: TAG_NO_MANAGE, value: "true" }] }),
      };
      // The periodic GC stays far off: the sweep alone deletes them, before ipamd is ready.
      const d = await node.start({}, { eniGc: { firstDelayMs: 60_000, everyMs: 60_000 } });
      assert.deepEqual(d.startupSweep?.deleted.sort(), [orphan, orphanOld].sort());
      assert.equal(d.startupSweep?.incomplete, false);
      assert.ok(!(await exists(node, orphan)) && !(await exists(node, orphanOld)));
      for (const [k, id] of Object.entries(keep)) assert.ok(await exists(node, id), k);
      assert.equal(d.eniGc?.runs, 0);
      const text = await (await fetch(`http://127.0.0.1:${d.metricsAddr!.port}/metrics`)).text();
      assert.match(text, /^awscni_force_removed_enis(\{\})? 2$/m);
      const log = await Deno.readTextFile(`${node.dir}/ipamd.log`);
      for (const id of [orphan, orphanOld]) {
        assert.ok(
          log.split("\n").some((l) => l.includes("orphaned by a previous ipamd run") && l.includes(id)),
          id,
        );
      }
      // The pool it grows afterwards is untouched by the sweep (its ENIs are created after start-up).
      await node.until("pool grown", () => Promise.resolve(d.ds.enis().length >= 2 || undefined));
    });
    await withNode({}, async (node) => {
      const orphan = await leak(node, { age: 3_000 });
      const d = await node.start({ DISABLE_LEAKED_ENI_CLEANUP: "true" });
      assert.equal(d.startupSweep, undefined);
      assert.ok(await exists(node, orphan));
    });
  },
);

// --------------------------------------------------------------------------------------- rate limiting

Deno.test(
  {
    name: "EC2 rate limiting: under throttle=0.2 the pool converges with a bounded number of EC2 calls",
    ...rootOnly,
  },
  async () => {
    const realism = new Realism({ latency: "none", faults: "throttle=0.2", seed: 7 });
    await withNode({ realism }, async (node) => {
      const d = await node.start({ WARM_IP_TARGET: "5", MINIMUM_IP_TARGET: "20" }, { addWaitMs: 20_000 });
      // 20 pods in parallel, retried as aws-cni's caller would on a retryable answer.
      const add = async (i: number) => {
        for (let t = 0; t < 20; t++) {
          const r = await node.call("/v1/add-network", testPod(i));
          if (r.status === 200) return r.body.ipv4 as string;
          assert.equal(r.body.error.retryable, true, JSON.stringify(r.body));
          await new Promise((res) => setTimeout(res, Math.min(r.body.error.retryAfterMs ?? 500, 2000)));
        }
        throw new Error(`pod ${i} got no IP`);
      };
      const ips = await Promise.all(Array.from({ length: 20 }, (_, i) => add(i)));
      assert.equal(new Set(ips).size, 20);
      // Converged: 20 assigned, WARM_IP_TARGET=5 free, on 3 ENIs (27 usable) at most.
      await node.until("converged", async () => {
        const t = (await node.call("/v1/pool")).body.totals;
        return t.assigned === 20 && t.free >= 5;
      }, 30_000);
      const stats = realism.stats();
      const attempts = (a: string) => stats[a]?.calls ?? 0;
      const throttles = Object.values(stats).reduce((n, s) => n + s.throttles, 0);
      const total = Object.values(stats).reduce((n, s) => n + s.calls, 0);
      // Stated bounds: 2 secondary ENIs (3 on a generous plan) and their IPs; every attempt counted,
      // throttled ones included. A storm would be hundreds.
      assert.ok(attempts("CreateNetworkInterface") <= 3 * 2, `Create ${attempts("CreateNetworkInterface")}`);
      assert.ok(attempts("AttachNetworkInterface") <= 3 * 2, `Attach ${attempts("AttachNetworkInterface")}`);
      assert.ok(attempts("AssignPrivateIpAddresses") <= 12, `Assign ${attempts("AssignPrivateIpAddresses")}`);
      assert.ok(total <= 80, `total EC2 attempts ${total}: ${JSON.stringify(stats)}`);
      assert.ok(throttles > 0, "the fault injector throttled some calls");
      // ipamd saw and counted every throttle through its client-side limiter.
      const text = await (await fetch(`http://127.0.0.1:${d.metricsAddr!.port}/metrics`)).text();
      const counted = [...text.matchAll(/^awscni_ec2api_throttled_count\{fn="(\w+)"\} (\d+)$/gm)]
        .reduce((n, m) => n + Number(m[2]), 0);
      assert.equal(counted, throttles, text);
    });
  },
);

// =========================================================================================== on the lab
// The real `ipamd run` (SDK EC2 over HTTP, IMDSv2, Kubernetes client) in lab nodes; pods through the CNI chain.

/** Every node's ipamd socket, once each answers /v1/status. */
async function labSocks(lab: TestLab, timeoutMs = 90_000): Promise<IpamdSocket[]> {
  const socks = lab.status.nodes.map((n) => new IpamdSocket(n.ipamdSocket));
  for (const s of socks) {
    await until(`ipamd ${s.path}`, async () => (await s.call("/v1/status")).status === 200, timeoutMs);
  }
  return socks;
}

async function ping(lab: TestLab, ns: string, ip: string): Promise<void> {
  const r = await lab.inNetns(ns, ["busybox", "ping", "-c", "1", "-W", "3", ip]);
  assert.equal(r.code, 0, `ping ${ip} from ${ns}: ${r.stdout}${r.stderr}`);
}

/** An ipamd page served inside node i (metrics or introspection). */
async function nodeGet(lab: TestLab, node: number, url: string): Promise<string> {
  const r = await lab.inNode(node, ["curl", "-sS", "-m", "5", url]);
  assert.equal(r.code, 0, `${url}: ${r.stderr}`);
  return r.stdout;
}

const rnd = () => crypto.randomUUID().slice(0, 6);

Deno.test(
  {
    name: "lab: prefix delegation wires pods from /28s on two nodes; the fabric routes the prefixes",
    ...rootOnly,
  },
  async () => {
    await withLab({
      nodes: 2,
      instanceType: "m5.large",
      ipamdEnv: { ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" },
    }, async (lab) => {
      const socks = await labSocks(lab);
      try {
        for (const s of socks) {
          await until("a /28", async () => (await s.call("/v1/pool")).body.totals?.total >= 16);
        }
        const id = rnd();
        const a = await podAdd(lab.names, `pa-${id}`, { node: 0 });
        const b = await podAdd(lab.names, `pb-${id}`, { node: 1 });
        for (const [i, p] of [[0, a], [1, b]] as const) {
          const prefixes: string[] = (await socks[i].call("/v1/pool")).body.enis.flatMap((
            e: { prefixes: string[] },
          ) => e.prefixes);
          assert.ok(
            prefixes.some((x) => x.endsWith("/28") && cidrContains(x, p.podIp!)),
            `${p.podIp} in ${prefixes}`,
          );
        }
        await ping(lab, a.netns, b.podIp!);
        await ping(lab, b.netns, a.podIp!);
        await ping(lab, a.netns, lab.status.nodes[1].primaryIp);
        // Out to the internet through the node's SNAT.
        const who = await lab.inNetns(a.netns, [
          "curl",
          "-sS",
          "-m",
          "5",
          `http://${LAB_NET.inetHostIp}:${LAB_NET.whoamiPort}/`,
        ]);
        assert.equal(who.code, 0, who.stderr);
        assert.match(who.stdout, new RegExp(lab.status.nodes[0].primaryIp.replaceAll(".", "\\.")));
        const st = await labStatus(lab.stateDir);
        assert.equal(st.ec2Calls.CreateNetworkInterface ?? 0, 0, "16 IPs per node need no new ENI");
        assert.ok((st.ec2Calls.AssignPrivateIpAddresses ?? 0) >= 2);
      } finally {
        socks.forEach((s) => s.close());
      }
    });
  },
);

Deno.test(
  {
    name: "lab: custom networking puts pods in the ENIConfig subnet; an annotation moves new ENIs",
    ...rootOnly,
  },
  async () => {
    await withLab({
      nodes: 2,
      instanceType: "m5.large",
      ipamdEnv: {
        AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true",
        ENI_CONFIG_LABEL_DEF: "topology.kubernetes.io/zone",
      },
    }, async (lab) => {
      const st0 = lab.status;
      const subnetIds = st0.subnetIds as string[];
      const sg = st0.securityGroupId as string;
      const putEniConfig = async (name: string, subnet: string) => {
        const r = await lab.fetch("/k8s/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
            kind: "ENIConfig",
            metadata: { name },
            spec: { subnet, securityGroups: [sg] },
          }),
        });
        assert.equal(r.status, 201, await r.text());
      };
      // ipamd fails start-up until the zone's ENIConfig exists (then the supervisor's restart succeeds).
      await putEniConfig(LAB_NET.az, subnetIds[1]);
      const socks = await labSocks(lab, 120_000);
      try {
        for (const s of socks) {
          const pool = await until("a pod ENI", async () => {
            const p = (await s.call("/v1/pool")).body;
            return p.enis?.length === 2 && p.totals.total === 9 ? p : undefined;
          });
          const primary = pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 0);
          assert.equal(primary.total, 0, "the primary ENI carries no pods");
          assert.equal(
            pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 1).subnetCidr,
            "10.0.16.0/20",
          );
        }
        // Node 0 gets an annotation naming another ENIConfig: it wins over the zone label for ENIs made from now
        // on (WARM_ENI_TARGET=1 makes the next one as soon as a pod uses ENI 1).
        await putEniConfig("cfg-b", subnetIds[2]);
        const node0 = st0.nodes[0].name;
        const r = await lab.fetch(`/k8s/api/v1/nodes/${node0}`, {
          method: "PATCH",
          headers: { "content-type": "application/merge-patch+json" },
          body: JSON.stringify({ metadata: { annotations: { "k8s.amazonaws.com/eniConfig": "cfg-b" } } }),
        });
        assert.equal(r.status, 200, await r.text());
        await until(
          "ipamd saw cfg-b",
          async () => (await nodeGet(lab, 0, "http://127.0.0.1:61679/v1/eni-configs")).includes("cfg-b"),
        );
        const id = rnd();
        const a = await podAdd(lab.names, `ca-${id}`, { node: 0 });
        const b = await podAdd(lab.names, `cb-${id}`, { node: 1 });
        assert.ok(cidrContains("10.0.16.0/20", a.podIp!) && cidrContains("10.0.16.0/20", b.podIp!));
        await ping(lab, a.netns, b.podIp!);
        await ping(lab, b.netns, a.podIp!);
        // Fill ENI 1 (8 more after pod a) through the socket, then a real pod lands on the new ENI.
        for (let i = 0; i < 8; i++) {
          const x = await socks[0].call("/v1/add-network", { ...testPod(i), containerId: `fill${i}-${id}` });
          assert.equal(x.status, 200, JSON.stringify(x.body));
        }
        const pool = await until("a second pod ENI in cfg-b's subnet", async () => {
          const p = (await socks[0].call("/v1/pool")).body;
          return p.enis.length === 3 ? p : undefined;
        });
        assert.equal(
          pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 2).subnetCidr,
          "10.0.32.0/20",
        );
        assert.equal(
          pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 1).subnetCidr,
          "10.0.16.0/20",
        );
        const c = await podAdd(lab.names, `cc-${id}`, { node: 0 });
        assert.ok(cidrContains("10.0.32.0/20", c.podIp!), c.podIp);
        await ping(lab, c.netns, b.podIp!);
        await ping(lab, b.netns, c.podIp!);
      } finally {
        socks.forEach((s) => s.close());
      }
    });
  },
);

Deno.test(
  {
    name: "lab: under --faults throttle=0.2 the pool converges without a storm; throttles counted",
    ...rootOnly,
  },
  async () => {
    await withLab({ nodes: 1, instanceType: "m5.large", faults: "throttle=0.2" }, async (lab) => {
      const [sock] = await labSocks(lab);
      try {
        const id = rnd();
        const ips = await Promise.all(Array.from({ length: 25 }, async (_, i) => {
          const r = await until(`pod ${i}`, async () => {
            const x = await sock.call("/v1/add-network", { ...testPod(i), containerId: `t${i}-${id}` });
            if (x.status !== 200) {
              assert.equal(x.body.error.retryable, true, JSON.stringify(x.body));
              return undefined;
            }
            return x;
          });
          return r.body.ipv4 as string;
        }));
        assert.equal(new Set(ips).size, 25);
        await until("3 ENIs, 25 assigned", async () => {
          const p = (await sock.call("/v1/pool")).body;
          return p.enis.length === 3 && p.totals.assigned === 25 && p.pendingEnis === 0;
        });
        const st = await labStatus(lab.stateDir);
        assert.equal(st.nodes[0].ipamdRestarts, 0);
        const api = (st.apiCounters ?? {}) as Record<string, { calls: number; throttles: number }>;
        const ec2Actions = Object.keys(st.ec2Calls);
        const attempts = (a: string) => api[a]?.calls ?? 0;
        const total = ec2Actions.reduce((n, a) => n + attempts(a), 0);
        const throttles = ec2Actions.reduce((n, a) => n + (api[a]?.throttles ?? 0), 0);
        // Stated bounds for 25 pods on m5.large (2 new ENIs): create/attach at most 3 attempts per ENI,
        // and at most 100 EC2 attempts overall, throttled ones included.
        assert.ok(attempts("CreateNetworkInterface") <= 6, JSON.stringify(api));
        assert.ok(attempts("AttachNetworkInterface") <= 6, JSON.stringify(api));
        assert.ok(total <= 100, `total ${total}: ${JSON.stringify(api)}`);
        assert.ok(throttles > 0, JSON.stringify(api));
        const metrics = await nodeGet(lab, 0, "http://127.0.0.1:61678/metrics");
        const counted = [...metrics.matchAll(/^awscni_ec2api_throttled_count\{fn="(\w+)"\} (\d+)$/gm)]
          .reduce((n, m) => n + Number(m[2]), 0);
        assert.equal(
          counted,
          throttles,
          metrics.split("\n").filter((l) => l.includes("throttled")).join("\n"),
        );
      } finally {
        sock.close();
      }
    });
  },
);

Deno.test(
  {
    name: "lab: subnet discovery puts a new ENI in the roomiest tagged subnet; pods there are routed",
    ...rootOnly,
  },
  async () => {
    // WARM_IP_TARGET=1 / MINIMUM_IP_TARGET=1: no ENI is made until the primary's 9 IPs are used.
    await withLab({
      nodes: 2,
      instanceType: "m5.large",
      ipamdEnv: { WARM_IP_TARGET: "1", MINIMUM_IP_TARGET: "1" },
    }, async (lab) => {
      const subnetIds = lab.status.subnetIds as string[];
      const tag = async (subnet: string, value: string) => {
        const body = new URLSearchParams({
          Action: "CreateTags",
          Version: "2016-11-15",
          "ResourceId.1": subnet,
          "Tag.1.Key": TAG_CNI_ROLE,
          "Tag.1.Value": value,
        });
        const r = await lab.fetch("/ec2/", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: body.toString(),
        });
        assert.equal(r.status, 200, await r.text());
      };
      // The node subnet is tagged by the lab; 10.0.16.0/20 (tagged now) has more room; 10.0.32.0/20 is as
      // roomy but tagged 0.
      await tag(subnetIds[1], "1");
      await tag(subnetIds[2], "0");
      const socks = await labSocks(lab);
      try {
        const id = rnd();
        for (let i = 0; i < 10; i++) {
          const x = await until(`filler ${i}`, async () => {
            const y = await socks[0].call("/v1/add-network", { ...testPod(i), containerId: `sd${i}-${id}` });
            return y.status === 200 ? y : undefined;
          });
          assert.ok(x);
        }
        const pool = await until("ENI 1 with a free IP", async () => {
          const p = (await socks[0].call("/v1/pool")).body;
          return p.enis.length === 2 && p.totals.free >= 1 ? p : undefined;
        });
        assert.deepEqual(pool.enis.map((e: { subnetCidr: string }) => e.subnetCidr), [
          "10.0.0.0/20",
          "10.0.16.0/20",
        ]);
        const a = await podAdd(lab.names, `sa-${id}`, { node: 0 });
        assert.ok(cidrContains("10.0.16.0/20", a.podIp!), a.podIp);
        const b = await podAdd(lab.names, `sb-${id}`, { node: 1 });
        await ping(lab, a.netns, b.podIp!);
        await ping(lab, b.netns, a.podIp!);
        const st = await labStatus(lab.stateDir);
        assert.ok((st.ec2Calls.DescribeSubnets ?? 0) >= 1);
      } finally {
        socks.forEach((s) => s.close());
      }
    });
  },
);

Deno.test(
  { name: "lab: leaked-ENI GC in the real ipamd deletes this node's old leaked ENI only", ...rootOnly },
  async () => {
    await withLab({
      nodes: 1,
      instanceType: "m5.large",
      ipamdEnv: { LEAKED_ENI_CLEANUP_DELAY: "1", LEAKED_ENI_CLEANUP_INTERVAL: "2" },
    }, async (lab) => {
      const me = lab.status.nodes[0].instanceId;
      const subnetId = (lab.status.subnetIds as string[])[0];
      const old = new Date(Date.now() - 30 * 60_000).toISOString();
      const make = (instanceId: string, extra: { key: string; value: string }[] = [], createdAt = old) =>
        [
          "createNetworkInterface",
          {
            subnetId,
            description: `aws-K8S-${instanceId}`,
            tags: [
              { key: TAG_INSTANCE_ID, value: instanceId },
              { key: TAG_CLUSTER_NAME, value: "lab" },
              { key: TAG_CREATED_AT, value: createdAt },
              ...extra,
            ],
          },
        ] as [string, ...unknown[]];
      // ipamd up first: the ENIs below are made after its start-up sweep, so the periodic GC decides.
      const [sock] = await labSocks(lab);
      sock.close();
      const made = await ec2FromNode(lab, 0, [
        make(me),
        make(me, [{ key: TAG_NO_MANAGE, value: "true" }]),
        make("i-0123456789abcdef0"),
        make(me, [], new Date().toISOString()),
      ]);
      const ids = made.map((m) => {
        assert.ok("ok" in m, JSON.stringify(m));
        return (m.ok as { networkInterfaceId: string }).networkInterfaceId;
      });
      await until("the leaked ENI deleted", async () => {
        const st = await labStatus(lab.stateDir);
        return (st.ec2Calls.DeleteNetworkInterface ?? 0) >= 1;
      }, 30_000);
      const [left] = await ec2FromNode(lab, 0, [["describeNetworkInterfaces", {
        filters: [{ name: "network-interface-id", values: ids }],
      }]]);
      assert.ok("ok" in left, JSON.stringify(left));
      const still = (left.ok as { networkInterfaceId: string }[]).map((n) => n.networkInterfaceId).sort();
      assert.deepEqual(still, ids.slice(1).sort(), "only the old leaked ENI of this node is gone");
      const metrics = await nodeGet(lab, 0, "http://127.0.0.1:61678/metrics");
      assert.match(metrics, /^awscni_force_removed_enis(\{\})? 1$/m);
    });
  },
);

Deno.test(
  {
    name:
      "EC2 rate limiting: the client-side buckets keep a burst under EC2's buckets (buckets sized for EC2 alone are throttled)",
    ...rootOnly,
  },
  async () => {
    // Server buckets scaled down so that start-up growth (2 ENIs + IPs) is a burst: mutating calls 2 + 2/s,
    // attach 2 + 2/s, describes 4 + 4/s. ipamd's client buckets are 90 % of the same shapes.
    const server = {
      mutate: { capacity: 2, refillPerSec: 2 },
      attach: { capacity: 2, refillPerSec: 2 },
      describe: { capacity: 4, refillPerSec: 4 },
      tags: { capacity: 2, refillPerSec: 2 },
      other: { capacity: 2, refillPerSec: 2 },
    };
    const client = Object.fromEntries(
      Object.entries(server).map((
        [k, v],
      ) => [k, { capacity: v.capacity * 0.9, refillPerSec: v.refillPerSec * 0.9 }]),
    );
    const run = async (limited: boolean) => {
      const realism = new Realism({ latency: "none", buckets: server, seed: 3 });
      let throttles = 0;
      await withNode({ realism }, async (node) => {
        const d = await node.start(
          { MINIMUM_IP_TARGET: "27", WARM_IP_TARGET: "1" },
          // Unlimited here means ipamd's own buckets (sized for EC2's, far above this server's).
          { ...(limited ? { rateLimit: { buckets: client } } : {}), attachWaitMs: 30_000 },
        );
        const count = () => Object.values(realism.stats()).reduce((n, s) => n + s.throttles, 0);
        if (limited) {
          await node.until("27 IPs on 3 ENIs", async () => {
            const p = (await node.call("/v1/pool")).body;
            return p.totals.total === 27 && p.pendingEnis === 0;
          }, 60_000);
        } else {
          await node.until("a throttle", async () => {
            await d.driver.trigger(); // without retries a failed step waits for the next plan
            return count() > 0;
          }, 20_000);
        }
        throttles = count();
      });
      return throttles;
    };
    assert.equal(await run(true), 0, "the client-side limiter keeps every call under EC2's buckets");
    assert.ok(
      (await run(false)) > 0,
      "the same burst with buckets sized for EC2 (not this server) is throttled",
    );
  },
);

Deno.test(
  {
    name: "lab: prefix delegation with custom networking: pods from a /28 on a secondary ENI are routed",
    ...rootOnly,
  },
  async () => {
    await withLab({
      nodes: 2,
      instanceType: "m5.large",
      ipamdEnv: {
        ENABLE_PREFIX_DELEGATION: "true",
        AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true",
        ENI_CONFIG_LABEL_DEF: "topology.kubernetes.io/zone",
      },
    }, async (lab) => {
      const r = await lab.fetch("/k8s/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
          kind: "ENIConfig",
          metadata: { name: LAB_NET.az },
          spec: {
            subnet: (lab.status.subnetIds as string[])[1],
            securityGroups: [lab.status.securityGroupId],
          },
        }),
      });
      assert.equal(r.status, 201, await r.text());
      const socks = await labSocks(lab, 120_000);
      try {
        for (const s of socks) {
          const p = await until("a /28 on ENI 1", async () => {
            const x = (await s.call("/v1/pool")).body;
            return x.totals?.total === 16 && x.pendingEnis === 0 ? x : undefined;
          });
          const [e0, e1] = p.enis;
          assert.equal(e0.total, 0);
          assert.equal(e1.deviceNumber, 1);
          assert.equal(e1.subnetCidr, "10.0.16.0/20");
          assert.equal(e1.prefixes.length, 1);
        }
        const id = rnd();
        const a = await podAdd(lab.names, `xa-${id}`, { node: 0 });
        const b = await podAdd(lab.names, `xb-${id}`, { node: 1 });
        for (const [i, p] of [[0, a], [1, b]] as const) {
          const pool = (await socks[i].call("/v1/pool")).body;
          const e1 = pool.enis.find((e: { deviceNumber: number }) => e.deviceNumber === 1);
          assert.ok(
            e1.prefixes.some((x: string) => cidrContains(x, p.podIp!)),
            `${p.podIp} in ${e1.prefixes}`,
          );
          // The pod's source routes through ENI 1's table (device 1 → table 2).
          const rules = await lab.inNode(i, ["ip", "rule", "show"]);
          assert.match(rules.stdout, new RegExp(`from ${p.podIp!.replaceAll(".", "\\.")} lookup 2`));
        }
        await ping(lab, a.netns, b.podIp!);
        await ping(lab, b.netns, a.podIp!);
        await ping(lab, a.netns, lab.status.nodes[1].primaryIp);
      } finally {
        socks.forEach((s) => s.close());
      }
    });
  },
);
