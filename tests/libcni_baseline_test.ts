/**
 * The CNI baseline through real libcni (the Go driver over Debian's libcni): Debian's `ptp` + `host-local`
 * with `portmap` chained, in a test "node" namespace, for every spec version libcni speaks. This proves the
 * driver and the harness before aws-cni is wired to them.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import {
  addNetns,
  CniError,
  delNetns,
  inNetns,
  libcni,
  type LibcniOptions,
  type PortMapping,
  randomSuffix,
  sh,
} from "./helpers/libcni.ts";
import { podServer, tcpFetch } from "./helpers/pod_tcp.ts";
import { cniPluginsDir, ensureCniPlugins } from "../src/sim/cni_plugins.ts";

const PLUGINS = cniPluginsDir();

interface CniResult {
  cniVersion: string;
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { address: string; gateway?: string; interface?: number; version?: string }[];
}

/** A node namespace, a private dir (conflist, IPAM data, libcni cache) and pod namespaces to clean up. */
class Node {
  readonly id = randomSuffix();
  readonly node = `vct-n${this.id}`;
  readonly net = `vct${this.id}`;
  readonly pods: string[] = [];
  dir = "";
  conflist = "";

  /** `portmap`: chain Debian's portmap after ptp. */
  constructor(readonly portmap = true) {}

  async up(): Promise<this> {
    this.dir = await Deno.makeTempDir({ prefix: "vct-libcni-" });
    this.conflist = `${this.dir}/net.conflist`;
    await Deno.writeTextFile(
      this.conflist,
      JSON.stringify({
        cniVersion: "1.0.0",
        name: this.net,
        plugins: [
          {
            type: "ptp",
            ipMasq: false,
            mtu: 1500,
            ipam: {
              type: "host-local",
              dataDir: `${this.dir}/ipam`,
              ranges: [[{ subnet: "10.99.0.0/24" }]],
              routes: [{ dst: "0.0.0.0/0" }],
            },
          },
          ...(this.portmap ? [{ type: "portmap", capabilities: { portMappings: true } }] : []),
        ],
      }),
    );
    await addNetns(this.node);
    return this;
  }

  async pod(): Promise<string> {
    const name = `vct-p${this.id}-${this.pods.length}`;
    this.pods.push(name);
    await addNetns(name);
    return name;
  }

  opts(pod: string, containerId: string, extra: LibcniOptions = {}): LibcniOptions {
    return {
      conflist: this.conflist,
      binDir: PLUGINS,
      netns: `/var/run/netns/${pod}`,
      containerId,
      ifName: "eth0",
      cacheDir: `${this.dir}/cache`,
      inNetns: this.node,
      ...extra,
    };
  }

  async down(): Promise<void> {
    for (const p of this.pods) await delNetns(p);
    await delNetns(this.node);
    if (this.dir) await Deno.remove(this.dir, { recursive: true });
  }

  /** Everything a pod attachment could leave behind in the node, the pod and the dirs. */
  async leftovers(pod: string, containerId: string, ip: string): Promise<string[]> {
    const left: string[] = [];
    const podLinks = (await sh(["ip", "-n", pod, "-o", "link", "show"])).trim().split("\n");
    if (podLinks.length !== 1) left.push(`pod links: ${podLinks.join(" | ")}`);
    const veths = (await sh(["ip", "-n", this.node, "-o", "link", "show", "type", "veth"])).trim().split("\n")
      .filter((l) => l && !l.includes(`vcn${this.id}`)); // the client link is the test's own
    if (veths.length) left.push(`node veths: ${veths.join(" | ")}`);
    const routes = await sh(["ip", "-n", this.node, "-4", "route", "show", "table", "all"]);
    if (routes.includes(ip)) left.push(`node route to ${ip}`);
    const addrs = await sh(["ip", "-n", this.node, "-4", "-o", "addr", "show"]);
    if (addrs.includes("10.99.0.")) left.push(`node address: ${addrs}`);
    const ipt = await inNetns(this.node, ["iptables-save"]);
    if (ipt.includes(`"${containerId}"`) || /CNI-DN-/.test(ipt)) left.push("portmap iptables rules");
    const ipam = ls(`${this.dir}/ipam/${this.net}`);
    if (ipam.includes(ip)) left.push(`host-local still holds ${ip}`);
    const cached = ls(`${this.dir}/cache/results`);
    if (cached.some((f) => f.includes(containerId))) left.push(`libcni cache: ${cached.join(",")}`);
    return left;
  }
}

