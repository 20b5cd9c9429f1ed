/**
 * aws-cni executed as a runtime does (env vars + stdin, a subprocess entered into a "node" namespace),
 * against the fake ipamd on a unix socket, with real kernel namespaces and real libnl. Root only.
 * @module
 */
import assert from "node:assert/strict";
import { run, TestNetns } from "../harness/netns.ts";
import {
  assertErr,
  assertHostVethSysctls,
  assertOk,
  type Call,
  expectedVeth,
  Lab,
  MAIN,
  nl,
  PERMS,
  type PluginOut,
  VERSIONS,
  withLab,
} from "./helpers/plugin_node.ts";
import { rootOnly } from "./helpers/root.ts";
import { CniError as LibcniError, libcni } from "../harness/libcni.ts";
import { ensureCniPlugins } from "../src/sim/cni_plugins.ts";

/** Everything on the node that mentions `ip` or the veth. */
function hostState(node: TestNetns, ip: string, veth: string) {
  return nl(node, (n) => ({
    link: n.findLink(veth),
    routes: n.routeList({ table: 0 }).filter((r) => r.dst === `${ip}/32`),
    rules: n.ruleList().filter((r) => r.src === `${ip}/32` || r.dst === `${ip}/32`)
      .map((r) => ({ priority: r.priority, src: r.src, dst: r.dst, table: r.table })),
  }));
}

function assertHostClean(node: TestNetns, ip: string, veth: string): void {
  assert.deepEqual(hostState(node, ip, veth), { link: undefined, routes: [], rules: [] });
}

/** Verifies the pod and host wiring of a successful ADD result. */
function assertWired(
  lab: Lab,
  pod: TestNetns,
  res: PluginOut,
  ip: string,
  table: number,
  vethKey: string,
) {
  const veth = expectedVeth(vethKey);
  const hostMac = res.json.interfaces[0].mac;
  assert.equal(res.json.interfaces[0].name, veth);
  const host = nl(lab.node, (n) => ({ link: n.findLink(veth) }));
  assert.ok(host.link, `host veth ${veth} missing`);
  assert.equal(host.link.kind, "veth");
  assert.equal(host.link.mac, hostMac);
  assert.equal(parseInt(hostMac.slice(0, 2), 16) & 0x03, 0x02, "locally administered unicast MAC");
  assert.ok(host.link.up);
  assert.equal(host.link.mtu, 9001);
  const hs = hostState(lab.node, ip, veth);
  assert.deepEqual(hs.routes.map((r) => [r.table, r.ifindex, r.scope]), [[254, host.link.index, "link"]]);
  const want: { priority: number; src?: string; dst?: string; table: number }[] = [
    { priority: 512, src: undefined, dst: `${ip}/32`, table: 254 },
  ];
  if (table !== 254) want.push({ priority: 1536, src: `${ip}/32`, dst: undefined, table });
  assert.deepEqual(hs.rules.sort((a, b) => a.priority - b.priority), want);
  assertHostVethSysctls(lab.node, veth);
  nl(pod, (n) => {
    const eth0 = n.linkByName("eth0");
    assert.ok(eth0.up);
    assert.equal(eth0.mac, res.json.interfaces[1].mac);
    assert.equal(res.json.interfaces[1].sandbox, pod.path);
    assert.ok(n.linkByName("lo").up);
    assert.deepEqual(n.addrList(eth0.index).map((a) => `${a.address}/${a.prefixLen}`), [`${ip}/32`]);
    const routes = n.routeList().map((r) => ({ dst: r.dst, gw: r.gateway, dev: r.ifindex, scope: r.scope }));
    assert.deepEqual(routes.sort((a, b) => a.dst.localeCompare(b.dst)), [
      { dst: "169.254.1.1/32", gw: undefined, dev: eth0.index, scope: "link" },
      { dst: "default", gw: "169.254.1.1", dev: eth0.index, scope: "universe" },
    ]);
    const neigh = n.neighList(eth0.index).filter((x) => x.ip === "169.254.1.1");
    assert.equal(neigh.length, 1);
    assert.equal(neigh[0].mac, hostMac);
    assert.ok(neigh[0].state & 0x80, "permanent");
  });
}

