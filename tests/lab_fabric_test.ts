/**
 * The lab's fabric end to end: secondary ENIs made and attached through the real AWS SDK appear in the
 * nodes with their MACs; hand-wired pods (upstream's layout, through the ffi) reach each other across the
 * router; a source EC2 did not assign to the ENI is dropped until EC2 assigns it; detach removes the NIC;
 * IMDS answers each node with its own instance.
 */
import assert from "node:assert/strict";
import { Netlink, Netns } from "../ffi/mod.ts";
import { netnsAdd } from "../src/sim/fabric_netns.ts";
import type { NetworkInterface } from "../src/aws/ec2_port.ts";
import { until } from "../harness/poll.ts";
import { rootOnly } from "./helpers/root.ts";
import { ec2FromNode, type TestLab, withLab } from "./helpers/lab.ts";

function ok<T>(r: { ok: unknown } | { error: { message: string } }): T {
  if ("error" in r) throw new Error(`EC2 call failed: ${r.error.message}`);
  return r.ok as T;
}

/** Configures a secondary ENI the way ipamd does: up, primary IP, its table, the from-rule. */
function configureEni(nodeNs: string, dev: number, primaryIp: string): void {
  const nl = Netlink.open(nodeNs);
  try {
    const ifName = `eth${dev}`;
    nl.linkSetUp(ifName);
    const idx = nl.linkByName(ifName).index;
    nl.addrAdd(idx, `${primaryIp}/20`);
    nl.routeDel({ dst: "10.0.0.0/20", ifindex: idx });
    const table = dev + 1;
    nl.routeAdd({ dst: "10.0.0.1/32", ifindex: idx, scope: "link", table });
    nl.routeAdd({ dst: "default", gateway: "10.0.0.1", ifindex: idx, table });
    nl.ruleAdd({ priority: 32765, src: `${primaryIp}/32`, table });
  } finally {
    nl.close();
  }
}

/** Wires a pod namespace to a node like aws-cni: veth, /32, 169.254.1.1 gateway, rules 512/1536. */
function wirePod(nodeNs: string, podNs: string, hostVeth: string, podIp: string, table: number): void {
  netnsAdd(podNs);
  const pns = Netns.open(podNs);
  const nl = Netlink.open(nodeNs);
  const pl = Netlink.open(pns);
  try {
    nl.vethAdd({ name: hostVeth, peerName: "eth0", peerNs: pns, mtu: 9001 });
    const h = nl.linkByName(hostVeth);
    nl.linkSetUp(h.index);
    pl.linkSetUp("lo");
    const e = pl.linkByName("eth0").index;
    pl.linkSetUp(e);
    pl.addrAdd(e, `${podIp}/32`);
    pl.routeAdd({ dst: "169.254.1.1/32", ifindex: e, scope: "link" });
    pl.routeAdd({ dst: "default", gateway: "169.254.1.1", ifindex: e });
    pl.neighAdd({ ifindex: e, ip: "169.254.1.1", mac: h.mac });
    nl.routeAdd({ dst: `${podIp}/32`, ifindex: h.index, scope: "link" });
    nl.ruleAdd({ priority: 512, dst: `${podIp}/32`, table: 254 });
    nl.ruleAdd({ priority: 1536, src: `${podIp}/32`, table });
  } finally {
    pl.close();
    nl.close();
    pns.close();
  }
}

async function rpFilterDrops(lab: TestLab): Promise<number> {
  const r = await lab.inNetns(lab.names.vpcNs, ["cat", "/proc/net/netstat"]);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("TcpExt:"));
  const keys = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/);
  return Number(vals[keys.indexOf("IPReversePathFilter")]);
}

async function ping(lab: TestLab, ns: string, dst: string, src?: string): Promise<boolean> {
  const r = await lab.inNetns(ns, [
    "busybox",
    "ping",
    "-c",
    "1",
    "-W",
    "2",
    ...(src ? ["-I", src] : []),
    dst,
  ]);
  return r.code === 0;
}

