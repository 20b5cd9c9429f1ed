import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { Datastore } from "./datastore.ts";
import { introspectionHandler, parseBind } from "./introspection.ts";

Deno.test("parseBind: host:port, :port and bad input", () => {
  assert.deepEqual(parseBind("127.0.0.1:61679"), { hostname: "127.0.0.1", port: 61679 });
  assert.deepEqual(parseBind(":61679"), { hostname: "0.0.0.0", port: 61679 });
  assert.deepEqual(parseBind("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(parseBind("unix:/run/i.sock"), { path: "/run/i.sock", transport: "unix" });
  assert.throws(() => parseBind("localhost"), RangeError);
  assert.throws(() => parseBind("h:99999"), RangeError);
});

Deno.test("introspection: ENIs, pods, settings and health", async () => {
  const ds = new Datastore({ cooldownMs: 30_000 });
  ds.addEni({
    eniId: "eni-1",
    deviceNumber: 0,
    subnetId: "s",
    subnetCidr: "10.0.0.0/20",
    primaryIp: "10.0.0.10",
    mac: "02:00:00:00:00:01",
    createdAt: 0,
  });
  ds.addIps("eni-1", ["10.0.0.11", "10.0.0.12"]);
  ds.assign(
    { netName: "n", containerId: "c1", ifName: "eth0" },
    { k8sPodNamespace: "ns", k8sPodName: "p" },
    1000,
  );
  let ready = false;
  const config = loadConfig({
    MY_NODE_NAME: "n1",
    AWS_VPC_K8S_CNI_VETHPREFIX: "cali",
    AWS_VPC_K8S_CNI_LOG_FILE: "stdout",
  });
  const h = introspectionHandler({ ds, config, eniConfigs: () => ({}), ready: () => ready, now: () => 2000 });
  const get = (p: string) => h(new Request(`http://x${p}`));
  const enis = await get("/v1/enis").json();
  assert.equal(enis.totalIPs, 2);
  assert.equal(enis.assignedIPs, 1);
  assert.deepEqual(enis.enis["eni-1"].ips.map((i: { state: string }) => i.state).sort(), [
    "assigned",
    "free",
  ]);
  const pods = await get("/v1/pods").json();
  assert.equal(
    pods["ns_p_c1"].ipv4,
    enis.enis["eni-1"].ips.find((i: { state: string }) => i.state === "assigned").address,
  );
  assert.equal((await get("/v1/networkutils-env-settings").json()).AWS_VPC_K8S_CNI_VETHPREFIX, "cali");
  assert.equal((await get("/v1/ipamd-env-settings").json()).AWS_VPC_K8S_CNI_VETHPREFIX, "cali");
  assert.equal(get("/healthz").status, 503);
  ready = true;
  assert.equal(get("/healthz").status, 200);
  assert.equal(get("/v2/nope").status, 404);
});
