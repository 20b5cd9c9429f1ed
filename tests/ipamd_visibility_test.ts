/** ipamd's visibility: Prometheus names, introspection routes, `ipamd status`, and pod-leak protection. */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { TestNode } from "./helpers/ipamd_node.ts";
import { UPSTREAM_METRIC_NAMES } from "./helpers/upstream_metrics.ts";

Deno.test(
  { name: "ipamd visibility: metrics and introspection answer with upstream's names", ...rootOnly },
  async () => {
    const node = await TestNode.create();
    try {
      const d = await node.start();
      await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
      await node.call("/v1/add-network", {
        netName: "aws-cni",
        containerId: "c1",
        ifName: "eth0",
        k8sPodNamespace: "ns1",
        k8sPodName: "p1",
      });
      await d.driver.reconcile();
      const text = await (await fetch(`http://127.0.0.1:${d.metricsAddr!.port}/metrics`)).text();
      for (const n of UPSTREAM_METRIC_NAMES) assert.match(text, new RegExp(`^# TYPE awscni_${n} `, "m"), n);
      assert.match(text, /^awscni_eni_allocated 2$/m);
      assert.match(text, /^awscni_total_ip_addresses 18$/m);
      assert.match(text, /^awscni_assigned_ip_addresses 1$/m);
      assert.match(text, /^awscni_eni_max 3$/m);
      assert.match(text, /^awscni_add_ip_req_count 1$/m);
      assert.match(text, /^awscni_ec2api_req_count\{fn="CreateNetworkInterface"\} 1$/m);
      assert.match(
        text,
        /^awscni_aws_api_latency_ms_count\{api="AttachNetworkInterface",error="false",status="200"\} 1$/m,
      );
      assert.match(text, /^awscni_reconcile_count\{fn="eniReconcile"\} 1$/m);
      assert.match(text, /^awscni_assigned_ip_per_cidr\{cidr="10\.0\.\d+\.\d+\/32"\} 1$/m);
      const eniIds = d.ds.enis().map((e) => e.eniId);
      const perEni = [...text.matchAll(/^awscni_assigned_ip_per_eni\{eni="(eni-\w+)"\} (\d+)$/gm)];
      assert.deepEqual(perEni.map((m) => m[1]).sort(), [...eniIds].sort());
      assert.equal(perEni.reduce((n, m) => n + Number(m[2]), 0), 1);
      assert.match(
        text,
        /^awscni_ipamd_startup_duration_seconds_count\{failure_reason="",success="true",with_api_server="true"\} 1$/m,
      );
      assert.match(
        text,
        /^awscni_ipamd_node_initialization_duration_seconds_bucket\{success="true",le="\+Inf"\} 1$/m,
      );
      assert.match(text, /^awscni_connmark_backend\{backend="(iptables|nftables)"\} 1$/m);
      assert.match(text, /^awscni_connmark_reconcile_total\{result="success"\} 1$/m);
      const base = `http://127.0.0.1:${d.introspectionAddr!.port}`;
      const get = async (p: string) => {
        const r = await fetch(base + p);
        assert.equal(r.status, 200, p);
        return r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
      };
      const enis = await get("/v1/enis");
      assert.equal(enis.TotalIPs, 18);
      assert.equal(enis.AssignedIPs, 1);
      assert.equal(Object.keys(enis.ENIs).length, 2);
      const pods = await get("/v1/pods");
      assert.equal(
        pods["ns1_p1_c1"].eniId,
        Object.values(enis.ENIs as Record<string, { DeviceNumber: number; ID: string }>).find((e) =>
          e.DeviceNumber === 0
        )!.ID,
      );
      assert.deepEqual(await get("/v1/eni-configs"), {});
      assert.equal((await get("/v1/ipamd-env-settings")).WARM_ENI_TARGET, "1");
      assert.equal((await get("/v1/networkutils-env-settings")).AWS_VPC_K8S_CNI_VETHPREFIX, "eni");
      assert.equal(await get("/healthz"), "ok\n");
      assert.equal((await fetch(base + "/nope")).status, 404);
      // The same data on the socket.
      assert.deepEqual(
        Object.keys((await node.call("/v1/enis")).body.ENIs).sort(),
        Object.keys(enis.ENIs).sort(),
      );
      assert.ok((await node.call("/v1/pods")).body["ns1_p1_c1"]);
      // The log is JSON lines.
      const lines = (await Deno.readTextFile(`${node.dir}/ipamd.log`)).trim().split("\n");
      for (const l of lines) assert.ok(typeof JSON.parse(l).msg === "string");
    } finally {
      await node.close();
    }
  },
);

