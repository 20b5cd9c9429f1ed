/**
 * `ipamd install`: atomic copies (a reader never sees a partial plugin; a killed copy leaves the old one),
 * the init step in a test namespace (plugin, portmap, libnl beside the plugin, sysctls), the conflist only
 * after ipamd's real socket handler answers ready, libcni loading what was written, and the copied libnl
 * working with the system's hidden.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/ipamd/config.ts";
import { Datastore } from "../src/ipamd/datastore.ts";
import { atomicCopy, atomicWrite, removeStaleTemps } from "../src/ipamd/atomic_file.ts";
import { CONFLIST_NAME, renderConflist } from "../src/ipamd/conflist.ts";
import { probeHealthy } from "../src/ipamd/health.ts";
import { defaultSources, isCompiled, launcherScript, LIBNL_SONAMES } from "../src/ipamd/install_sources.ts";
import { initSysctls } from "../src/ipamd/node_sysctls.ts";
import { type ApiContext, apiHandler, serveUnix } from "../src/ipamd/server.ts";
import { Ec2Model } from "../src/sim/ec2_model.ts";
import { createImdsHandler } from "../src/sim/imds_server.ts";
import { libcni } from "../harness/libcni.ts";
import { ensureCniPlugins } from "../src/sim/cni_plugins.ts";
import { rootOnly } from "./helpers/root.ts";
import { until } from "../harness/poll.ts";

const MAIN = new URL("../src/ipamd/main.ts", import.meta.url).pathname;
/** `ipamd install` from source. */
const INSTALL = [Deno.execPath(), "run", "-A", MAIN, "install"];
/** {@link INSTALL} in the network namespace `ns`. */
const inNs = (ns: string) => ["ip", "netns", "exec", ns, ...INSTALL];
const dec = new TextDecoder();
const rand = () => crypto.randomUUID().slice(0, 6);

async function run(argv: string[], env: Record<string, string> = {}, stdin?: string) {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function temps(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.includes(".tmp-")) out.push(e.name);
  return out;
}

