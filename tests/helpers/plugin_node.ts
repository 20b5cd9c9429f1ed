/**
 * A plugin test bench: a node namespace with the fake ipamd (harness/fake_ipamd.ts), pods, and aws-cni
 * run in the node as a runtime runs it (env vars + stdin, a subprocess). Shared by the IPv4 and IPv6 plugin
 * tests. Root only.
 * @module
 */
import assert from "node:assert/strict";
import { Netlink, Netns, sysctlRead } from "../../ffi/mod.ts";
import { type FakeIp, FakeIpamd } from "../../harness/fake_ipamd.ts";
import { randomSuffix, TestNetns } from "../../harness/netns.ts";
import { hostVethName } from "../../src/common/veth_name.ts";

export const MAIN = new URL("../../src/cni/main.ts", import.meta.url).pathname;
/** The plugin runs as `deno run --allow-all src/cni/main.ts` (Deno refuses /proc/sys writes without it). */
export const PERMS = ["--allow-all"];
/** egress-cni's entry point. */
export const EGRESS_MAIN = new URL("../../src/egress/main.ts", import.meta.url).pathname;
export const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

export interface PluginOut {
  code: number;
  stdout: string;
  stderr: string;
  // deno-lint-ignore no-explicit-any
  json?: any;
}

export interface Call {
  /** The plugin's entry point (default aws-cni's, MAIN; egress-cni's is EGRESS_MAIN). */
  entry?: string;
  pod?: TestNetns;
  netns?: string;
  containerId?: string;
  ifName?: string;
  args?: string;
  conf?: Record<string, unknown>;
}

/** A node namespace, the fake ipamd, a temp dir for logs, and the pods made in it. */
export class Lab {
  readonly node: TestNetns;
  readonly fake: FakeIpamd;
  readonly dir: string;
  readonly pods: TestNetns[] = [];
  readonly id = randomSuffix(4);

  private constructor(node: TestNetns, fake: FakeIpamd, dir: string) {
    this.node = node;
    this.fake = fake;
    this.dir = dir;
  }

  static async create(ips: (string | FakeIp)[], o: { ipv6?: boolean } = {}): Promise<Lab> {
    const dir = Deno.makeTempDirSync({ prefix: "cni-test-" });
    const fake = FakeIpamd.start({ ips, socketPath: `${dir}/ipamd.sock` });
    let node: TestNetns | undefined;
    try {
      node = await TestNetns.create("cn");
      // The node's own address, and forwarding between pods.
      await node.execOk(["ip", "addr", "add", "10.0.0.5/32", "dev", "lo"]);
      await node.execOk(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      if (o.ipv6) {
        // an IPv6 node: its own address, and forwarding (ipamd sets it in IPv6 mode)
        await node.execOk(["ip", "addr", "add", "2600:1f13::a/128", "dev", "lo", "nodad"]);
        await node.execOk(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
      }
      return new Lab(node, fake, dir);
    } catch (e) {
      await node?.delete();
      await fake.stop();
      Deno.removeSync(dir, { recursive: true });
      throw e;
    }
  }

  async pod(): Promise<TestNetns> {
    const p = await TestNetns.create("cp");
    this.pods.push(p);
    return p;
  }

  conf(version = "1.0.0", extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: version,
      name: "aws-cni",
      type: "aws-cni",
      ipamdSocket: this.fake.socketPath,
      pluginLogFile: `${this.dir}/plugin.log`,
      pluginLogLevel: "debug",
      ...extra,
    };
  }

  /** Runs the plugin in the node namespace as a runtime would. */
  async plugin(cmd: string, c: Call = {}): Promise<PluginOut> {
    const env: Record<string, string> = {
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: c.containerId ?? `ctr-${this.id}`,
      CNI_NETNS: c.netns ?? c.pod?.path ?? "",
      CNI_IFNAME: c.ifName ?? "eth0",
      CNI_PATH: "/opt/cni/bin",
      CNI_ARGS: c.args ??
        `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-${this.id};K8S_POD_UID=u1`,
    };
    for (const k of ["HOME", "DENO_DIR", "PATH"]) {
      const v = Deno.env.get(k);
      if (v) env[k] = v;
    }
    const r = await this.node.exec([Deno.execPath(), "run", ...PERMS, c.entry ?? MAIN], {
      stdin: JSON.stringify(c.conf ?? this.conf()),
      env,
    });
    const out: PluginOut = { ...r };
    if (r.stdout.trim()) out.json = JSON.parse(r.stdout);
    return out;
  }

  async close(): Promise<void> {
    for (const p of this.pods) await p.delete();
    await this.node.delete();
    await this.fake.stop();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

export async function withLab(
  ips: (string | FakeIp)[],
  fn: (lab: Lab) => Promise<void>,
  o: { ipv6?: boolean } = {},
): Promise<void> {
  const lab = await Lab.create(ips, o);
  try {
    await fn(lab);
  } catch (e) {
    try {
      console.error(Deno.readTextFileSync(`${lab.dir}/plugin.log`));
    } catch { /* no log */ }
    throw e;
  } finally {
    await lab.close();
  }
}

/** The host veth aws-cni names from `key` (`<namespace>.<pod>`, or the container ID when either is unknown). */
export function expectedVeth(key: string, prefix = "eni"): string {
  return hostVethName(prefix, { containerId: key });
}

export function nl<T>(ns: TestNetns, fn: (n: Netlink) => T): T {
  const n = Netlink.open(ns.path);
  try {
    return fn(n);
  } finally {
    n.close();
  }
}

export function assertOk(r: PluginOut, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stdout} ${r.stderr}`);
}

export function assertErr(r: PluginOut, code: number, re?: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got ${r.stdout}`);
  assert.ok(r.json, `no JSON on stdout: ${r.stderr}`);
  assert.equal(r.json.code, code, JSON.stringify(r.json));
  if (re) assert.match(r.json.msg, re);
}

/** Upstream's host veth sysctls, set for every pod: IPv6 accept_ra=0, accept_redirects=1, forwarding=0. */
export function assertHostVethSysctls(node: TestNetns, veth: string): void {
  const ns = Netns.open(node.path);
  try {
    assert.equal(sysctlRead(`net/ipv6/conf/${veth}/accept_ra`, ns), "0");
    assert.equal(sysctlRead(`net/ipv6/conf/${veth}/accept_redirects`, ns), "1");
    assert.equal(sysctlRead(`net/ipv6/conf/${veth}/forwarding`, ns), "0");
  } finally {
    ns.close();
  }
}