Deno.test(
  { name: "ipamd visibility: `ipamd status` prints the pool from the socket", ...rootOnly },
  async () => {
    const node = await TestNode.create();
    try {
      await node.start();
      await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
      await node.call("/v1/add-network", {
        netName: "aws-cni",
        containerId: "abc123",
        ifName: "eth0",
        k8sPodNamespace: "default",
        k8sPodName: "web",
      });
      const run = async (...args: string[]) => {
        const o = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL("../src/ipamd/main.ts", import.meta.url).pathname, ...args],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return {
          code: o.code,
          out: new TextDecoder().decode(o.stdout),
          err: new TextDecoder().decode(o.stderr),
        };
      };
      const table = await run("status", "--socket", `${node.dir}/ipamd.sock`);
      assert.equal(table.code, 0, table.err);
      assert.match(table.out, /^DEV\s+ENI/m);
      assert.match(table.out, /IPs 18: free 17, assigned 1, cooling 0/);
      assert.match(table.out, /default\/web\s+10\.0\.\d+\.\d+/);
      const json = await run("status", "--socket", `${node.dir}/ipamd.sock`, "--json");
      assert.equal(JSON.parse(json.out).totals.assigned, 1);
      const none = await run("status", "--socket", `${node.dir}/missing.sock`);
      assert.equal(none.code, 1);
      assert.match(none.err, /missing\.sock/);
    } finally {
      await node.close();
    }
  },
);

Deno.test({
  name: "ipamd visibility: an IP whose pod is gone past the grace period is released",
  ...rootOnly,
}, async () => {
  const node = await TestNode.create();
  try {
    node.kubeStore.createPod({ namespace: "default", name: "alive", nodeName: node.nodeName });
    node.kubeStore.createPod({ namespace: "default", name: "doomed", nodeName: node.nodeName });
    await node.start({ POD_LEAK_GRACE_PERIOD: "1" });
    await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
    const add = (c: string, name?: string) =>
      node.call("/v1/add-network", {
        netName: "aws-cni",
        containerId: c,
        ifName: "eth0",
        ...(name ? { k8sPodNamespace: "default", k8sPodName: name } : {}),
      });
    assert.equal((await add("c-alive", "alive")).status, 200);
    assert.equal((await add("c-doomed", "doomed")).status, 200);
    assert.equal((await add("c-anon")).status, 200); // no pod identity: left alone
    node.kubeStore.deletePod("default", "doomed");
    await node.until(
      "leak released",
      async () =>
        !(await node.call("/v1/check-network", {
          netName: "aws-cni",
          containerId: "c-doomed",
          ifName: "eth0",
        })).body.held,
      8_000,
    );
    assert.equal(
      (await node.call("/v1/check-network", { netName: "aws-cni", containerId: "c-alive", ifName: "eth0" }))
        .body.held,
      true,
    );
    assert.equal(
      (await node.call("/v1/check-network", { netName: "aws-cni", containerId: "c-anon", ifName: "eth0" }))
        .body.held,
      true,
    );
    const ids = async () =>
      JSON.parse(await Deno.readTextFile(`${node.dir}/ipam.json`)).allocations
        .map((a: { containerID: string }) => a.containerID).sort().join(",");
    await node.until("checkpoint without the leaked IP", async () => (await ids()) === "c-alive,c-anon");
  } finally {
    await node.close();
  }
});
