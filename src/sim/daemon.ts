/**
 * The lab daemon: runs inside the lab's vpc namespace (started by `lab up`). It builds the EC2 model and
 * the Kubernetes store, serves EC2 on 10.0.255.254:80, Kubernetes on 10.0.255.253:6443, IMDS on
 * 169.254.169.254:80 and everything on `<state>/lab.sock`, drives the fabric from the model's events, runs
 * the internet namespace's whoami service, and supervises one ipamd per node. SIGTERM stops it all.
 *
 * Usage: deno run -A src/sim/daemon.ts --state-dir DIR
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { writeKubeconfig } from "./kubeconfig.ts";
import { controlHandler } from "./daemon_control.ts";
import { makeHandlers } from "./daemon_handlers.ts";
import { startWhoami } from "./daemon_whoami.ts";
import { buildWorld } from "./daemon_world.ts";
import { Fabric } from "./fabric.ts";
import { withoutHostCredentials } from "./iam.ts";
import { exists, readLabConfig } from "./lab_state.ts";
import { LAB_NET, LabNames } from "./naming.ts";
import { Supervisor } from "./supervisor.ts";

function log(line: string): void {
  console.error(`${new Date().toISOString()} ${line}`);
}

/** Starts the daemon; resolves when it has shut down. */
export async function runDaemon(stateDir: string): Promise<void> {
  const names = new LabNames(stateDir);
  const cfg = readLabConfig(names);
  Deno.writeTextFileSync(names.daemonPid, `${Deno.pid}\n`);
  log(`daemon: lab ${names.id} in ${names.stateDir}, ${cfg.nodes} x ${cfg.instanceType}`);

  const fabric = new Fabric(names);
  fabric.setupRouter();
  const world = buildWorld(names, cfg, fabric, log);
  for (const n of world.nodes) log(`daemon: ${n.name} ${n.instanceId} ${n.primaryIp} (${n.netns})`);
  await writeKubeconfig(names.kubeconfig, { server: `http://${LAB_NET.kubeIp}:6443` });

  const h = makeHandlers(world, cfg);
  const servers: Deno.HttpServer[] = [];
  const quiet = { onListen() {} };
  servers.push(Deno.serve({ hostname: LAB_NET.ec2Ip, port: 80, ...quiet }, h.ec2));
  servers.push(Deno.serve({ hostname: LAB_NET.kubeIp, port: 6443, ...quiet }, h.kube));
  servers.push(Deno.serve({ hostname: LAB_NET.imdsIp, port: 80, ...quiet }, h.imds));
  const whoami = startWhoami(names.inetNs, LAB_NET.whoamiPort);
  // Timed model transitions (detaching → available) settle on reads; tick so the fabric hears them.
  const ticker = setInterval(() => world.model.tick(), 200);

  const supervisors: Supervisor[] = [];
  const ipamdMain = join(cfg.repoDir, "src", "ipamd", "main.ts");
  let ipamdNote = cfg.ipamd ? "" : "disabled (--no-ipamd)";
  if (cfg.ipamd && !exists(ipamdMain)) ipamdNote = `not started: ${ipamdMain} does not exist yet`;
  if (cfg.ipamd && !ipamdNote) {
    for (const n of world.nodes) {
      const env: Record<string, string> = {
        ...withoutHostCredentials(Deno.env.toObject()),
        MY_NODE_NAME: n.name,
        AWS_EC2_ENDPOINT: `http://${LAB_NET.ec2Ip}`,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${LAB_NET.imdsIp}`,
        KUBECONFIG: names.kubeconfig,
        AWS_REGION: LAB_NET.region,
        AWS_DEFAULT_REGION: LAB_NET.region,
        AWS_EC2_METADATA_DISABLED: "false",
        CLUSTER_NAME: "lab",
        IPAMD_SOCKET: names.ipamdSocket(n.index),
        AWS_VPC_K8S_CNI_BACKING_STORE: names.backingStore(n.index),
        AWS_VPC_K8S_CNI_LOG_FILE: names.ipamdLog(n.index),
        ...cfg.ipamdEnv,
      };
      const s = new Supervisor({
        name: `ipamd[${n.name}]`,
        argv: [
          "nsenter",
          `--net=${names.nsPath(n.netns)}`,
          "--",
          cfg.denoPath,
          "run",
          "-A",
          "--config",
          join(cfg.repoDir, "deno.json"),
          ipamdMain,
          "run",
        ],
        env,
      }, { log });
      s.start();
      supervisors.push(s);
    }
  }
  if (ipamdNote) log(`daemon: ipamd ${ipamdNote}`);

  const status = () => ({
    id: names.id,
    stateDir: names.stateDir,
    daemonPid: Deno.pid,
    instanceType: cfg.instanceType,
    latency: cfg.latency,
    faults: h.getFaults(),
    vpcNetns: names.vpcNs,
    internetNetns: names.inetNs,
    whoami: `${LAB_NET.inetHostIp}:${LAB_NET.whoamiPort}`,
    ec2Endpoint: `http://${LAB_NET.ec2Ip}`,
    kubeApiEndpoint: `http://${LAB_NET.kubeIp}:6443`,
    imdsEndpoint: `http://${LAB_NET.imdsIp}`,
    kubeconfig: names.kubeconfig,
    labSocket: names.labSock,
    subnetIds: world.subnetIds,
    securityGroupId: world.securityGroupId,
    ipamd: ipamdNote || "supervised",
    nodes: world.nodes.map((n) => {
      const s = supervisors[n.index];
      return {
        index: n.index,
        name: n.name,
        netns: n.netns,
        primaryIp: n.primaryIp,
        primaryMac: n.primaryMac,
        instanceId: n.instanceId,
        cniConfDir: names.cniConfDir(n.index),
        cniBinDir: names.binDir,
        ipamdSocket: names.ipamdSocket(n.index),
        ipamdLog: names.ipamdLog(n.index),
        imdsEndpoint: `http://${LAB_NET.imdsIp}`,
        ec2Calls: h.ec2Counts.of(n.instanceId).calls,
        ec2Rejected: h.ec2Counts.of(n.instanceId).rejected,
        ipamdPid: s?.pid ?? null,
        ipamdRestarts: s?.restarts ?? 0,
        ipamdExits: s?.exits ?? [],
      };
    }),
    ec2Calls: { ...world.model.calls },
    ec2CallsByCaller: h.ec2Counts.toJSON(),
    apiCounters: h.counters(),
    fabricErrors: world.fabricErrors,
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      log("daemon: stopping");
      await Promise.all(supervisors.map((s) => s.stop()));
      clearInterval(ticker);
      h.close();
      whoami.close();
      await Promise.all(servers.map((s) => s.shutdown().catch(() => {})));
      for (const p of [names.labSock, names.daemonPid]) {
        try {
          Deno.removeSync(p);
        } catch { /* gone */ }
      }
      log("daemon: stopped");
    })();

  const nodeByRef = (ref: string) => world.nodes.find((n) => n.name === ref || String(n.index) === ref);
  try {
    Deno.removeSync(names.labSock);
  } catch { /* absent */ }
  const control = Deno.serve(
    { path: names.labSock, ...quiet },
    controlHandler({
      ec2: h.ec2Control,
      kube: h.kube,
      imdsFor: (ref) => {
        const n = nodeByRef(ref);
        return n && h.imdsAs(n.primaryIp);
      },
      store: world.store,
      status,
      getFaults: h.getFaults,
      setFaults: h.setFaults,
      nodeName: (ref) => nodeByRef(ref)?.name,
      setIpamdRunning: async (ref, running) => {
        const n = nodeByRef(ref);
        const s = n && supervisors[n.index];
        if (!n || !s) return undefined;
        log(`daemon: ipamd on ${n.name} ${running ? "started" : "stopped"} by request`);
        if (running) s.start();
        else await s.stop();
        return { node: n.name, running, pid: s.pid ?? null };
      },
      endWatches: h.endWatches,
      shutdown: () => void stop().then(() => control.shutdown()),
    }),
  );
  Deno.chmodSync(names.labSock, 0o660);
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => void stop().then(() => control.shutdown()));
  }
  log(`daemon: ready on ${names.labSock}`);
  await control.finished;
  await stop();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { "state-dir": { type: "string" } },
    strict: true,
  });
  try {
    await runDaemon(values["state-dir"] ?? "/run/vpc-cni-lab");
    Deno.exit(0);
  } catch (e) {
    log(`daemon: fatal: ${(e as Error).stack ?? e}`);
    Deno.exit(1);
  }
}