function ls(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

async function withNode(fn: (n: Node) => Promise<void>, portmap = true): Promise<void> {
  await ensureCniPlugins();
  const n = new Node(portmap);
  try {
    await n.up();
    await fn(n);
  } finally {
    await n.down();
  }
}

const PORTS: PortMapping[] = [{ hostPort: 18080, containerPort: 8080, protocol: "tcp" }];

Deno.test({
  name: "libcni driver: version reports libcni and the spec versions it speaks; GC/STATUS degrade clearly",
  ...rootOnly,
  fn: async () => {
    await withNode(async (n) => {
      type V = {
        libcni: string;
        specVersion: string;
        supportedVersions: string[];
        plugins: Record<string, string[]>;
      };
      const v = await libcni<V>("version", { conflist: n.conflist });
      assert.match(v.libcni, /^\d+\.\d+\.\d+$/);
      assert.ok(v.supportedVersions.includes("0.4.0") && v.supportedVersions.includes(v.specVersion));
      assert.ok(v.plugins.ptp.includes("1.0.0"), JSON.stringify(v.plugins));
      assert.ok(v.plugins.portmap.includes("0.4.0"), JSON.stringify(v.plugins));
      if (v.libcni.localeCompare("1.2.0", undefined, { numeric: true }) >= 0) return;
      for (const verb of ["gc", "status"] as const) {
        const err = await libcni(verb, {}).catch((e) => e);
        assert.ok(err instanceof CniError && err.unsupported && err.exitCode === 3, String(err));
        assert.match(err.msg, /not supported by libcni/);
      }
    });
  },
});

Deno.test({
  name:
    "libcni driver: emulated GC/STATUS reach every plugin with spec 1.1.0's inputs; plugin errors come back",
  ...rootOnly,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vct-gc-" });
    try {
      // "rec" records its environment and stdin; "fail" answers a CNI error for STATUS.
      await Deno.writeTextFile(
        `${dir}/rec`,
        `#!/bin/sh\nenv | grep '^CNI_' > "${dir}/$CNI_COMMAND.env"\ncat > "${dir}/$CNI_COMMAND.stdin"\n`,
      );
      await Deno.writeTextFile(
        `${dir}/fail`,
        `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = STATUS ] || exit 0\n` +
          `echo '{"cniVersion":"1.1.0","code":50,"msg":"not ready","details":"no ipamd"}'\nexit 1\n`,
      );
      for (const f of ["rec", "fail"]) await Deno.chmod(`${dir}/${f}`, 0o755);
      const conflist = `${dir}/gc.conflist`;
      await Deno.writeTextFile(
        conflist,
        JSON.stringify({ cniVersion: "1.1.0", name: "gcnet", plugins: [{ type: "rec" }, { type: "fail" }] }),
      );
      const valid = [{ containerID: "c1", ifname: "eth0" }];
      const o = { conflist, binDir: dir, emulateGcStatus: true, validAttachments: valid };
      assert.deepEqual(await libcni("gc", o), {});
      const stdin = JSON.parse(await Deno.readTextFile(`${dir}/GC.stdin`));
      assert.deepEqual(stdin["cni.dev/valid-attachments"], valid);
      assert.equal(stdin.name, "gcnet");
      assert.equal(stdin.cniVersion, "1.1.0");
      assert.match(await Deno.readTextFile(`${dir}/GC.env`), /^CNI_COMMAND=GC$/m);

      const err = await libcni("status", o).catch((e) => e);
      assert.ok(err instanceof CniError, String(err));
      assert.equal(err.code, 50);
      assert.equal(err.msg, "not ready");
      assert.equal(err.details, "no ipamd");
      assert.match(await Deno.readTextFile(`${dir}/STATUS.env`), /^CNI_COMMAND=STATUS$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  // Without portmap: Debian's portmap 1.1.1 fails CHECK on IPv4-only pods ("could not check ipv6 dnat",
  // containernetworking/plugins#819); the port-mapping test below covers portmap's ADD/DEL.
  name: "libcni baseline: ptp + host-local ADD/CHECK/DEL for each spec version",
  ...rootOnly,
  fn: async (t) => {
    await withNode(async (n) => {
      for (const version of ["0.3.1", "0.4.0", "1.0.0"]) {
        await t.step(version, async () => {
          const pod = await n.pod();
          const id = `c-${version.replaceAll(".", "")}-${n.id}`;
          const o = n.opts(pod, id, {
            cniVersion: version,
            args: { IgnoreUnknown: "1", K8S_POD_NAME: "p" },
          });
          const res = await libcni<CniResult>("add", o);
          assert.equal(res.cniVersion, version);
          const eth0 = res.interfaces.findIndex((i) => i.sandbox === o.netns);
          assert.ok(eth0 >= 0 && res.interfaces[eth0].name === "eth0", JSON.stringify(res));
          const ip = res.ips[0].address.split("/")[0];
          assert.match(ip, /^10\.99\.0\.\d+$/);
          assert.equal(res.ips[0].interface, eth0);
          assert.match(
            await sh(["ip", "-n", pod, "-4", "-o", "addr", "show", "eth0"]),
            new RegExp(` ${ip}/24 `),
          );

          if (version === "0.3.1") {
            const err = await libcni("check", o).catch((e) => e);
            assert.ok(err instanceof CniError && /does not support the CHECK/.test(err.msg), String(err));
          } else {
            await libcni("check", o);
            // CHECK must notice a broken attachment.
            await sh(["ip", "-n", pod, "addr", "flush", "dev", "eth0"]);
            const err = await libcni("check", o).catch((e) => e);
            assert.ok(err instanceof CniError, `CHECK passed on a flushed eth0: ${err}`);
          }
          await libcni("del", o);
          assert.deepEqual(await n.leftovers(pod, id, ip), []);
          await libcni("del", o); // DEL of what is already gone succeeds
          await libcni("del", { ...o, netns: undefined }); // ...also without a netns
        });
      }
    }, false);
  },
});

Deno.test({
  name: "libcni baseline: cniVersion 1.1.0 follows what libcni and the plugins support",
  ...rootOnly,
  fn: async () => {
    const v = await libcni<{ supportedVersions: string[] }>("version", {});
    await withNode(async (n) => {
      const pod = await n.pod();
      const o = n.opts(pod, `c-110-${n.id}`, { cniVersion: "1.1.0" });
      if (v.supportedVersions.includes("1.1.0")) {
        const res = await libcni<CniResult>("add", o);
        assert.equal(res.cniVersion, "1.1.0");
        await libcni("del", o);
        return;
      }
      const err = await libcni("add", o).catch((e) => e);
      assert.ok(err instanceof CniError, String(err));
      assert.equal(err.code, 1, "incompatible CNI versions");
      assert.match(err.details ?? "", /1\.1\.0/);
      assert.deepEqual(await n.leftovers(pod, o.containerId!, "10.99.0.2"), []);
    });
  },
});

Deno.test({
  name: "libcni baseline: a port mapping reaches a TCP listener in the pod from another namespace",
  ...rootOnly,
  fn: async () => {
    await withNode(async (n) => {
      const client = `vct-c${n.id}`;
      n.pods.push(client); // cleaned up with the pods
      await addNetns(client);
      await sh(
        `ip -n ${n.node} link add vcn${n.id} type veth peer name vcc${n.id} netns ${client}`.split(" "),
      );
      await sh(["ip", "-n", n.node, "addr", "add", "172.31.250.1/24", "dev", `vcn${n.id}`]);
      await sh(["ip", "-n", n.node, "link", "set", `vcn${n.id}`, "up"]);
      await sh(["ip", "-n", client, "addr", "add", "172.31.250.2/24", "dev", `vcc${n.id}`]);
      await sh(["ip", "-n", client, "link", "set", `vcc${n.id}`, "up"]);
      await inNetns(n.node, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);

      const pod = await n.pod();
      const id = `c-pm-${n.id}`;
      const o = n.opts(pod, id, { portMappings: PORTS });
      const res = await libcni<CniResult>("add", o);
      const ip = res.ips[0].address.split("/")[0];
      const server = await podServer(pod, 8080, "pod-ok");
      try {
        assert.equal((await tcpFetch(client, "172.31.250.1", 18080, 10)).trim(), "pod-ok");
        await libcni("check", o); // portmap ≥ 1.2 checks IPv4-only pods (containernetworking/plugins#819)
      } finally {
        await server.stop();
      }
      await libcni("del", o); // with the same portMappings, as runtimes do: portmap needs them on DEL
      assert.deepEqual(await n.leftovers(pod, id, ip), []);
      // With the mapping gone the host port is closed.
      await assert.rejects(tcpFetch(client, "172.31.250.1", 18080, 10));
    });
  },
});
