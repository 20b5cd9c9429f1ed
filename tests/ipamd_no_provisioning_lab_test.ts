/**
 * DISABLE_NETWORK_RESOURCE_PROVISIONING and ENABLE_IMDS_ONLY_MODE on the lab: ipamd uses only the addresses
 * already on the node's ENIs (three secondary IPs assigned before it starts), changes nothing in EC2 (IMDS-only:
 * calls EC2 not at all), and an ADD once they are taken answers why.
 */
import assert from "node:assert/strict";
import { ec2FromNode, setIpamdRunning, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { IpamdSocket } from "./helpers/ipamd_client.ts";

const pod = (i: number) => ({
  netName: "aws-cni",
  containerId: `np${i}`,
  ifName: "eth0",
  k8sPodNamespace: "default",
  k8sPodName: `np-${i}`,
});

async function nodeEc2Calls(lab: TestLab): Promise<Record<string, number>> {
  return (await (await lab.fetch("/lab/status")).json()).nodes[0].ec2Calls;
}

/** Stops ipamd, gives the primary ENI three secondary IPs (as an operator or another tool would), restarts it. */
async function preassigned(lab: TestLab): Promise<{ ips: string[]; callsBefore: Record<string, number> }> {
  await setIpamdRunning(lab, 0, false);
  const instanceId = lab.status.nodes[0].instanceId;
  const [d] = await ec2FromNode(lab, 0, [["describeNetworkInterfaces", {
    filters: [{ name: "attachment.instance-id", values: [instanceId] }],
  }]]);
  assert.ok("ok" in d, JSON.stringify(d));
  const primary = (d.ok as { networkInterfaceId: string; attachment: { deviceIndex: number } }[])
    .find((n) => n.attachment.deviceIndex === 0)!;
  const [a] = await ec2FromNode(lab, 0, [["assignPrivateIpAddresses", {
    networkInterfaceId: primary.networkInterfaceId,
    secondaryPrivateIpAddressCount: 3,
  }]]);
  assert.ok("ok" in a, JSON.stringify(a));
  const callsBefore = await nodeEc2Calls(lab);
  await setIpamdRunning(lab, 0, true);
  return { ips: (a.ok as { privateIps: string[] }).privateIps.sort(), callsBefore };
}

const MUTATING = [
  "CreateNetworkInterface",
  "AttachNetworkInterface",
  "DetachNetworkInterface",
  "DeleteNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "AssignPrivateIpAddresses",
  "UnassignPrivateIpAddresses",
  "CreateTags",
];

for (
  const [variable, what] of [
    ["DISABLE_NETWORK_RESOURCE_PROVISIONING", "no EC2 change"],
    ["ENABLE_IMDS_ONLY_MODE", "no EC2 call at all"],
  ] as const
) {
  Deno.test({
    name: `lab: ${variable}=true uses only the IPs already on the ENIs, ${what}`,
    ...rootOnly,
  }, async () => {
    await withLab({ nodes: 1, instanceType: "m5.large", ipamdEnv: { [variable]: "true" } }, async (lab) => {
      const { ips, callsBefore } = await preassigned(lab);
      const sock = new IpamdSocket(lab.status.nodes[0].ipamdSocket);
      try {
        const got: string[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await sock.call("/v1/add-network", pod(i));
          assert.equal(r.status, 200, JSON.stringify(r.body));
          got.push(r.body.ipv4);
        }
        assert.deepEqual(got.sort(), ips, "the three addresses that were already there");
        const r = await sock.call("/v1/add-network", pod(3));
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.error.reason, "growth_held");
        assert.match(r.body.error.message, new RegExp(`${variable}=true`));
        const pool = (await sock.call("/v1/pool")).body;
        assert.equal(pool.enis.length, 1, "no ENI created");
        const after = await nodeEc2Calls(lab);
        const made = Object.entries(after).filter(([k, n]) => n !== (callsBefore[k] ?? 0));
        if (variable === "ENABLE_IMDS_ONLY_MODE") {
          assert.deepEqual(made, [], "no EC2 call since ipamd started");
        } else {
          for (const k of MUTATING) assert.equal(after[k] ?? 0, callsBefore[k] ?? 0, `no ${k}`);
          assert.ok(made.every(([k]) => k.startsWith("Describe")), JSON.stringify(made));
        }
      } finally {
        sock.close();
      }
    });
  });
}