Deno.test({
  name: "ADD wires pod and host; pods reach the node and each other; CHECK; DEL cleans and is idempotent",
  ...rootOnly,
  fn: () =>
    withLab([{ ipv4: "10.0.16.7", routeTable: 3 }, "10.0.0.11"], async (lab) => {
      const a = await lab.pod();
      const b = await lab.pod();
      const ra = await lab.plugin("ADD", { pod: a, containerId: `a-${lab.id}` });
      assertOk(ra, "ADD a");
      const rb = await lab.plugin("ADD", {
        pod: b,
        containerId: `b-${lab.id}`,
        args:
          `K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=b-${lab.id};IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=x`,
      });
      assertOk(rb, "ADD b");
      assertWired(lab, a, ra, "10.0.16.7", 3, `default.web-${lab.id}`);
      assertWired(lab, b, rb, "10.0.0.11", 254, `kube-system.b-${lab.id}`);
      assert.deepEqual(lab.fake.callsTo("/v1/add-network")[0].body, {
        netName: "aws-cni",
        containerId: `a-${lab.id}`,
        ifName: "eth0",
        netns: a.path,
        k8sPodNamespace: "default",
        k8sPodName: `web-${lab.id}`,
        k8sPodUid: "u1",
      });

      // traffic: pod → node, pod → pod (both directions through the node)
      for (const [p, dst] of [[a, "10.0.0.5"], [a, "10.0.0.11"], [b, "10.0.16.7"]] as const) {
        const ping = await p.exec(["busybox", "ping", "-c", "1", "-W", "2", dst]);
        assert.equal(ping.code, 0, `ping ${dst} from ${p.name}: ${ping.stdout}${ping.stderr}`);
      }

      // CHECK passes, then fails naming the rule deleted by hand, and the pod's missing address
      const check = (c: Record<string, unknown>) =>
        lab.plugin("CHECK", {
          pod: a,
          containerId: `a-${lab.id}`,
          conf: lab.conf("1.0.0", { prevResult: c }),
        });
      assertOk(await check(ra.json), "CHECK");
      await lab.node.execOk(["ip", "rule", "del", "pref", "1536", "from", "10.0.16.7", "lookup", "3"]);
      assertErr(await check(ra.json), 105, /1536.*10\.0\.16\.7.*lookup 3/);
      await lab.node.execOk(["ip", "rule", "add", "pref", "1536", "from", "10.0.16.7", "lookup", "3"]);
      assertOk(await check(ra.json), "CHECK after repair");
      await a.execOk(["ip", "addr", "del", "10.0.16.7/32", "dev", "eth0"]);
      assertErr(await check(ra.json), 105, /pod address 10\.0\.16\.7\/32 is missing/);

      // DEL a with prevResult; again; with empty CNI_NETNS and no prevResult; after the netns is gone
      const vethA = ra.json.interfaces[0].name;
      const delA = (c: Call) => lab.plugin("DEL", { containerId: `a-${lab.id}`, ...c });
      assertOk(await delA({ pod: a, conf: lab.conf("1.0.0", { prevResult: ra.json }) }), "DEL a");
      assertHostClean(lab.node, "10.0.16.7", vethA);
      assert.equal(nl(a, (n) => n.findLink("eth0")), undefined);
      assert.equal(lab.fake.held.size, 1);
      assert.deepEqual(lab.fake.callsTo("/v1/del-network").at(-1)?.body, {
        netName: "aws-cni",
        containerId: `a-${lab.id}`,
        ifName: "eth0",
      });
      assertOk(await delA({ pod: a, conf: lab.conf("1.0.0", { prevResult: ra.json }) }), "DEL a again");
      assertOk(await delA({ netns: "" }), "DEL a, no netns, no prevResult");
      await a.delete();
      assertOk(await delA({ netns: a.path }), "DEL a, netns gone");

      // b: netns deleted first (the veth pair goes with it), then DEL without prevResult
      const vethB = rb.json.interfaces[0].name;
      await b.delete();
      assertOk(await lab.plugin("DEL", { netns: b.path, containerId: `b-${lab.id}` }), "DEL b");
      assertHostClean(lab.node, "10.0.0.11", vethB);
      assert.equal(lab.fake.held.size, 0);
    }),
});

