/**
 * An in-process node for ipamd tests: the EC2 model behind `Ec2ModelPort`, the lab's IMDSv2 and Kubernetes
 * handlers on 127.0.0.1, and a throwaway network namespace playing the node, where an attached ENI shows
 * up as a link `eth<dev>` with the ENI's MAC (as the lab does). Everything is removed by `close()`.
 */
import { Netlink } from "../../ffi/mod.ts";
import { ImdsClient } from "../../src/aws/imds.ts";
import { ClientNodeKube } from "../../src/k8s/client.ts";
import { writeKubeconfig } from "../../src/sim/kubeconfig.ts";
import { type IpamdConfig, loadConfig } from "../../src/ipamd/config.ts";
import { Daemon, type DaemonOptions } from "../../src/ipamd/daemon.ts";
import { Logger } from "../../src/ipamd/log.ts";
import { Ec2Model } from "../../src/sim/ec2_model.ts";
import { createImdsHandler } from "../../src/sim/imds_server.ts";
import { createKubeHandler } from "../../src/sim/k8s_server.ts";
import { KubeStore } from "../../src/sim/k8s_store.ts";
import { Ec2ModelPort } from "../../src/sim/ec2_model_port.ts";
import type { Realism } from "../../src/sim/realism.ts";
import { unixFetch } from "../../src/common/unix_fetch.ts";
import { until } from "../../harness/poll.ts";

export interface NodeOptions {
  instanceType?: string;
  /** The node subnet (default 10.0.0.0/20); the instance's IP is 10.0.0.10. */
  subnetCidr?: string;
  /** EC2 realism (faults, throttling) for `Ec2ModelPort`. */
  realism?: Realism;
  /**
   * Dual stack: the VPC gets `VPC_IPV6` (/56), the node subnet `SUBNET_IPV6` (/64, auto-assign on), so the
   * instance's primary ENI has an IPv6 address. `false` for the subnet: the VPC has IPv6, the subnet none.
   */
  ipv6?: boolean | { subnet: false };
}

/** The test VPC's IPv6 block (with `NodeOptions.ipv6`). */
export const VPC_IPV6 = "2600:1f14:6b0:d800::/56";
/** The test node subnet's IPv6 block. */
export const SUBNET_IPV6 = "2600:1f14:6b0:d801::/64";

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return new TextDecoder().decode(r.stdout);
}

/** A node (namespace + EC2/IMDS/Kubernetes) for one test. */
export class TestNode {
  readonly nodeName = "ip-10-0-0-10.us-west-2.compute.internal";
  model!: Ec2Model;
  ec2!: Ec2ModelPort;
  readonly kubeStore = new KubeStore();
  readonly ns = `ipamd-t-${crypto.randomUUID().slice(0, 8)}`;
  readonly nsPath = `/var/run/netns/${this.ns}`;
  instanceId = "";
  subnetId = "";
  dir = "";
  nl!: Netlink;
  daemon?: Daemon;
  #servers: Deno.HttpServer[] = [];
  #kubeHandler = createKubeHandler(this.kubeStore);
  #unsubscribe?: () => void;
  imdsUrl = "";
  kubeUrl = "";
  kubeconfig = "";

  private constructor() {}

  static async create(o: NodeOptions = {}): Promise<TestNode> {
    const n = new TestNode();
    try {
      await n.#setup(o);
    } catch (e) {
      await n.close();
      throw e;
    }
    return n;
  }

