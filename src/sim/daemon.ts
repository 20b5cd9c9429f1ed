/**
 * The lab daemon: runs inside the lab's vpc namespace (started by `lab up`). It builds the EC2 model and
 * the Kubernetes store, serves EC2 on 10.0.255.254:80, Kubernetes on 10.0.255.253:6443, IMDS on
 * 169.254.169.254:80 and everything on `<state>/lab.sock`, drives the fabric from the model's events, runs
 * the internet namespace's whoami service, and supervises one ipamd per node. SIGTERM stops it all.
 *
 * Usage: deno run -A src/sim/daemon.ts --state-dir DIR
 */
import { parseArgs } from "node:util";
import { writeKubeconfig } from "./kubeconfig.ts";
import { controlHandler } from "./daemon_control.ts";
import { type PodRunRequest, runPod, storePodApi } from "./daemon_pods.ts";
import { type LabIpamds, superviseIpamds } from "./daemon_ipamds.ts";
import { labStatusDoc } from "./daemon_status.ts";
import { type LabHandlers, makeHandlers } from "./daemon_handlers.ts";
import { startWhoami } from "./daemon_whoami.ts";
import { buildWorld, type LabWorld } from "./daemon_world.ts";
import { Fabric } from "./fabric.ts";
import { writeNodeConflists } from "./runtime_node.ts";
import { type LabConfig, readLabConfig } from "./lab_state.ts";
import { LAB_NET, LabNames } from "./naming.ts";

function log(line: string): void {
  console.error(`${new Date().toISOString()} ${line}`);
}

/** The lab's world, its servers and ipamds: what the control socket serves and stop() ends. */
interface RunningLab {
  names: LabNames;
  cfg: LabConfig;
  world: LabWorld;
  h: LabHandlers;
  ipamds: LabIpamds;
  fabric: Fabric;
  stop: () => Promise<void>;
}

/** The model, store and fabric, the kubeconfig, then the EC2, Kubernetes and IMDS servers and whoami. */
async function startWorld(names: LabNames, cfg: LabConfig) {
  const fabric = new Fabric(names);
  fabric.setupRouter(undefined, { ipv6: cfg.ipv6 });
  const world = buildWorld(names, cfg, fabric, log);
  for (const n of world.nodes) {
    log(
      `daemon: ${n.name} ${n.instanceId} ${n.primaryIp}${
        n.primaryIpv6 ? ` ${n.primaryIpv6}` : ""
      } (${n.netns})`,
    );
  }
  // Dual stack: egress-cni SNATs pods' IPv4 to their node's address, which the conflist names.
  if (cfg.ipv6) writeNodeConflists(names, cfg.nodes, world.nodes.map((n) => n.primaryIp), cfg.nodeAgents);
  await writeKubeconfig(names.kubeconfig, { server: `http://${LAB_NET.kubeIp}:6443` });
  const h = makeHandlers(world, cfg);
  const quiet = { onListen() {} };
  const servers = [
    Deno.serve({ hostname: LAB_NET.ec2Ip, port: 80, ...quiet }, h.ec2),
    Deno.serve({ hostname: LAB_NET.kubeIp, port: 6443, ...quiet }, h.kube),
    Deno.serve({ hostname: LAB_NET.imdsIp, port: 80, ...quiet }, h.imds),
  ];
  // The IPv4 whoami (0.0.0.0) and, in a dual-stack lab, the IPv6 one on the internet host's IPv6 address.
  const whoamis = [
    startWhoami(names.inetNs, LAB_NET.whoamiPort),
    ...(cfg.ipv6 ? [startWhoami(names.inetNs, LAB_NET.whoamiPort, LAB_NET.inetHostIp6)] : []),
  ];
  // Timed model transitions (detaching → available) settle on reads; tick so the fabric hears them.
  const ticker = setInterval(() => world.model.tick(), 200);
  const close = async () => {
    clearInterval(ticker);
    h.close();
    for (const w of whoamis) w.close();
    await Promise.all(servers.map((s) => s.shutdown().catch(() => {})));
  };
  return { world, h, fabric, close };
}

/** Serves `<state>/lab.sock` (mode 0660): the APIs as each node sees them, status, faults, pods, shutdown. */
function serveControl(lab: RunningLab): Deno.HttpServer {
  const { names, world, h, ipamds } = lab;
  const supervisors = ipamds.supervisors;
  const status = () => labStatusDoc(names, lab.cfg, world, h, ipamds, lab.fabric);
  const nodeByRef = (ref: string) => world.nodes.find((n) => n.name === ref || String(n.index) === ref);
  try {
    Deno.removeSync(names.labSock);
  } catch { /* absent */ }
  const control: Deno.HttpServer = Deno.serve(
    { path: names.labSock, onListen() {} },
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
      runPod: (b) =>
        runPod(names, storePodApi(world.store, (i) => world.nodes[i]?.name), b as PodRunRequest, log),
      endWatches: h.endWatches,
      shutdown: () => void lab.stop().then(() => control.shutdown()),
    }),
  );
  Deno.chmodSync(names.labSock, 0o660);
  return control;
}

/** Starts the lab daemon for `stateDir`; resolves when it has shut down (lab.sock shutdown or a signal). */
export async function runLabDaemon(stateDir: string): Promise<void> {
  const names = new LabNames(stateDir);
  const cfg = readLabConfig(names);
  Deno.writeTextFileSync(names.daemonPid, `${Deno.pid}\n`);
  log(`daemon: lab ${names.id} in ${names.stateDir}, ${cfg.nodes} x ${cfg.instanceType}`);
  const { world, h, fabric, close } = await startWorld(names, cfg);
  const ipamds = superviseIpamds(names, cfg, world.nodes, log);
  if (ipamds.note) log(`daemon: ipamd ${ipamds.note}`);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      log("daemon: stopping");
      await Promise.all(ipamds.supervisors.map((s) => s.stop()));
      await close();
      for (const p of [names.labSock, names.daemonPid]) {
        try {
          Deno.removeSync(p);
        } catch { /* gone */ }
      }
      log("daemon: stopped");
    })();
  const control = serveControl({ names, cfg, world, h, ipamds, fabric, stop });
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
    await runLabDaemon(values["state-dir"] ?? "/run/vpc-cni-lab");
    Deno.exit(0);
  } catch (e) {
    log(`daemon: fatal: ${(e as Error).stack ?? e}`);
    Deno.exit(1);
  }
}