Deno.test({
  name: "ipamd down: DEL tears the host side down from prevResult and succeeds; STATUS 50; ADD 11",
  ...rootOnly,
  fn: () =>
    withLab([{ ipv4: "10.0.16.9", routeTable: 2 }, { ipv4: "10.0.16.10", routeTable: 2 }], async (lab) => {
      const conf11 = lab.conf("1.1.0");
      assertOk(await lab.plugin("STATUS", { conf: conf11 }), "STATUS up");
      lab.fake.ready = false;
      assertErr(await lab.plugin("STATUS", { conf: conf11 }), 50, /not available/);
      lab.fake.ready = true;
      const p = await lab.pod();
      const r = await lab.plugin("ADD", { pod: p });
      assertOk(r, "ADD");
      const q = await lab.pod();
      const qArgs = { pod: q, containerId: "q", args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=q" };
      const rq = await lab.plugin("ADD", qArgs);
      assertOk(rq, "ADD q");
      await lab.fake.stop();
      assertErr(await lab.plugin("STATUS", { conf: conf11 }), 50, /unreachable/);
      const p2 = await lab.pod();
      const add2 = await lab.plugin("ADD", { pod: p2, containerId: "other" });
      assertErr(add2, 11, /ipamd is unreachable/);
      assert.equal(nl(p2, (n) => n.findLink("eth0")), undefined);
      assertOk(await lab.plugin("DEL", { pod: p, conf: lab.conf("1.0.0", { prevResult: r.json }) }), "DEL");
      assertHostClean(lab.node, "10.0.16.9", r.json.interfaces[0].name);
      // no prevResult either: the veth comes from CNI_ARGS, the IP from the veth's host route
      assertOk(await lab.plugin("DEL", qArgs), "DEL q without prevResult");
      assertHostClean(lab.node, "10.0.16.10", rq.json.interfaces[0].name);
    }),
});

Deno.test({
  name: "ADD failing midway leaves nothing behind and releases the IP",
  ...rootOnly,
  fn: () =>
    withLab([{ ipv4: "10.0.16.20", routeTable: 3 }], async (lab) => {
      const veth = expectedVeth(`default.web-${lab.id}`);
      const released = () => lab.fake.callsTo("/v1/del-network").length;

      // 1. a host link with the veth's name that is not ours
      await lab.node.execOk(["ip", "link", "add", veth, "type", "bridge"]);
      const p1 = await lab.pod();
      assertErr(await lab.plugin("ADD", { pod: p1 }), 104, new RegExp(veth));
      assert.equal(released(), 1);
      assert.equal(lab.fake.held.size, 0);
      assert.equal(nl(p1, (n) => n.findLink("eth0")), undefined);
      const s = hostState(lab.node, "10.0.16.20", veth);
      assert.equal(s.link?.kind, "bridge", "someone else's link is left alone");
      assert.deepEqual([s.routes, s.rules], [[], []]);
      await lab.node.execOk(["ip", "link", "del", veth]);

      // 2. the pod side fails after the veth exists (a conflicting route in the pod)
      await p1.execOk(["ip", "route", "add", "169.254.1.1/32", "dev", "lo"]);
      assertErr(await lab.plugin("ADD", { pod: p1 }), 104, /169\.254\.1\.1/);
      assert.equal(released(), 2);
      assertHostClean(lab.node, "10.0.16.20", veth);
      assert.equal(nl(p1, (n) => n.findLink("eth0")), undefined);

      // 3. the pod's netns disappears while ipamd is answering
      const p3 = await lab.pod();
      lab.fake.beforeReply = async (c) => {
        if (c.path === "/v1/add-network") await p3.delete();
      };
      assertErr(await lab.plugin("ADD", { pod: p3 }), 3, /netns/);
      lab.fake.beforeReply = undefined;
      assert.equal(released(), 3);
      assert.equal(lab.fake.held.size, 0);
      assertHostClean(lab.node, "10.0.16.20", veth);

      // 4. ipamd refuses: its message verbatim, reason in details, nothing to release
      lab.fake.failNext.set("/v1/add-network", {
        status: 409,
        reason: "subnet_exhausted",
        message: "subnet subnet-1 has no free addresses",
        retryable: false,
      });
      const p4 = await lab.pod();
      const r4 = await lab.plugin("ADD", { pod: p4 });
      assertErr(r4, 102, /^subnet subnet-1 has no free addresses$/);
      assert.match(r4.json.details, /subnet_exhausted/);
      assert.equal(released(), 3);

      // 5. DEL where ipamd fails for real: the host side still goes, the error tells the runtime to retry
      const p5 = await lab.pod();
      const r5 = await lab.plugin("ADD", { pod: p5 });
      assertOk(r5, "ADD p5");
      lab.fake.failNext.set("/v1/del-network", {
        status: 500,
        reason: "internal",
        message: "checkpoint write failed: disk full",
        retryable: false,
      });
      const d5 = await lab.plugin("DEL", { pod: p5, conf: lab.conf("1.0.0", { prevResult: r5.json }) });
      assertErr(d5, 102, /^checkpoint write failed: disk full$/);
      assertHostClean(lab.node, "10.0.16.20", veth);
      assert.equal(lab.fake.held.size, 1);
      assertOk(
        await lab.plugin("DEL", { pod: p5, conf: lab.conf("1.0.0", { prevResult: r5.json }) }),
        "DEL retry",
      );
      assert.equal(lab.fake.held.size, 0);
    }),
});

Deno.test({
  name: "a repeated ADD for an existing interface errors and leaves the pod wired",
  ...rootOnly,
  fn: () =>
    withLab(["10.0.0.30", "10.0.0.31"], async (lab) => {
      const p = await lab.pod();
      const r = await lab.plugin("ADD", { pod: p });
      assertOk(r, "ADD");
      const again = await lab.plugin("ADD", { pod: p });
      assertErr(again, 101, /eth0 already exists/);
      assert.equal(lab.fake.callsTo("/v1/add-network").length, 1, "ipamd not asked");
      assert.equal(lab.fake.callsTo("/v1/del-network").length, 0, "nothing released");
      assertWired(lab, p, r, "10.0.0.30", 254, `default.web-${lab.id}`);
    }),
});

Deno.test({
  name: "every supported cniVersion yields a correctly shaped result",
  ...rootOnly,
  fn: () =>
    withLab(["10.0.0.40"], async (lab) => {
      for (const v of VERSIONS) {
        const p = await lab.pod();
        const r = await lab.plugin("ADD", { pod: p, conf: lab.conf(v) });
        assertOk(r, `ADD ${v}`);
        const j = r.json;
        assert.equal(j.cniVersion, v);
        assert.deepEqual(Object.keys(j).sort(), ["cniVersion", "dns", "interfaces", "ips", "routes"]);
        assert.equal(j.interfaces.length, 2);
        assert.match(j.interfaces[0].mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        assert.match(j.interfaces[1].mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        assert.equal(j.interfaces[1].sandbox, p.path);
        const ip = { address: "10.0.0.40/32", gateway: "169.254.1.1", interface: 1 } as Record<
          string,
          unknown
        >;
        if (v.startsWith("0.")) ip.version = "4";
        assert.deepEqual(j.ips, [ip]);
        assert.deepEqual(j.routes, [{ dst: "0.0.0.0/0", gw: "169.254.1.1" }]);
        assert.equal(j.interfaces[1].mtu, v === "1.1.0" ? 9001 : undefined);
        if (v !== "0.3.0" && v !== "0.3.1") {
          assertOk(await lab.plugin("CHECK", { pod: p, conf: lab.conf(v, { prevResult: j }) }), `CHECK ${v}`);
        } else {
          assertErr(await lab.plugin("CHECK", { pod: p, conf: lab.conf(v, { prevResult: j }) }), 1);
        }
        assertOk(await lab.plugin("DEL", { pod: p, conf: lab.conf(v, { prevResult: j }) }), `DEL ${v}`);
        assertHostClean(lab.node, "10.0.0.40", j.interfaces[0].name);
      }
    }),
});

Deno.test({
  name: "GC releases what is not in valid-attachments (both spellings) and removes its host side",
  ...rootOnly,
  fn: () =>
    withLab(["10.0.0.50", { ipv4: "10.0.16.51", routeTable: 3 }], async (lab) => {
      const a = await lab.pod();
      const b = await lab.pod();
      const ra = await lab.plugin("ADD", { pod: a, containerId: "keep", args: "K8S_POD_NAME=keep" });
      const rb = await lab.plugin("ADD", { pod: b, containerId: "drop", args: "K8S_POD_NAME=drop" });
      assertOk(ra, "ADD a");
      assertOk(rb, "ADD b");
      const valid = [{ containerID: "keep", ifname: "eth0" }];
      assertOk(
        await lab.plugin("GC", { conf: lab.conf("1.1.0", { "cni.dev/attachments": valid }) }),
        "GC old",
      );
      assert.deepEqual(lab.fake.callsTo("/v1/gc")[0].body, {
        netName: "aws-cni",
        valid: [{ containerId: "keep", ifName: "eth0" }],
      });
      assertHostClean(lab.node, "10.0.16.51", rb.json.interfaces[0].name);
      assert.equal(nl(b, (n) => n.findLink("eth0")), undefined);
      assertWired(lab, a, ra, "10.0.0.50", 254, "keep");
      assertOk(
        await lab.plugin("GC", { conf: lab.conf("1.1.0", { "cni.dev/valid-attachments": valid }) }),
        "GC new",
      );
      assert.equal(lab.fake.held.size, 1);
      assertErr(await lab.plugin("GC", { conf: lab.conf("1.0.0") }), 1, /GC/);
    }),
});

Deno.test({
  name: "podman-style CNI_ARGS (only K8S_POD_NAME): veth from the container ID, ipamd told the name",
  ...rootOnly,
  fn: () =>
    withLab(["10.0.0.60"], async (lab) => {
      const p = await lab.pod();
      const r = await lab.plugin("ADD", {
        pod: p,
        containerId: `podman${lab.id}`,
        args: `IgnoreUnknown=1;K8S_POD_NAME=solo`,
        conf: lab.conf("0.4.0", { vethPrefix: "pdm", mtu: "1500" }),
      });
      assertOk(r, "ADD");
      const veth = expectedVeth(`podman${lab.id}`, "pdm");
      assert.equal(r.json.interfaces[0].name, veth);
      assert.equal(nl(lab.node, (n) => n.linkByName(veth).mtu), 1500);
      assert.equal(nl(p, (n) => n.linkByName("eth0").mtu), 1500);
      const body = lab.fake.callsTo("/v1/add-network")[0].body as Record<string, unknown>;
      assert.equal(body.k8sPodName, "solo");
      assert.equal("k8sPodNamespace" in body, false);
      assertOk(
        await lab.plugin("DEL", {
          pod: p,
          containerId: `podman${lab.id}`,
          args: "K8S_POD_NAME=solo",
          conf: lab.conf("0.4.0", { vethPrefix: "pdm" }),
        }),
        "DEL",
      );
      assertHostClean(lab.node, "10.0.0.60", veth);
    }),
});

Deno.test({
  name: "as a subprocess: VERSION, and error JSON on stdout for bad env and stdin",
  ...rootOnly,
  fn: () =>
    withLab([], async (lab) => {
      const v = await lab.plugin("VERSION", { conf: { cniVersion: "0.4.0" } });
      assertOk(v, "VERSION");
      assert.deepEqual(v.json, { cniVersion: "0.4.0", supportedVersions: VERSIONS });
      assertErr(await lab.plugin("ADD", { netns: "" }), 4, /CNI_NETNS/);
      assertErr(await lab.plugin("ADD", { netns: "/x", ifName: "bad/name" }), 4, /CNI_IFNAME/);
      assertErr(
        await lab.plugin("DEL", { conf: { cniVersion: "1.0.0", name: "aws-cni", mtu: 12 } }),
        7,
        /mtu/,
      );
      const r = await run([Deno.execPath(), "run", ...PERMS, MAIN], {
        stdin: "not json",
        env: {
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: "c",
          CNI_NETNS: "/x",
          CNI_IFNAME: "eth0",
          CNI_PATH: "/x",
          HOME: Deno.env.get("HOME") ?? "/root",
        },
      });
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stdout).code, 6);
      assert.equal(r.stderr, "");
    }),
});

Deno.test({
  name: "parallel ADDs and DELs on one node (as containerd runs them) all succeed and clean up",
  ...rootOnly,
  fn: () => {
    const n = 8;
    const ips = Array.from(
      { length: n },
      (_, i) => ({ ipv4: `10.0.16.${100 + i}`, routeTable: 2 + (i % 3) }),
    );
    return withLab(ips, async (lab) => {
      const pods = await Promise.all(Array.from({ length: n }, () => lab.pod()));
      const call = (i: number) => ({
        pod: pods[i],
        containerId: `par${i}-${lab.id}`,
        args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=par;K8S_POD_NAME=p${i}-${lab.id}`,
      });
      const adds = await Promise.all(pods.map((_, i) => lab.plugin("ADD", call(i))));
      adds.forEach((r, i) => assertOk(r, `ADD ${i}`));
      const got = adds.map((r) => r.json.ips[0].address).sort();
      assert.deepEqual(got, ips.map((x) => `${x.ipv4}/32`).sort());
      for (let i = 0; i < n; i++) {
        const ip = adds[i].json.ips[0].address.split("/")[0];
        const table = ips.find((x) => x.ipv4 === ip)!.routeTable;
        assertWired(lab, pods[i], adds[i], ip, table, `par.p${i}-${lab.id}`);
      }
      const dels = await Promise.all(
        pods.map((_, i) =>
          lab.plugin("DEL", { ...call(i), conf: lab.conf("1.0.0", { prevResult: adds[i].json }) })
        ),
      );
      dels.forEach((r, i) => assertOk(r, `DEL ${i}`));
      for (const r of adds) {
        assertHostClean(lab.node, r.json.ips[0].address.split("/")[0], r.json.interfaces[0].name);
      }
      assert.equal(lab.fake.held.size, 0);
    });
  },
});

Deno.test({
  name: "through real libcni (Go): ADD/CHECK/DEL per version chained with portmap; STATUS and GC by libcni",
  ...rootOnly,
  fn: () =>
    withLab(["10.0.0.70", "10.0.0.71"], async (lab) => {
      const bin = `${lab.dir}/bin`;
      Deno.mkdirSync(bin);
      Deno.writeTextFileSync(
        `${bin}/aws-cni`,
        `#!/bin/sh\nexec "${Deno.execPath()}" run ${PERMS.join(" ")} "${MAIN}"\n`,
        {
          mode: 0o755,
        },
      );
      const binDir = [bin, (await ensureCniPlugins()).dir];
      const plugin = { ...lab.conf(), cniVersion: undefined, name: undefined };
      const chain = [plugin, { type: "portmap", capabilities: { portMappings: true }, snat: true }];
      const listAt = (v: string) => {
        const conflist = `${lab.dir}/${v}.conflist`;
        Deno.writeTextFileSync(conflist, JSON.stringify({ cniVersion: v, name: "aws-cni", plugins: chain }));
        return conflist;
      };
      for (const v of ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
        const p = await lab.pod();
        const opts = {
          conflist: listAt(v),
          binDir,
          netns: p.path,
          containerId: `lc${v.replaceAll(".", "")}-${lab.id}`,
          args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "lc", K8S_POD_NAME: `p${v}` },
          cacheDir: `${lab.dir}/cache`,
          inNetns: lab.node.path,
          portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: "tcp" as const }],
        };
        // deno-lint-ignore no-explicit-any
        const r = await libcni<any>("add", opts);
        assert.equal(r.cniVersion, v);
        assert.equal(r.ips[0].address, "10.0.0.70/32");
        assert.equal(r.interfaces[0].name, expectedVeth(`lc.p${v}`));
        if (v !== "0.3.1") await libcni("check", opts); // the whole chain, portmap included
        await libcni("del", opts);
        await libcni("del", opts);
        assertHostClean(lab.node, "10.0.0.70", r.interfaces[0].name);
        assert.equal(lab.fake.held.size, 0);
      }
      // STATUS and GC: libcni's GetStatusNetworkList and GCNetworkList (spec 1.1.0) on the chain.
      const base = {
        conflist: listAt("1.1.0"),
        binDir,
        cacheDir: `${lab.dir}/cache`,
        inNetns: lab.node.path,
      };
      await libcni("status", base);
      lab.fake.ready = false;
      await assert.rejects(libcni("status", base), (e: unknown) => {
        assert.ok(e instanceof LibcniError, String(e));
        assert.equal(e.code, 50);
        return true;
      });
      lab.fake.ready = true;
      const p = await lab.pod();
      const add = await lab.plugin("ADD", { pod: p, containerId: "stale", conf: lab.conf("1.1.0") });
      assertOk(add, "ADD stale");
      await libcni("gc", { ...base, validAttachments: [] });
      assert.equal(lab.fake.held.size, 0);
      assertHostClean(lab.node, add.json.ips[0].address.split("/")[0], add.json.interfaces[0].name);
    }),
});

