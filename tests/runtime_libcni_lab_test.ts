/**
 * aws-cni proven by a real runtime library: the Go libcni driver (libcni v1.3, spec 1.1.0) runs the lab node's
 * own conflist (`aws-cni` → `portmap` v1.10.0) against the node's real ipamd, at 0.3.1, 0.4.0, 1.0.0 and 1.1.0.
 * A host port reaches a listener in the pod from another node and from the internet; CHECK passes on the whole
 * chain; after DEL nothing is left (veth, rules 512/1536, host route, portmap's iptables rules, ipamd's
 * assignment, libcni's cache). Then spec 1.1.0's own verbs, each one libcni call: GetVersionInfo,
 * GetStatusNetworkList (ready, and 50 with ipamd stopped) and GCNetworkList.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { CniError, libcni, sh } from "../harness/libcni.ts";
import { ipamdHeld, setIpamdRunning, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { attachmentLeftovers as leftovers, LabPods, mentions } from "./helpers/libcni_lab.ts";
import { podServer, tcpFetch } from "./helpers/pod_tcp.ts";

// deno-lint-ignore no-explicit-any -- CNI results and ipamd answers are JSON, checked field by field
type Json = any;

const VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"];

Deno.test({
  name:
    "aws-cni → portmap through libcni on a lab node: ADD/CHECK/DEL at 0.3.1–1.1.0, a host port, nothing left",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 2, latency: "none" }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vct-rtl-" });
      const pods = new LabPods(lab, `${dir}/cache`);
      try {
        await waitIpamdReady(lab, 0);
        const node0 = lab.status.nodes[0];
        const conflist = JSON.parse(await Deno.readTextFile(`${node0.cniConfDir}/10-aws.conflist`));
        assert.deepEqual(conflist.plugins.map((p: Json) => p.type), ["aws-cni", "portmap"]);

        for (const [i, v] of VERSIONS.entries()) {
          const hostPort = 18080 + i;
          const pod = await pods.make(`p${v.replaceAll(".", "")}`, {
            cniVersion: v,
            portMappings: [{ hostPort, containerPort: 8080, protocol: "tcp" }],
          });
          const cid = pod.opts.containerId!;
          const res = await libcni<Json>("add", pod.opts);
          assert.equal(res.cniVersion, v);
          const [addr] = res.ips;
          assert.match(addr.address, /^10\.0\.\d+\.\d+\/32$/, JSON.stringify(res));
          assert.equal(addr.gateway, "169.254.1.1");
          if (v.startsWith("0.")) assert.equal(addr.version, "4");
          if (v === "1.1.0") assert.equal(res.interfaces[1].mtu, 9001);
          const ip = addr.address.split("/")[0];
          const veth = res.interfaces[0].name;
          assert.match(veth, /^eni[0-9a-f]{11}$/);
          assert.equal(res.interfaces[1].name, "eth0");
          assert.match(res.interfaces[1].mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
          assert.equal(res.interfaces[1].sandbox, pod.opts.netns);
          assert.equal((await ipamdHeld(lab, 0)).get(cid), ip, "ipamd holds the IP for this container");
          const rules = await sh(["ip", "-n", node0.netns, "-4", "rule", "show"]);
          assert.ok(rules.split("\n").some((l) => l.startsWith("512:") && mentions(l, ip)), rules);
          const route = await sh(["ip", "-n", node0.netns, "-4", "route", "show", `${ip}/32`]);
          assert.match(route, new RegExp(`dev ${veth} `));

          // The host port from another node and from the internet namespace.
          const server = await podServer(pod.ns, 8080, `pod-${v}`);
          try {
            assert.equal((await tcpFetch(lab.names.nodeNs(1), node0.primaryIp, hostPort)).trim(), `pod-${v}`);
            assert.equal((await tcpFetch(lab.names.inetNs, node0.primaryIp, hostPort)).trim(), `pod-${v}`);
          } finally {
            await server.stop();
          }

          if (v === "0.3.1") {
            const err = await libcni("check", pod.opts).catch((e) => e);
            assert.ok(err instanceof CniError, `libcni refuses CHECK before 0.4.0: ${err}`);
            assert.match(err.message, /does not support the CHECK command/);
          } else {
            await libcni("check", pod.opts); // the whole chain, portmap ≥ 1.2 included (plugins#819 fixed)
          }

          await libcni("del", pod.opts);
          assert.deepEqual(
            await leftovers(lab, 0, {
              ip,
              veth,
              containerId: cid,
              hostPort,
              pod: pod.ns,
              cacheDir: pods.cacheDir,
            }),
            [],
            `after DEL at ${v}`,
          );
          await libcni("del", pod.opts); // DEL again: already gone is success
          await assert.rejects(tcpFetch(lab.names.nodeNs(1), node0.primaryIp, hostPort), "host port closed");
        }
      } finally {
        await pods.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "spec 1.1.0 through libcni on a lab node: GetVersionInfo, STATUS (ready; 50 with ipamd down), GC",
  ...rootOnly,
  fn: async () => {
    await withLab({ nodes: 1, latency: "none" }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vct-rtl-" });
      const pods = new LabPods(lab, `${dir}/cache`);
      try {
        await waitIpamdReady(lab, 0);
        const node0 = lab.status.nodes[0];
        // The node's conflist (aws-cni → portmap) at 1.1.0: libcni sends STATUS and GC only from 1.1.0 on.
        const conflist = JSON.parse(await Deno.readTextFile(`${node0.cniConfDir}/10-aws.conflist`));
        const list110 = `${dir}/10-aws-110.conflist`;
        await Deno.writeTextFile(list110, JSON.stringify({ ...conflist, cniVersion: "1.1.0" }));
        const base = {
          conflist: list110,
          binDir: node0.cniBinDir,
          inNetns: node0.netns,
          cacheDir: pods.cacheDir,
        };

        const v = await libcni<{ plugins: Record<string, string[]> }>("version", base);
        for (const t of ["aws-cni", "portmap"]) assert.ok(v.plugins[t].includes("1.1.0"), JSON.stringify(v));
        await libcni("status", base);

        // Three pods through libcni (in its cache), one more that only ipamd knows: its runtime used another
        // cache, as after a runtime's state was lost.
        const made = [];
        for (const name of ["gc-a", "gc-b", "gc-c"]) {
          const p = await pods.make(name, { conflist: list110 });
          made.push({ p, res: await libcni<Json>("add", p.opts) });
        }
        const lost = await pods.make("gc-lost", { conflist: list110, cacheDir: `${dir}/other-cache` });
        const lostRes = await libcni<Json>("add", lost.opts);
        assert.equal((await ipamdHeld(lab, 0)).size, 4);

        // GC with only gc-a valid: libcni DELs gc-b and gc-c from its cache, and aws-cni's GC has ipamd release
        // the lost one; gc-a keeps its IP and stays wired.
        const [a] = made;
        const ipOf = (r: Json) => r.ips[0].address.split("/")[0];
        await libcni("gc", {
          ...base,
          validAttachments: [{ containerID: a.p.opts.containerId!, ifname: "eth0" }],
        });
        assert.deepEqual([...(await ipamdHeld(lab, 0)).entries()], [[a.p.opts.containerId, ipOf(a.res)]]);
        for (const { p, res } of [...made.slice(1), { p: lost, res: lostRes }]) {
          const left = await leftovers(lab, 0, {
            ip: ipOf(res),
            veth: res.interfaces[0].name,
            containerId: p.opts.containerId!,
            pod: p.ns,
            cacheDir: pods.cacheDir,
          });
          assert.deepEqual(left, [], `GC left ${p.opts.containerId}`);
        }
        await libcni("check", a.p.opts);

        // ipamd down: STATUS answers 50, ADD 11 (try again later), and both recover when it is back.
        await setIpamdRunning(lab, 0, false);
        const down = await libcni("status", base).catch((e) => e);
        assert.ok(down instanceof CniError && down.code === 50, String(down));
        const late = await pods.make("late", { conflist: list110 });
        const addErr = await libcni("add", late.opts).catch((e) => e);
        assert.ok(addErr instanceof CniError && addErr.code === 11, String(addErr));
        assert.match(addErr.msg, /ipamd is unreachable/);
        await setIpamdRunning(lab, 0, true);
        await libcni("status", base);
        const lateRes = await libcni<Json>("add", late.opts);

        for (const p of [a.p, late]) await libcni("del", p.opts);
        for (const [p, res] of [[a.p, a.res], [late, lateRes]] as const) {
          const left = await leftovers(lab, 0, {
            ip: ipOf(res),
            veth: res.interfaces[0].name,
            containerId: p.opts.containerId!,
            pod: p.ns,
            cacheDir: pods.cacheDir,
          });
          assert.deepEqual(left, []);
        }
        assert.equal((await ipamdHeld(lab, 0)).size, 0);
      } finally {
        await pods.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