async function linkJson(
  lab: TestLab,
  node: number,
): Promise<{ ifname: string; address: string; flags: string[] }[]> {
  return JSON.parse((await lab.inNode(node, ["ip", "-j", "link", "show"])).stdout);
}

Deno.test({
  name: "lab fabric: SDK-made ENIs, pods across the router, source/destination check, detach, IMDS",
  ...rootOnly,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLab({ nodes: 2, ipamd: false }, async (lab) => {
      const { status, names } = lab;
      const subnetId = (status.subnetIds as string[])[0];
      const sg = status.securityGroupId as string;

      // Two secondary ENIs, made and attached with the real SDK from inside node 0.
      const made = await ec2FromNode(lab, 0, [
        ["createNetworkInterface", { subnetId, securityGroupIds: [sg], secondaryPrivateIpAddressCount: 1 }],
        ["createNetworkInterface", { subnetId, securityGroupIds: [sg], secondaryPrivateIpAddressCount: 1 }],
      ]);
      const enis = made.map((r) => ok<NetworkInterface>(r));
      const attached = await ec2FromNode(
        lab,
        0,
        enis.map((e, i) => [
          "attachNetworkInterface",
          {
            networkInterfaceId: e.networkInterfaceId,
            instanceId: status.nodes[i].instanceId,
            deviceIndex: 1,
          },
        ]),
      );
      attached.forEach((r) => ok(r));
      // And one more address on node 1's ENI after attach (ips-assigned on an attached ENI).
      const more = ok<{ privateIps: string[] }>(
        (await ec2FromNode(lab, 1, [["assignPrivateIpAddresses", {
          networkInterfaceId: enis[1].networkInterfaceId,
          secondaryPrivateIpAddressCount: 1,
        }]]))[0],
      );
      assert.equal(more.privateIps.length, 1);

      // eth1 appeared in each node with the ENI's MAC, down like a fresh NIC.
      for (const i of [0, 1]) {
        const eth1 = (await linkJson(lab, i)).find((l) => l.ifname === "eth1");
        assert.ok(eth1, `node ${i} has eth1`);
        assert.equal(eth1.address, enis[i].macAddress);
        assert.ok(!eth1.flags.includes("UP"), "a fresh NIC is down");
      }

      // Wire one pod per node on its secondary ENI (table 2), by hand, like ipamd + aws-cni.
      const podIps = [enis[0].privateIps.find((p) => !p.primary)!.address, more.privateIps[0]];
      const pods = [names.podNs("fabric-a"), names.podNs("fabric-b")];
      for (const i of [0, 1]) {
        configureEni(names.nodeNs(i), 1, enis[i].privateIpAddress);
        wirePod(names.nodeNs(i), pods[i], `enifab${i}`, podIps[i], 2);
      }
      assert.ok(await ping(lab, pods[0], podIps[1]), "pod a reaches pod b across the router");
      assert.ok(await ping(lab, pods[1], podIps[0]), "pod b reaches pod a");

      // Spoofing: an address in pod a that EC2 did not assign to node 0's ENI, sent out the same ENI.
      const all = ok<NetworkInterface[]>((await ec2FromNode(lab, 0, [["describeNetworkInterfaces", {}]]))[0]);
      const used = new Set(all.flatMap((e) => e.privateIps.map((p) => p.address)));
      let spoof = "10.0.15.200";
      for (let n = 200; used.has(spoof); n++) spoof = `10.0.15.${n}`;
      {
        const pl = Netlink.open(pods[0]);
        pl.addrAdd("eth0", `${spoof}/32`);
        pl.close();
        const nl = Netlink.open(names.nodeNs(0));
        nl.ruleAdd({ priority: 1536, src: `${spoof}/32`, table: 2 });
        nl.ruleAdd({ priority: 512, dst: `${spoof}/32`, table: 254 });
        nl.routeAdd({ dst: `${spoof}/32`, ifindex: nl.linkByName("enifab0").index, scope: "link" });
        nl.close();
      }
      const before = await rpFilterDrops(lab);
      assert.equal(await ping(lab, pods[0], podIps[1], spoof), false, "a spoofed source is dropped");
      assert.ok(await rpFilterDrops(lab) > before, "the router's rp_filter dropped it (IPReversePathFilter)");

      // Once EC2 assigns that address to node 0's ENI, the same packet passes.
      ok(
        (await ec2FromNode(lab, 0, [["assignPrivateIpAddresses", {
          networkInterfaceId: enis[0].networkInterfaceId,
          privateIpAddresses: [spoof],
        }]]))[0],
      );
      assert.ok(await ping(lab, pods[0], podIps[1], spoof), "an assigned source passes");

      // ...and is dropped again after UnassignPrivateIpAddresses.
      ok(
        (await ec2FromNode(lab, 0, [["unassignPrivateIpAddresses", {
          networkInterfaceId: enis[0].networkInterfaceId,
          privateIpAddresses: [spoof],
        }]]))[0],
      );
      assert.equal(await ping(lab, pods[0], podIps[1], spoof), false, "unassigned again: dropped");

      // An address EC2 assigned to another node's ENI is just as foreign to this one.
      const foreign = enis[1].privateIps.find((p) => !p.primary)!.address;
      {
        const pl = Netlink.open(pods[0]);
        pl.addrAdd("eth0", `${foreign}/32`);
        pl.close();
        const nl = Netlink.open(names.nodeNs(0));
        nl.ruleAdd({ priority: 1536, src: `${foreign}/32`, table: 2 });
        nl.close();
      }
      const before2 = await rpFilterDrops(lab);
      assert.equal(await ping(lab, pods[0], podIps[1], foreign), false, "another ENI's address is dropped");
      assert.ok(await rpFilterDrops(lab) > before2, "dropped by the router's source check");

      // The internet namespace sees node 0's primary address (no SNAT configured here).
      const who = await lab.inNode(0, ["curl", "-s", "-m", "3", "http://198.51.100.2:8080/"]);
      assert.equal(who.stdout.trim(), status.nodes[0].primaryIp);

      // IMDS answers each node with its own instance (IMDSv2 token first).
      for (const i of [0, 1]) {
        const tok = await lab.inNode(i, [
          "curl",
          "-s",
          "-m",
          "3",
          "-X",
          "PUT",
          "-H",
          "X-aws-ec2-metadata-token-ttl-seconds: 60",
          "http://169.254.169.254/latest/api/token",
        ]);
        assert.equal(tok.code, 0, tok.stderr);
        const id = await lab.inNode(i, [
          "curl",
          "-s",
          "-m",
          "3",
          "-H",
          `X-aws-ec2-metadata-token: ${tok.stdout.trim()}`,
          "http://169.254.169.254/latest/meta-data/instance-id",
        ]);
        assert.equal(id.stdout.trim(), status.nodes[i].instanceId);
      }

      // Detach node 1's ENI: eth1 leaves node 1 and pod b becomes unreachable.
      const d = ok<NetworkInterface[]>(
        (await ec2FromNode(lab, 1, [["describeNetworkInterfaces", {
          networkInterfaceIds: [enis[1].networkInterfaceId],
        }]]))[0],
      );
      ok(
        (await ec2FromNode(lab, 1, [["detachNetworkInterface", {
          attachmentId: d[0].attachment!.attachmentId,
        }]]))[0],
      );
      await until("eth1 gone after detach", async () =>
        !(await linkJson(lab, 1)).some((l) => l.ifname === "eth1"));
      assert.equal(await ping(lab, pods[0], podIps[1]), false, "pod b unreachable after detach");
      const routes = await lab.inNetns(names.vpcNs, ["ip", "-j", "route", "show"]);
      assert.ok(!routes.stdout.includes(`"${podIps[1]}"`), "the router forgot pod b's route");
    }),
});
