/**
 * `GET /lab/status`: the lab daemon's status document (endpoints, faults, per node its addresses, files,
 * EC2 calls and ipamd process, and the lab's counters). Its reader's type is `LabStatus` (daemon_client.ts).
 * @module
 */
import type { LabIpamds } from "./daemon_ipamds.ts";
import type { LabHandlers } from "./daemon_handlers.ts";
import type { LabWorld } from "./daemon_world.ts";
import type { LabConfig } from "./lab_state.ts";
import type { Fabric } from "./fabric.ts";
import { LAB_NET, type LabNames } from "./naming.ts";

/** The status document now. */
export function labStatusDoc(
  names: LabNames,
  cfg: LabConfig,
  world: LabWorld,
  handlers: LabHandlers,
  ipamds: LabIpamds,
  fabric?: Fabric,
) {
  return {
    id: names.id,
    stateDir: names.stateDir,
    daemonPid: Deno.pid,
    instanceType: cfg.instanceType,
    latency: cfg.latency,
    faults: handlers.getFaults(),
    vpcNetns: names.vpcNs,
    internetNetns: names.inetNs,
    whoami: `${LAB_NET.inetHostIp}:${LAB_NET.whoamiPort}`,
    // Dual stack: the IPv6 whoami, the VPC's /56, and what the router's IPv6 source/destination check dropped.
    ipv6: !!cfg.ipv6,
    ...(cfg.ipv6
      ? {
        whoami6: `[${LAB_NET.inetHostIp6}]:${LAB_NET.whoamiPort}`,
        vpcIpv6Cidr: LAB_NET.vpcIpv6Cidr,
        srcDstDropsV6: fabric?.srcDstDropsV6() ?? 0,
      }
      : {}),
    ec2Endpoint: `http://${LAB_NET.ec2Ip}`,
    kubeApiEndpoint: `http://${LAB_NET.kubeIp}:6443`,
    imdsEndpoint: `http://${LAB_NET.imdsIp}`,
    kubeconfig: names.kubeconfig,
    labSocket: names.labSock,
    subnetIds: world.subnetIds,
    securityGroupId: world.securityGroupId,
    ipamd: ipamds.note || "supervised",
    nodes: world.nodes.map((n) => {
      const s = ipamds.supervisors[n.index];
      return {
        index: n.index,
        name: n.name,
        netns: n.netns,
        primaryIp: n.primaryIp,
        ...(n.primaryIpv6 ? { primaryIpv6: n.primaryIpv6 } : {}),
        primaryMac: n.primaryMac,
        instanceId: n.instanceId,
        cniConfDir: names.cniConfDir(n.index),
        cniBinDir: names.binDir,
        ipamdSocket: names.ipamdSocket(n.index),
        ipamdLog: names.ipamdLog(n.index),
        mountNamespace: names.nodeMntns(n.index),
        agent: cfg.nodeAgents?.[String(n.index)] ? "custom" : "ipamd",
        imdsEndpoint: `http://${LAB_NET.imdsIp}`,
        ec2Calls: handlers.ec2Counts.of(n.instanceId).calls,
        ec2Rejected: handlers.ec2Counts.of(n.instanceId).rejected,
        ipamdPid: s?.pid ?? null,
        ipamdRestarts: s?.restarts ?? 0,
        ipamdExits: s?.exits ?? [],
      };
    }),
    ec2Calls: { ...world.model.calls },
    ec2CallsByCaller: handlers.ec2Counts.toJSON(),
    apiCounters: handlers.counters(),
    fabricErrors: world.fabricErrors,
  };
}
