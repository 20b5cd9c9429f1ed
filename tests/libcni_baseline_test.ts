/**
 * The CNI baseline through real libcni (the Go driver, libcni from its go.mod): the reference `ptp` +
 * `host-local` with `portmap` chained (containernetworking/plugins v1.10.0), in a test "node" namespace, for
 * every spec version up to 1.1.0, with libcni's own GC, STATUS and VERSION calls. This proves the
 * driver and the harness before aws-cni is wired to them.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import {
  addNetns,
  CniError,
  delNetns,
  DRIVER_DIR,
  inNetns,
  libcni,
  type LibcniOptions,
  type PortMapping,
  randomSuffix,
  sh,
} from "../harness/libcni.ts";
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
          { type: "portmap", capabilities: { portMappings: true } },
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

async function withNode(fn: (n: Node) => Promise<void>): Promise<void> {
  await ensureCniPlugins();
  const n = new Node();
  try {
    await n.up();
    await fn(n);
  } finally {
    await n.down();
  }
}

const PORTS: PortMapping[] = [{ hostPort: 18080, containerPort: 8080, protocol: "tcp" }];

/** The libcni version the driver's go.mod requires. */
const LIBCNI_VERSION = Deno.readTextFileSync(`${DRIVER_DIR}go.mod`)
  .match(/github\.com\/containernetworking\/cni v(\S+)/)![1];

Deno.test({
  name: "libcni driver: GetVersionInfo; libcni is go.mod's version and speaks spec 1.1.0, as do the plugins",
  ...rootOnly,
  fn: async () => {
    await withNode(async (n) => {
      type V = {
        libcni: string;
        specVersion: string;
        supportedVersions: string[];
        verbs: string[];
        plugins: Record<string, string[]>;
      };
      const v = await libcni<V>("version", { conflist: n.conflist });
      assert.equal(v.libcni, LIBCNI_VERSION);
      assert.equal(v.specVersion, "1.1.0");
      assert.deepEqual(v.supportedVersions.slice(-4), ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
      assert.deepEqual(v.verbs, ["ADD", "CHECK", "DEL", "GC", "STATUS", "VERSION"]);
      // Each plugin's VERSION answer, through libcni's GetVersionInfo.
      assert.ok(v.plugins.ptp.includes("1.1.0"), JSON.stringify(v.plugins));
      assert.ok(v.plugins.portmap.includes("1.1.0"), JSON.stringify(v.plugins));
    });
  },
});

Deno.test({
  name: "libcni 1.3 GC/STATUS: every plugin gets spec 1.1.0's inputs; below 1.1.0 libcni sends neither",
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
      const listAt = async (cniVersion: string) => {
        const path = `${dir}/gc-${cniVersion}.conflist`;
        const plugins = [{ type: "rec" }, { type: "fail" }];
        await Deno.writeTextFile(path, JSON.stringify({ cniVersion, name: "gcnet", plugins }));
        return path;
      };
      const valid = [{ containerID: "c1", ifname: "eth0" }];
      const base = { binDir: dir, cacheDir: `${dir}/cache`, validAttachments: valid };

      // Below 1.1.0 GC and STATUS reach no plugin: libcni answers for them.
      await libcni("gc", { ...base, conflist: await listAt("1.0.0") });
      await libcni("status", { ...base, conflist: await listAt("1.0.0") });
      assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".env")), []);

      const o = { ...base, conflist: await listAt("1.1.0") };
      assert.deepEqual(await libcni("gc", o), {});
      const stdin = JSON.parse(await Deno.readTextFile(`${dir}/GC.stdin`));
      assert.deepEqual(stdin["cni.dev/valid-attachments"], valid);
      assert.deepEqual(stdin["cni.dev/attachments"], valid, "libcni also sends the spec's older spelling");
      assert.equal(stdin.name, "gcnet");
      assert.equal(stdin.cniVersion, "1.1.0");
      const gcEnv = await Deno.readTextFile(`${dir}/GC.env`);
      assert.match(gcEnv, /^CNI_COMMAND=GC$/m);
      assert.doesNotMatch(gcEnv, /^CNI_CONTAINERID=./m, "GC names no container");

      const err = await libcni("status", o).catch((e) => e);
      assert.ok(err instanceof CniError, String(err));
      assert.equal(err.code, 50);
      assert.equal(err.msg, "not ready");
      assert.equal(err.details, "no ipamd");
      assert.match(await Deno.readTextFile(`${dir}/STATUS.env`), /^CNI_COMMAND=STATUS$/m);
      // GC without a private cache dir is refused: libcni would DEL what other runtimes cached.
      await assert.rejects(libcni("gc", { ...o, cacheDir: undefined }), /--cache-dir/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "libcni baseline: ptp + host-local → portmap ADD/CHECK/DEL for each spec version",
  ...rootOnly,
  fn: async (t) => {
    await withNode(async (n) => {
      for (const version of ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
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
    });
  },
});

Deno.test({
  name: "libcni baseline: GCNetworkList at 1.1.0 DELs every cached attachment but the valid ones",
  ...rootOnly,
  fn: async () => {
    await withNode(async (n) => {
      const conflist = `${n.dir}/gc.conflist`;
      const list = JSON.parse(await Deno.readTextFile(n.conflist));
      await Deno.writeTextFile(conflist, JSON.stringify({ ...list, cniVersion: "1.1.0" }));
      const pods = [await n.pod(), await n.pod(), await n.pod()];
      const opts = pods.map((p, i) => n.opts(p, `c-gc${i}-${n.id}`, { conflist }));
      const ips: string[] = [];
      for (const o of opts) ips.push((await libcni<CniResult>("add", o)).ips[0].address.split("/")[0]);
      await libcni("gc", {
        conflist,
        cacheDir: opts[0].cacheDir,
        inNetns: n.node,
        validAttachments: [{ containerID: opts[1].containerId!, ifname: "eth0" }],
      });
      // The two invalid attachments are gone (pod links, host-local IPs, libcni cache), the valid one stays.
      for (const i of [0, 2]) {
        assert.equal((await sh(["ip", "-n", pods[i], "-o", "link", "show"])).trim().split("\n").length, 1);
      }
      const held = ls(`${n.dir}/ipam/${n.net}`).filter((f) => /^\d/.test(f));
      assert.deepEqual(held, [ips[1]], "host-local holds only the valid attachment's IP");
      const cached = ls(`${n.dir}/cache/results`);
      assert.ok(cached.length === 1 && cached[0].includes(opts[1].containerId!), cached.join(","));
      const veths = await sh(["ip", "-n", n.node, "-o", "link", "show", "type", "veth"]);
      assert.equal(veths.trim().split("\n").length, 1, veths);
      await libcni("check", opts[1]);
      await libcni("del", opts[1]);
      assert.deepEqual(await n.leftovers(pods[1], opts[1].containerId!, ips[1]), []);
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