Deno.test({
  name: "a stale DEL leaves the pod that now has the IP wired; CHECK notices ipamd no longer holds it",
  ...rootOnly,
  fn: () =>
    withLab([{ ipv4: "10.0.16.80", routeTable: 4 }], async (lab) => {
      const a = await lab.pod();
      const b = await lab.pod();
      const callA = { pod: a, containerId: "a", args: "K8S_POD_NAMESPACE=x;K8S_POD_NAME=a" };
      const callB = { pod: b, containerId: "b", args: "K8S_POD_NAMESPACE=x;K8S_POD_NAME=b" };
      const ra = await lab.plugin("ADD", callA);
      assertOk(ra, "ADD a");
      // ipamd forgets a (e.g. reconciled away): CHECK must say so
      lab.fake.held.clear();
      assertErr(
        await lab.plugin("CHECK", { ...callA, conf: lab.conf("1.0.0", { prevResult: ra.json }) }),
        105,
        /ipamd does not hold/,
      );
      // the host side of a goes (as after a node-side cleanup), b gets the same IP
      await lab.node.execOk(["ip", "link", "del", ra.json.interfaces[0].name]);
      const rb = await lab.plugin("ADD", callB);
      assertOk(rb, "ADD b");
      assert.equal(rb.json.ips[0].address, "10.0.16.80/32");
      // the runtime's late DEL for a, with a's prevResult
      assertOk(
        await lab.plugin("DEL", { ...callA, conf: lab.conf("1.0.0", { prevResult: ra.json }) }),
        "DEL a",
      );
      assertWired(lab, b, rb, "10.0.16.80", 4, "x.b");
      assertOk(
        await lab.plugin("CHECK", { ...callB, conf: lab.conf("1.0.0", { prevResult: rb.json }) }),
        "CHECK b",
      );
    }),
});