/** Starts a child that atomically copies `src` (a FIFO) to `dest`. */
function spawnCopy(src: string, dest: string): Deno.ChildProcess {
  const mod = new URL("../src/ipamd/atomic_file.ts", import.meta.url).href;
  return new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { atomicCopy } from "${mod}"; await atomicCopy(${JSON.stringify(src)}, ${
        JSON.stringify(dest)
      });`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test("atomicCopy: while the source streams in, the final path is absent; then whole, mode 0755", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
  try {
    const fifo = `${dir}/src.fifo`;
    assert.equal((await run(["mkfifo", fifo])).code, 0);
    const dest = `${dir}/aws-cni`;
    const child = spawnCopy(fifo, dest);
    const w = await Deno.open(fifo, { write: true });
    const half = new Uint8Array(256 * 1024).fill(0x41);
    await w.write(half);
    await until(
      "a temp file with data",
      async () => {
        for (const t of await temps(dir)) if ((await Deno.stat(`${dir}/${t}`)).size > 0) return true;
        return false;
      },
      10_000,
      25,
    );
    assert.equal(await exists(dest), false, "the final path must not exist before the rename");
    await w.write(half.fill(0x42));
    w.close();
    const st = await child.status;
    assert.equal(st.code, 0, dec.decode((await child.stderr.getReader().read()).value));
    const got = await Deno.readFile(dest);
    assert.equal(got.length, 512 * 1024);
    assert.equal(got[0], 0x41);
    assert.equal(got[got.length - 1], 0x42);
    assert.equal((await Deno.stat(dest)).mode! & 0o777, 0o755);
    assert.deepEqual(await temps(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomicCopy: a copy killed halfway leaves the old plugin intact; the next install clears the temp", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
  try {
    const dest = `${dir}/aws-cni`;
    await Deno.writeTextFile(dest, "#!/bin/sh\necho old\n", { mode: 0o755 });
    const fifo = `${dir}/src.fifo`;
    assert.equal((await run(["mkfifo", fifo])).code, 0);
    const child = spawnCopy(fifo, dest);
    const w = await Deno.open(fifo, { write: true });
    await w.write(new Uint8Array(128 * 1024).fill(0x43));
    await until("a temp file", async () => (await temps(dir)).length > 0, 10_000, 25);
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    w.close();
    assert.equal(await Deno.readTextFile(dest), "#!/bin/sh\necho old\n");
    assert.equal((await run([dest])).stdout, "old\n");
    const left = await temps(dir);
    assert.equal(left.length, 1, "the killed copy leaves its temp file");
    assert.deepEqual(await removeStaleTemps(dir), left);
    assert.deepEqual(await temps(dir), []);
    await Deno.writeTextFile(`${dir}/new`, "#!/bin/sh\necho new\n");
    await atomicCopy(`${dir}/new`, dest);
    assert.equal((await run([dest])).stdout, "new\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomicCopy/atomicWrite: a failure leaves no temp file and the destination untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
  try {
    await Deno.writeTextFile(`${dir}/x`, "keep");
    await assert.rejects(atomicCopy(`${dir}/missing`, `${dir}/x`), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(`${dir}/x`), "keep");
    assert.deepEqual(await temps(dir), []);
    await Deno.mkdir(`${dir}/d`);
    await assert.rejects(atomicWrite(`${dir}/d`, "x")); // rename onto a directory fails
    assert.deepEqual(await temps(dir), []);
    await atomicWrite(`${dir}/x`, "new", 0o640);
    assert.equal(await Deno.readTextFile(`${dir}/x`), "new");
    assert.equal((await Deno.stat(`${dir}/x`)).mode! & 0o777, 0o640);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renderConflist: aws-cni then portmap, settings from upstream's env names", () => {
  const env = {
    POD_MTU: "1500",
    AWS_VPC_K8S_CNI_VETHPREFIX: "abc",
    AWS_VPC_K8S_PLUGIN_LOG_FILE: "/tmp/p.log",
    AWS_VPC_K8S_PLUGIN_LOG_LEVEL: "INFO",
  };
  const c = renderConflist(loadConfig(env), { withPortmap: true, env });
  assert.deepEqual(c, {
    cniVersion: "0.4.0",
    name: "aws-cni",
    plugins: [
      {
        name: "aws-cni",
        type: "aws-cni",
        vethPrefix: "abc",
        mtu: "1500",
        pluginLogFile: "/tmp/p.log",
        pluginLogLevel: "INFO",
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ],
  });
  const d = renderConflist(loadConfig({ IPAMD_SOCKET: "/x/s.sock" }), { withPortmap: false, env: {} });
  assert.equal((d.plugins as unknown[]).length, 1);
  assert.deepEqual((d.plugins as Record<string, unknown>[])[0], {
    name: "aws-cni",
    type: "aws-cni",
    vethPrefix: "eni",
    mtu: "9001",
    pluginLogFile: "/var/log/aws-routed-eni/plugin.log",
    pluginLogLevel: "DEBUG",
    ipamdSocket: "/x/s.sock",
  });
  assert.throws(
    () =>
      renderConflist(loadConfig({}), { withPortmap: false, env: { AWS_VPC_K8S_PLUGIN_LOG_LEVEL: "loud" } }),
    /AWS_VPC_K8S_PLUGIN_LOG_LEVEL/,
  );
});

Deno.test("initSysctls: rp_filter=2 on the primary interface, ip_forward, early demux on request", () => {
  assert.deepEqual(initSysctls("ens5", {}), {
    "net/ipv4/conf/ens5/rp_filter": "2",
    "net/ipv4/ip_forward": "1",
  });
  assert.equal(initSysctls("eth0", { DISABLE_TCP_EARLY_DEMUX: "true" })["net/ipv4/tcp_early_demux"], "0");
  assert.equal(
    initSysctls("eth0", { DISABLE_TCP_EARLY_DEMUX: "false" })["net/ipv4/tcp_early_demux"],
    undefined,
  );
  assert.throws(() => initSysctls("eth0", { DISABLE_TCP_EARLY_DEMUX: "maybe" }), /DISABLE_TCP_EARLY_DEMUX/);
  assert.throws(() => initSysctls("eth0", { ENABLE_IPv6: "maybe" }), /ENABLE_IPv6/);
});

Deno.test("initSysctls: ENABLE_IPv6=true turns IPv6 on and forwarded, RAs still accepted on the primary", () => {
  assert.deepEqual(initSysctls("ens5", { ENABLE_IPv6: "true" }), {
    "net/ipv4/conf/ens5/rp_filter": "2",
    "net/ipv4/ip_forward": "1",
    "net/ipv6/conf/all/disable_ipv6": "0",
    "net/ipv6/conf/all/forwarding": "1",
    "net/ipv6/conf/ens5/accept_ra": "2",
  });
});

Deno.test("renderConflist: IPv6 mode chains egress-cni after aws-cni, as upstream's conflist", () => {
  const env = {
    ENABLE_IPv6: "true",
    ENABLE_IPv4: "false",
    ENABLE_PREFIX_DELEGATION: "true",
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: "none",
  };
  const c = renderConflist(loadConfig(env), {
    withPortmap: true,
    env,
    nodeIp: "10.0.0.10",
    iptablesBackend: "legacy",
  });
  const plugins = c.plugins as Record<string, unknown>[];
  assert.deepEqual(plugins.map((p) => p.type), ["aws-cni", "egress-cni", "portmap"]);
  assert.deepEqual(plugins[1], {
    name: "egress-cni",
    type: "egress-cni",
    mtu: "9001",
    enabled: "true",
    randomizeSNAT: "none",
    nodeIP: "10.0.0.10",
    iptablesBackend: "legacy",
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: "169.254.172.0/22" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: "/run/cni/v6pd/egress-v4-ipam",
    },
    pluginLogFile: "/var/log/aws-routed-eni/egress-v4-plugin.log",
    pluginLogLevel: "DEBUG",
  });
  const off = { ...env, ENABLE_V4_EGRESS: "false", AWS_VPC_K8S_EGRESS_V4_PLUGIN_LOG_FILE: "stderr" };
  const d = renderConflist(loadConfig(off), { withPortmap: false, env: off, nodeIp: "10.0.0.10" });
  assert.deepEqual(
    [
      (d.plugins as Record<string, unknown>[])[1].enabled,
      (d.plugins as Record<string, unknown>[])[1].pluginLogFile,
      (d.plugins as Record<string, unknown>[])[1].iptablesBackend,
    ],
    ["false", "stderr", undefined],
  );
  assert.throws(() => renderConflist(loadConfig(env), { withPortmap: false, env }), /nodeIp/);
});

Deno.test("launcher and compiled detection; from source no system portmap or bandwidth is taken", () => {
  assert.equal(isCompiled("/usr/local/bin/deno"), false);
  assert.equal(isCompiled("/app/ipamd"), true);
  // Not Debian's /usr/lib/cni (containernetworking-plugins 1.1.1, whose portmap fails CHECK on IPv4-only pods).
  const fromSource = defaultSources("/opt/cni/bin", "/usr/local/bin/deno");
  assert.equal(fromSource.portmap, null);
  assert.equal(fromSource.bandwidth, null);
  const s = launcherScript("/usr/bin/deno", "/src/vpc cni", "/opt/cni/bin");
  assert.match(s, /^#!\/bin\/sh\n/);
  assert.match(s, /VPC_CNI_LIBNL_DIR:=\/opt\/cni\/bin\/aws-cni-lib/);
  assert.match(s, /exec '\/usr\/bin\/deno' run --allow-all /);
  assert.match(s, /'\/src\/vpc cni\/src\/cni\/main\.ts' "\$@"\n$/);
});

Deno.test("ipamd install: flag and environment errors exit non-zero before touching anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
  try {
    const base = [...INSTALL, "--cni-bin-dir", `${dir}/bin`];
    let r = await run([...base, "--init", "--run"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--init cannot go with/);
    r = await run([...base, "--bogus"]);
    assert.equal(r.code, 2);
    r = await run([...base, "--init", "--no-sysctls"], { POD_MTU: "99999" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /POD_MTU/);
    assert.equal(await exists(`${dir}/bin`), false);
    // --run: ipamd refuses the environment, so nothing is written and the exit code is ipamd's.
    r = await run([...base, "--conflist-only", "--run", "--cni-conf-dir", `${dir}/net.d`], {
      WARM_ENI_TARGET: "lots",
      MY_NODE_NAME: "n",
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /WARM_ENI_TARGET="lots"/);
    assert.equal(await exists(`${dir}/net.d`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** ipamd's real socket API handler with a switchable start-up state. */
async function ipamdSocket(path: string, iptablesBackend?: string) {
  let ready = false;
  let asked = 0;
  const ctx = {
    ds: new Datastore({ cooldownMs: 30_000 }),
    driver: {},
    config: loadConfig({}),
    vpcCidrs: [],
    persist: () => Promise.resolve(),
    ready: () => (asked++, ready),
    iptablesBackend: () => iptablesBackend,
  } as unknown as ApiContext;
  const server = await serveUnix(path, apiHandler(ctx));
  return {
    setReady: (v: boolean) => (ready = v),
    /** How often the socket was asked whether ipamd is ready. */
    asked: () => asked,
    close: () => server.shutdown(),
  };
}

/** A test namespace with a veth whose end `n0` carries the default route. */
async function withNode(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `vci-inst-${rand()}`;
  assert.equal((await run(["ip", "netns", "add", ns])).code, 0);
  try {
    for (
      const c of [
        ["link", "add", "n0", "type", "veth", "peer", "name", "n1"],
        ["addr", "add", "10.77.0.5/24", "dev", "n0"],
        ["link", "set", "n0", "up"],
        ["link", "set", "n1", "up"],
        ["link", "set", "lo", "up"],
        ["route", "add", "default", "via", "10.77.0.1", "dev", "n0"],
      ]
    ) {
      const r = await run(["ip", "-n", ns, ...c]);
      assert.equal(r.code, 0, r.stderr);
    }
    await fn(ns);
  } finally {
    await run(["ip", "netns", "del", ns]);
  }
}

Deno.test({
  name:
    "ipamd install: --init in a node namespace, then the conflist only once ipamd is ready; libcni loads it",
  ...rootOnly,
  async fn() {
    await withNode(async (ns) => {
      const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
      const sock = await ipamdSocket(`${dir}/run/ipamd.sock`);
      try {
        const bin = `${dir}/bin`, conf = `${dir}/net.d`;
        const env = {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          IPAMD_SOCKET: `${dir}/run/ipamd.sock`,
          POD_MTU: "8999",
          AWS_VPC_K8S_PLUGIN_LOG_FILE: `${dir}/plugin.log`,
        };
        // From source there is no default portmap (the image has it beside ipamd): the reference v1.10.0 one.
        const portmap = `${(await ensureCniPlugins()).dir}/portmap`;
        const r = await run([...inNs(ns), "--init", "--cni-bin-dir", bin, "--portmap", portmap], env);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /no bandwidth to install/);
        // The plugin from source is the honest launcher, executable.
        const launcher = await Deno.readTextFile(`${bin}/aws-cni`);
        assert.match(launcher, /src\/cni\/main\.ts/);
        assert.equal((await Deno.stat(`${bin}/aws-cni`)).mode! & 0o777, 0o755);
        assert.deepEqual(await Deno.readFile(`${bin}/portmap`), await Deno.readFile(portmap));
        for (const so of LIBNL_SONAMES) {
          assert.ok((await Deno.stat(`${bin}/aws-cni-lib/${so}`)).size > 10_000);
        }
        assert.equal(await exists(`${conf}/${CONFLIST_NAME}`), false, "--init writes no conflist");
        const sysctl = async (k: string) =>
          (await run(["ip", "netns", "exec", ns, "cat", `/proc/sys/${k}`])).stdout.trim();
        assert.equal(
          await sysctl("net/ipv4/conf/n0/rp_filter"),
          "2",
          "rp_filter=2 on the default route's link",
        );
        assert.equal(await sysctl("net/ipv4/conf/n1/rp_filter"), "0", "other links untouched");
        assert.equal(await sysctl("net/ipv4/ip_forward"), "1");

        // Not ready: the conflist must not appear while ipamd answers 503.
        assert.equal((await probeHealthy(env.IPAMD_SOCKET)).ok, false);
        const [cmd, ...pre] = inNs(ns);
        const child = new Deno.Command(cmd, {
          args: [...pre, "--conflist-only", "--cni-bin-dir", bin, "--cni-conf-dir", conf],
          env,
          stdout: "null",
          stderr: "piped",
        }).spawn();
        // Condition, not a clock: install has asked twice and been told "not ready" both times.
        const asked = sock.asked();
        await until("install to ask ipamd twice", () => sock.asked() >= asked + 2, 120_000, 50);
        assert.equal(await exists(`${conf}/${CONFLIST_NAME}`), false, "no conflist before ipamd is ready");
        sock.setReady(true);
        const st = await child.output();
        assert.equal(st.code, 0, dec.decode(st.stderr));
        assert.match(dec.decode(st.stderr), /not healthy yet.*503/s);
        const list = JSON.parse(await Deno.readTextFile(`${conf}/${CONFLIST_NAME}`));
        assert.equal(list.plugins[0].type, "aws-cni");
        assert.equal(list.plugins[0].mtu, "8999");
        assert.equal(list.plugins[0].ipamdSocket, env.IPAMD_SOCKET);
        assert.equal(list.plugins[1].type, "portmap");
        assert.equal((await Deno.stat(`${conf}/${CONFLIST_NAME}`)).mode! & 0o777, 0o644);
        assert.deepEqual(await temps(conf), []);

        // libcni parses the conflist and every installed plugin answers VERSION.
        const v = await libcni<{ plugins: Record<string, unknown> }>("version", {
          conflist: `${conf}/${CONFLIST_NAME}`,
          binDir: bin,
        });
        assert.ok(Array.isArray(v.plugins["aws-cni"]), JSON.stringify(v.plugins["aws-cni"]));
        assert.ok((v.plugins["aws-cni"] as string[]).includes("0.4.0"));
        assert.ok(Array.isArray(v.plugins["portmap"]), JSON.stringify(v.plugins["portmap"]));
      } finally {
        await sock.close();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "ipamd install in IPv6 mode: IPv6 sysctls and egress-cni at --init; the conflist chains egress-cni " +
    "with the node's IPv4 from IMDS",
  ...rootOnly,
  async fn() {
    await withNode(async (ns) => {
      const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install6-" });
      // ipamd detected iptables-legacy (its /v1/status says so): egress-cni's entry must name it.
      const sock = await ipamdSocket(`${dir}/ipamd.sock`, "legacy");
      // IMDS as the node sees it: an instance whose primary IPv4 is 10.0.0.10 (egress-cni's SNAT source).
      const model = new Ec2Model();
      const subnet = model.addSubnet({ cidr: "10.0.0.0/20" });
      const inst = model.launchInstance({
        instanceType: "m5.large",
        subnetId: subnet.subnetId,
        privateIpAddress: "10.0.0.10",
      });
      const imds = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        createImdsHandler(model, { instanceId: inst.instanceId, lagMs: 0 }),
      );
      try {
        const bin = `${dir}/bin`, conf = `${dir}/net.d`;
        const env = {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          IPAMD_SOCKET: `${dir}/ipamd.sock`,
          ENABLE_IPv6: "true",
          ENABLE_IPv4: "false",
          ENABLE_PREFIX_DELEGATION: "true",
          AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${imds.addr.port}`,
        };
        const init = await run(
          [
            ...inNs(ns),
            "--init",
            "--cni-bin-dir",
            bin,
            "--portmap",
            `${(await ensureCniPlugins()).dir}/portmap`,
          ],
          env,
        );
        assert.equal(init.code, 0, init.stderr);
        assert.match(await Deno.readTextFile(`${bin}/egress-cni`), /src\/egress\/main\.ts/);
        const sysctl = async (k: string) =>
          (await run(["ip", "netns", "exec", ns, "cat", `/proc/sys/${k}`])).stdout.trim();
        assert.equal(await sysctl("net/ipv6/conf/all/forwarding"), "1");
        assert.equal(await sysctl("net/ipv6/conf/all/disable_ipv6"), "0");
        assert.equal(await sysctl("net/ipv6/conf/n0/accept_ra"), "2", "RAs still accepted on the primary");

        sock.setReady(true);
        const r = await run(
          [
            ...INSTALL,
            "--conflist-only",
            "--cni-bin-dir",
            bin,
            "--cni-conf-dir",
            conf,
          ],
          env,
        );
        assert.equal(r.code, 0, r.stderr);
        const list = JSON.parse(await Deno.readTextFile(`${conf}/${CONFLIST_NAME}`));
        assert.deepEqual(list.plugins.map((p: { type: string }) => p.type), [
          "aws-cni",
          "egress-cni",
          "portmap",
        ]);
        assert.equal(list.plugins[1].nodeIP, "10.0.0.10");
        assert.equal(list.plugins[1].iptablesBackend, "legacy");
        assert.equal(list.plugins[1].enabled, "true");
        const v = await libcni<{ plugins: Record<string, unknown> }>("version", {
          conflist: `${conf}/${CONFLIST_NAME}`,
          binDir: bin,
        });
        assert.ok((v.plugins["egress-cni"] as string[]).includes("1.1.0"), JSON.stringify(v.plugins));
      } finally {
        await imds.shutdown();
        await sock.close();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "ipamd install: gives up after --wait-timeout with the target named and writes no conflist",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
    const sock = await ipamdSocket(`${dir}/ipamd.sock`);
    try {
      const r = await run([
        ...INSTALL,
        "--conflist-only",
        "--cni-conf-dir",
        `${dir}/net.d`,
        "--wait-healthy",
        `${dir}/ipamd.sock`,
        "--wait-timeout",
        "1",
      ]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`ipamd at ${dir}/ipamd.sock did not answer healthy within 1 s`));
      assert.equal(await exists(`${dir}/net.d/${CONFLIST_NAME}`), false);
    } finally {
      await sock.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the libnl copied beside the plugin works with the system's libnl hidden (a real netlink DEL)",
  ...rootOnly,
  async fn() {
    const libs: string[] = [];
    for (const so of LIBNL_SONAMES) {
      for (const d of ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]) {
        if (await exists(`${d}/${so}`)) {
          libs.push(await Deno.realPath(`${d}/${so}`));
          break;
        }
      }
    }
    assert.equal(libs.length, 2, "system libnl not found");
    await withNode(async (ns) => {
      const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-" });
      try {
        const bin = `${dir}/bin`;
        const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
        const r0 = await run(
          [
            ...inNs(ns),
            "--init",
            "--cni-bin-dir",
            bin,
          ],
          env,
        );
        assert.equal(r0.code, 0, r0.stderr);
        const conf = JSON.stringify({
          cniVersion: "0.4.0",
          name: "aws-cni",
          type: "aws-cni",
          ipamdSocket: `${dir}/absent.sock`,
          pluginLogFile: `${dir}/plugin.log`,
        });
        // A private mount namespace hides the system libnl (bind /dev/null over it) for this process only.
        const hidden = (extra: string) =>
          run(
            [
              "ip",
              "netns",
              "exec",
              ns,
              "unshare",
              "-m",
              "--propagation",
              "private",
              "sh",
              "-c",
              `${libs.map((l) => `mount --bind /dev/null '${l}'`).join(" && ")} && ` +
              `${extra} CNI_COMMAND=DEL CNI_CONTAINERID=c${rand()} CNI_NETNS= CNI_IFNAME=eth0 ` +
              `CNI_PATH='${bin}' exec '${bin}/aws-cni'`,
            ],
            env,
            conf,
          );
        // Without the copy (and without the system's), the plugin cannot load libnl: code 106.
        const bad = await hidden(`VPC_CNI_LIBNL_DIR=${dir}/nowhere`);
        assert.notEqual(bad.code, 0);
        assert.equal(JSON.parse(bad.stdout).code, 106, bad.stdout);
        assert.match(bad.stdout, /file too short|cannot open/);
        // With the copy beside the plugin, the DEL's netlink work succeeds.
        const good = await hidden("");
        assert.equal(good.code, 0, good.stdout + good.stderr);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name:
    "on a lab node: --init, then --conflist-only --run starts the real ipamd; conflist only once ready; a pod",
  ...rootOnly,
  async fn() {
    const { withLab } = await import("./helpers/lab.ts");
    const { LAB_NET } = await import("../src/sim/naming.ts");
    const { addNetns, delNetns } = await import("../harness/libcni.ts");
    await withLab({ nodes: 1, ipamd: false }, async (lab) => {
      const dir = await Deno.makeTempDir({ prefix: "vpc-cni-install-lab-" });
      const nodeNs = lab.names.nodeNs(0);
      const podNs = `vci-inst-pod-${rand()}`;
      let child: Deno.ChildProcess | undefined;
      try {
        const bin = `${dir}/bin`, conf = `${dir}/net.d`, sock = `${dir}/ipamd.sock`;
        const plugins = (await ensureCniPlugins()).dir;
        const r0 = await lab.inNode(0, [
          ...INSTALL,
          "--init",
          "--cni-bin-dir",
          bin,
          "--portmap",
          `${plugins}/portmap`,
          "--bandwidth",
          `${plugins}/bandwidth`,
        ]);
        assert.equal(r0.code, 0, r0.stderr);
        const primary = r0.stderr.match(/net\.ipv4\.conf\.([^.]+)\.rp_filter=2/)?.[1];
        assert.ok(primary, r0.stderr);
        const rp = await lab.inNode(0, ["cat", `/proc/sys/net/ipv4/conf/${primary}/rp_filter`]);
        assert.equal(rp.stdout.trim(), "2");

        const env = {
          ...Deno.env.toObject(),
          MY_NODE_NAME: lab.names.nodeName(0),
          AWS_EC2_ENDPOINT: `http://${LAB_NET.ec2Ip}`,
          AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${LAB_NET.imdsIp}`,
          KUBECONFIG: lab.names.kubeconfig,
          AWS_REGION: LAB_NET.region,
          CLUSTER_NAME: "lab",
          IPAMD_SOCKET: sock,
          AWS_VPC_K8S_CNI_BACKING_STORE: `${dir}/ipam.json`,
          AWS_VPC_K8S_CNI_LOG_FILE: `${dir}/ipamd.log`,
          AWS_VPC_K8S_PLUGIN_LOG_FILE: `${dir}/plugin.log`,
        };
        child = new Deno.Command("nsenter", {
          args: [`--net=/run/netns/${nodeNs}`, "--", ...INSTALL].concat(
            ["--conflist-only", "--run", "--cni-bin-dir", bin, "--cni-conf-dir", conf],
          ),
          env,
          stdout: "null",
          stderr: "null",
        }).spawn();
        // Invariant while ipamd starts: once the conflist exists, ipamd answers ready.
        const end = Date.now() + 120_000;
        let sawNotReady = false;
        for (;;) {
          const written = await exists(`${conf}/${CONFLIST_NAME}`);
          const p = await probeHealthy(sock);
          if (written) {
            assert.ok(p.ok, `conflist written while ipamd says: ${p.why}`);
            break;
          }
          if (!p.ok) sawNotReady = true;
          assert.ok(Date.now() < end, "ipamd install --run wrote no conflist within 120 s");
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(sawNotReady, "the conflist was not there while ipamd was starting");

        // A pod through libcni with exactly what was installed, against the real ipamd.
        await addNetns(podNs);
        const opts = {
          conflist: `${conf}/${CONFLIST_NAME}`,
          binDir: bin,
          netns: `/run/netns/${podNs}`,
          containerId: `inst${rand()}`,
          args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "default", K8S_POD_NAME: `p-${rand()}` },
          cacheDir: `${dir}/cache`,
          inNetns: nodeNs,
        };
        // deno-lint-ignore no-explicit-any -- CNI result JSON
        const res = await libcni<any>("add", opts).catch((e) => {
          // The installed plugin runs with compile.sh's permissions (no --allow-all), like the compiled one.
          if (/is not a network namespace/.test(String(e))) {
            throw new Error(`aws-cni under compile.sh's permissions rejects a real netns: ${e}`, {
              cause: e,
            });
          }
          throw e;
        });
        assert.match(res.ips[0].address, /^10\.0\.\d+\.\d+\/32$/, JSON.stringify(res));
        const chain = JSON.parse(await Deno.readTextFile(`${conf}/${CONFLIST_NAME}`)).plugins;
        assert.deepEqual(chain.map((p: { type: string }) => p.type), ["aws-cni", "portmap"]);
        const ip = res.ips[0].address.split("/")[0];
        const addr = await lab.inNetns(podNs, ["ip", "-4", "-o", "addr", "show", "eth0"]);
        assert.match(addr.stdout, new RegExp(` ${ip.replaceAll(".", "\\.")}/32 `));
        const ping = await lab.inNetns(podNs, ["busybox", "ping", "-c1", "-W2", LAB_NET.gateway]);
        assert.equal(ping.code, 0, ping.stdout + ping.stderr);
        await libcni("del", opts);
      } finally {
        if (child) {
          try {
            child.kill("SIGTERM");
          } catch { /* exited */ }
          const t = setTimeout(() => child!.kill("SIGKILL"), 10_000);
          await child.status;
          clearTimeout(t);
        }
        await delNetns(podNs).catch(() => {});
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});
