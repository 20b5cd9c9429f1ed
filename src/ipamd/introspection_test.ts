import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { Datastore } from "./datastore.ts";
import { enisView, flattenEnis, introspectionHandler, parseBind } from "./introspection.ts";

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
  const v = await get("/v1/enis").json();
  // Upstream's shape (datastore.ENIInfos), as tools written for upstream's introspection read it.
  assert.equal(v.TotalIPs, 2);
  assert.equal(v.AssignedIPs, 1);
  const eni = v.ENIs["eni-1"];
  assert.deepEqual(
    [eni.ID, eni.IsPrimary, eni.IsTrunk, eni.IsEFA, eni.DeviceNumber],
    ["eni-1", true, false, false, 0],
  );
  assert.deepEqual(Object.keys(eni.AvailableIPv4Cidrs).sort(), ["10.0.0.11/32", "10.0.0.12/32"]);
  const c11 = eni.AvailableIPv4Cidrs["10.0.0.11/32"];
  assert.deepEqual(c11.Cidr, { IP: "10.0.0.11", Mask: "/////w==" }, "Go's net.IPNet: mask as base64 bytes");
  assert.equal(c11.IsPrefix, false);
  assert.equal(c11.AddressFamily, "4");
  const a = c11.IPAddresses["10.0.0.11"];
  assert.deepEqual(a.IPAMKey, { networkName: "n", containerID: "c1", ifName: "eth0" });
  assert.deepEqual(a.IPAMMetadata, { k8sPodNamespace: "ns", k8sPodName: "p" });
  assert.equal(a.AssignedTime, new Date(1000).toISOString());
  assert.equal(a.UnassignedTime, "0001-01-01T00:00:00Z", "Go's zero time");
  assert.equal(eni.AvailableIPv4Cidrs["10.0.0.12/32"].IPAddresses["10.0.0.12"].IPAMKey.containerID, "");
  assert.deepEqual(v.UnmanagedENIs, {});
  const flat = flattenEnis(v);
  assert.deepEqual(flat.enis["eni-1"].ips.map((i) => i.state).sort(), ["assigned", "free"]);
  const pods = await get("/v1/pods").json();
  assert.equal(pods["ns_p_c1"].ipv4, "10.0.0.11");
  assert.equal((await get("/v1/networkutils-env-settings").json()).AWS_VPC_K8S_CNI_VETHPREFIX, "cali");
  assert.equal((await get("/v1/ipamd-env-settings").json()).AWS_VPC_K8S_CNI_VETHPREFIX, "cali");
  assert.equal(get("/healthz").status, 503);
  ready = true;
  assert.equal(get("/healthz").status, 200);
  assert.equal(get("/v2/nope").status, 404);
});

Deno.test("enisView: prefixes as /28 CIDRs with their addresses; a released IP keeps its UnassignedTime", () => {
  const ds = new Datastore({ cooldownMs: 30_000 });
  ds.addEni({
    eniId: "eni-2",
    deviceNumber: 1,
    subnetId: "s",
    subnetCidr: "10.0.16.0/20",
    primaryIp: "10.0.16.5",
    mac: "02:00:00:00:00:02",
    createdAt: 0,
  });
  ds.addPrefixes("eni-2", ["10.0.16.32/28"]);
  const key = { netName: "n", containerId: "c2", ifName: "eth0" };
  ds.release(ds.assign(key, {}, 1_000), 5_000);
  const v = enisView(ds, 6_000, [{ eniId: "eni-9", deviceNumber: 2, reason: "tagged no_manage=true" }]);
  const c = v.ENIs["eni-2"].AvailableIPv4Cidrs["10.0.16.32/28"];
  assert.equal(c.IsPrefix, true);
  assert.deepEqual(c.Cidr, { IP: "10.0.16.32", Mask: "////8A==" });
  assert.equal(Object.keys(c.IPAddresses).length, 16);
  const released = c.IPAddresses["10.0.16.32"];
  assert.equal(released.UnassignedTime, new Date(5_000).toISOString());
  assert.equal(released.State, "cooling");
  assert.equal(v.CoolingIPs, 1);
  assert.deepEqual(v.UnmanagedENIs, { "eni-9": "tagged no_manage=true" });
  assert.deepEqual(flattenEnis(v).enis["eni-2"].prefixes, ["10.0.16.32/28"]);
});
