import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DEFAULT_STATE_DIR, LabNames } from "./naming.ts";

Deno.test("LabNames: id is l + 5 hex of sha1(absolute state dir)", () => {
  const n = new LabNames("/tmp/some-lab");
  const want = "l" + createHash("sha1").update("/tmp/some-lab").digest("hex").slice(0, 5);
  assert.equal(n.id, want);
  assert.match(n.id, /^l[0-9a-f]{5}$/);
  assert.equal(new LabNames().stateDir, DEFAULT_STATE_DIR);
});

Deno.test("LabNames: relative and unnormalised paths resolve to the same lab", () => {
  const abs = new LabNames(`${Deno.cwd()}/x/lab`);
  assert.equal(new LabNames("x/lab").id, abs.id);
  assert.equal(new LabNames(`${Deno.cwd()}/x/../x/lab/`).id, abs.id);
  assert.notEqual(new LabNames("/tmp/a").id, new LabNames("/tmp/b").id);
});

Deno.test("LabNames: namespaces, links and paths follow the contract", () => {
  const n = new LabNames("/run/vpc-cni-lab");
  const id = n.id;
  assert.equal(n.vpcNs, `${id}-vpc`);
  assert.equal(n.inetNs, `${id}-inet`);
  assert.equal(n.nodeNs(3), `${id}-n3`);
  assert.equal(n.vpcLink(1, 2), `${id}n1d2`);
  assert.match(n.podNs("web"), new RegExp(`^${id}-p[0-9a-f]{6}$`));
  assert.notEqual(n.podNs("web"), n.podNs("web", "kube-system"));
  assert.equal(n.conflistPath(0), "/run/vpc-cni-lab/nodes/0/net.d/10-aws.conflist");
  // Node 1's /var/run/aws-node and /var/log/aws-routed-eni, as the host reaches them.
  assert.equal(n.ipamdSocket(1), "/run/vpc-cni-lab/nodes/1/run/ipamd.sock");
  assert.equal(n.backingStore(1), "/run/vpc-cni-lab/nodes/1/run/ipam.json");
  assert.equal(n.ipamdLog(1), "/run/vpc-cni-lab/nodes/1/log/ipamd.log");
  assert.equal(n.pluginLog(1), "/run/vpc-cni-lab/nodes/1/log/plugin.log");
  assert.equal(n.nodeMntns(1), "/run/vpc-cni-lab/mntns/node-1");
  assert.equal(n.labSock, "/run/vpc-cni-lab/lab.sock");
  assert.equal(n.podRecord("web"), "/run/vpc-cni-lab/pods/web.json");
  assert.equal(n.binDir, "/run/vpc-cni-lab/bin");
});

Deno.test("LabNames: link names fit IFNAMSIZ for 100 nodes and 16 devices", () => {
  const n = new LabNames("/tmp/x");
  for (const name of [n.vpcLink(99, 15), n.inetLink, n.nodeNs(99), n.podNs("p")]) {
    assert.ok(name.length <= 15, `${name} is ${name.length} chars`);
  }
});