  async #setup(o: NodeOptions): Promise<void> {
    this.dir = await Deno.makeTempDir({ prefix: "ipamd-test-" });
    await sh("ip", "netns", "add", this.ns);
    this.nl = Netlink.open(this.nsPath);
    this.model = new Ec2Model(o.ipv6 ? { vpcIpv6Cidr: VPC_IPV6 } : {});
    this.ec2 = new Ec2ModelPort(this.model, o.realism);
    const v6Subnet = o.ipv6 === true;
    const subnet = this.model.addSubnet({
      cidr: o.subnetCidr ?? "10.0.0.0/20",
      ...(v6Subnet ? { ipv6Cidr: SUBNET_IPV6, assignIpv6AddressOnCreation: true } : {}),
    });
    this.subnetId = subnet.subnetId;
    const sg = this.model.addSecurityGroup("nodes");
    const inst = this.model.launchInstance({
      instanceType: o.instanceType ?? "m5.large",
      subnetId: subnet.subnetId,
      securityGroupIds: [sg],
      privateIpAddress: "10.0.0.10",
    });
    this.instanceId = inst.instanceId;
    this.#unsubscribe = this.model.subscribe((e) => {
      if (e.type === "eni-attached" && e.instanceId === this.instanceId && e.deviceIndex > 0) {
        this.nl.vethAdd({ name: `eth${e.deviceIndex}`, peerName: `eth${e.deviceIndex}p`, mac: e.mac });
      } else if (e.type === "eni-detached" && e.instanceId === this.instanceId && e.deviceIndex > 0) {
        const l = this.nl.findLink(`eth${e.deviceIndex}`);
        if (l) this.nl.linkDel(l.index);
      }
    });
    const quiet = { hostname: "127.0.0.1", port: 0, onListen: () => {} };
    const imdsHandler = createImdsHandler(this.model, { instanceId: this.instanceId, lagMs: 0 });
    const imds = Deno.serve(quiet, (req) => imdsHandler(req));
    const kube = Deno.serve(quiet, this.#kubeHandler);
    this.#servers.push(imds, kube);
    this.imdsUrl = `http://127.0.0.1:${imds.addr.port}`;
    this.kubeUrl = `http://127.0.0.1:${kube.addr.port}`;
    this.kubeconfig = `${this.dir}/kubeconfig`;
    await writeKubeconfig(this.kubeconfig, { server: this.kubeUrl });
    this.kubeStore.addNode(this.nodeName, { internalIP: "10.0.0.10" });
  }

  /** The daemon's configuration: files under the test dir, random local ports. */
  config(env: Record<string, string> = {}): IpamdConfig {
    const c = loadConfig({
      MY_NODE_NAME: this.nodeName,
      CLUSTER_NAME: "test-cluster",
      AWS_VPC_K8S_CNI_LOG_FILE: `${this.dir}/ipamd.log`,
      AWS_VPC_K8S_CNI_BACKING_STORE: `${this.dir}/ipam.json`,
      IPAMD_SOCKET: `${this.dir}/ipamd.sock`,
      ...env,
    });
    return { ...c, introspectionBindAddress: "127.0.0.1:0", metricsPort: 0 };
  }

  /** Starts ipamd against this node. */
  async start(env: Record<string, string> = {}, o: Partial<DaemonOptions> = {}): Promise<Daemon> {
    const config = this.config(env);
    this.daemon = await Daemon.start({
      config,
      ports: {
        ec2: this.ec2,
        imds: new ImdsClient({ endpoint: this.imdsUrl, ipv6: config.enableIpv6 }),
        kube: await ClientNodeKube.fromKubeconfig(this.kubeconfig),
        kubeServer: this.kubeUrl,
        netlink: this.nl,
        iptables: { netnsPath: this.nsPath },
      },
      log: new Logger("debug", config.logFile),
      metricsHostname: "127.0.0.1",
      planEveryMs: 60_000,
      reconcileEveryMs: 60_000,
      ...o,
    });
    return this.daemon;
  }

  /** Stops the running daemon (if any). */
  async stop(): Promise<void> {
    await this.daemon?.stop();
    this.daemon = undefined;
  }

  /** One request on the daemon's unix socket. */
  // deno-lint-ignore no-explicit-any -- JSON answers, checked field by field in the tests
  async call(path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await unixFetch(`${this.dir}/ipamd.sock`, path, {
      method: body === undefined ? "GET" : "POST",
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: r.status, body: parsed };
  }

  /** Runs a command inside the node's namespace. */
  exec(...argv: string[]): Promise<string> {
    return sh("nsenter", `--net=${this.nsPath}`, ...argv);
  }

  /** Polls until `fn` is truthy. */
  until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
    return until(what, fn, timeoutMs, 25);
  }

  async close(): Promise<void> {
    await this.stop().catch(() => {});
    this.#unsubscribe?.();
    this.#kubeHandler.close();
    await Promise.allSettled(this.#servers.map((s) => s.shutdown()));
    try {
      this.nl?.close();
    } catch { /* closed */ }
    await sh("ip", "netns", "del", this.ns).catch(() => {});
    if (this.dir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
