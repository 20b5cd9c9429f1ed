/**
 * The lab daemon's world: the EC2 model (VPC, subnets, security group, one instance per node), the
 * Kubernetes store (one Node per instance), and the fabric listening to the model's ENI/IP events.
 */
import { lookupInstanceType } from "../aws/instance_types.ts";
import { maxPods } from "../ipamd/max_pods.ts";
import { cidrContains } from "../net/ipv4.ts";
import { type Ec2Event, Ec2Model } from "./ec2_model.ts";
import type { EniPlacement, Fabric } from "./fabric.ts";
import type { NodeCapacityInput } from "./k8s_node_status.ts";
import { KubeStore } from "./k8s_store.ts";
import { DETACH_LATENCY_MS } from "./realism.ts";
import type { LabConfig } from "./lab_state.ts";
import { LAB_NET, type LabNames } from "./naming.ts";

/** One lab node as the daemon knows it. */
export interface LabNode {
  index: number;
  name: string;
  netns: string;
  instanceId: string;
  primaryIp: string;
  primaryMac: string;
  /** The node's IPv6 address (its primary ENI's first; dual-stack labs only). */
  primaryIpv6?: string;
}

/** What the daemon serves and drives. */
export interface LabWorld {
  model: Ec2Model;
  store: KubeStore;
  nodes: LabNode[];
  subnetIds: string[];
  securityGroupId: string;
  /** Fabric errors seen while applying model events (newest last, at most 50). */
  fabricErrors: string[];
}

/**
 * Addresses to route for an event: each /28 prefix once, plus the addresses outside every prefix; then the
 * IPv6 addresses and /80 prefixes as they are.
 */
export function routables(
  ips: string[],
  prefixes: string[],
  v6: { ipv6?: string[]; ipv6Prefixes?: string[] } = {},
): string[] {
  return [
    ...prefixes,
    ...ips.filter((ip) => !prefixes.some((p) => cidrContains(p, ip))),
    ...(v6.ipv6 ?? []),
    ...(v6.ipv6Prefixes ?? []),
  ];
}

/**
 * What a lab node's kubelet reports as capacity: `--max-pods` as EKS sets it for the instance type (the
 * figure `ipamd max-pods` prints, with the prefix-delegation and custom-networking settings the lab's
 * ipamds run with) and the instance's vCPUs.
 */
export function labNodeCapacity(
  cfg: Pick<LabConfig, "instanceType" | "ipamdEnv" | "ipv6">,
): NodeCapacityInput {
  const info = lookupInstanceType(cfg.instanceType);
  if (!info) throw new RangeError(`unknown instance type "${cfg.instanceType}"`);
  const on = (k: string) => ["true", "1"].includes((cfg.ipamdEnv[k] ?? "").trim().toLowerCase());
  const prefixDelegation = on("ENABLE_PREFIX_DELEGATION") && info.hypervisor === "nitro";
  const ipv6 = on("ENABLE_IPv6") && info.hypervisor === "nitro";
  return {
    maxPods: ipv6
      ? maxPods(info, { ipv6 })
      : maxPods(info, { prefixDelegation, customNetworking: on("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG") }),
    vcpus: info.vcpus,
  };
}

/** Builds the model and store for `cfg`, wires the node ENIs into the fabric and subscribes it to events. */
export function buildWorld(
  names: LabNames,
  cfg: LabConfig,
  fabric: Fabric,
  log: (line: string) => void,
): LabWorld {
  const { model, nodeSubnet, extraSubnets, securityGroupId } = buildVpc(cfg);
  const store = new KubeStore();
  const nodes = launchNodes(names, cfg, { model, store, subnetId: nodeSubnet.subnetId, securityGroupId });
  const subnetCidr = new Map([nodeSubnet, ...extraSubnets].map((s) => [s.subnetId, s.cidrBlock]));
  // The primaries exist already: wire them from the model's records, then follow events.
  for (const n of nodes) {
    fabric.setupNode(n.index, { ipv6: !!cfg.ipv6 });
    for (const e of model.attachedEnis(n.instanceId)) {
      wireAttached(fabric, {
        eniId: e.id,
        node: n.index,
        deviceIndex: e.attachment!.deviceIndex,
        mac: e.mac,
        primaryIp: e.primaryIp,
        subnetCidr: subnetCidr.get(e.subnetId)!,
        ips: [...e.secondary.keys()],
        prefixes: [...e.prefixes.keys()],
        ipv6: [...e.ipv6.keys()],
        ipv6Prefixes: [...e.ipv6Prefixes.keys()],
      });
    }
  }
  const fabricErrors = followModelEvents(model, fabric, nodes, names, log);
  return {
    model,
    store,
    nodes,
    subnetIds: [nodeSubnet.subnetId, ...extraSubnets.map((s) => s.subnetId)],
    securityGroupId,
    fabricErrors,
  };
}

/** The EC2 model with the lab's VPC, node subnet, extra subnets and security group (dual stack: IPv6 too). */
function buildVpc(cfg: LabConfig) {
  const v6 = !!cfg.ipv6;
  const model = new Ec2Model({
    seed: cfg.seed,
    region: LAB_NET.region,
    vpcCidr: LAB_NET.vpcCidr,
    detachLatencyMs: DETACH_LATENCY_MS[cfg.latency],
    ...(v6 ? { vpcIpv6Cidr: LAB_NET.vpcIpv6Cidr } : {}),
  });
  // Dual stack: each subnet a /64 of the VPC's /56; the node subnet gives new ENIs an IPv6 address.
  const nodeSubnet = model.addSubnet({
    cidr: LAB_NET.nodeSubnet,
    availabilityZone: LAB_NET.az,
    tags: [{ key: "kubernetes.io/role/cni", value: "1" }, { key: "Name", value: "lab-nodes" }],
    ...(v6 ? { ipv6Cidr: LAB_NET.nodeSubnetIpv6, assignIpv6AddressOnCreation: true } : {}),
  });
  const extraSubnets = LAB_NET.extraSubnets.map((cidr, i) =>
    model.addSubnet({
      cidr,
      availabilityZone: LAB_NET.az,
      tags: [{ key: "Name", value: `lab-extra-${i + 1}` }],
      ...(v6 ? { ipv6Cidr: LAB_NET.extraSubnetsIpv6[i] } : {}),
    })
  );
  return { model, nodeSubnet, extraSubnets, securityGroupId: model.addSecurityGroup("lab-nodes") };
}

/** One instance per node in the node subnet, and its Kubernetes Node as a kubelet registers it. */
function launchNodes(
  names: LabNames,
  cfg: LabConfig,
  world: { model: Ec2Model; store: KubeStore; subnetId: string; securityGroupId: string },
): LabNode[] {
  const capacity = labNodeCapacity(cfg);
  const nodes: LabNode[] = [];
  for (let i = 0; i < cfg.nodes; i++) {
    const inst = world.model.launchInstance({
      instanceType: cfg.instanceType,
      subnetId: world.subnetId,
      securityGroupIds: [world.securityGroupId],
      tags: [{ key: "Name", value: names.nodeName(i) }],
    });
    const eni = inst.networkInterfaces.find((e) => e.attachment?.deviceIndex === 0) ??
      inst.networkInterfaces[0];
    const primaryIpv6 = eni.ipv6Addresses?.[0];
    nodes.push({
      index: i,
      name: names.nodeName(i),
      netns: names.nodeNs(i),
      instanceId: inst.instanceId,
      primaryIp: inst.privateIpAddress,
      primaryMac: eni.macAddress,
      ...(primaryIpv6 ? { primaryIpv6 } : {}),
    });
    world.store.addNode(names.nodeName(i), {
      providerID: `aws:///${inst.availabilityZone}/${inst.instanceId}`,
      internalIP: inst.privateIpAddress,
      capacity,
      labels: {
        "node.kubernetes.io/instance-type": cfg.instanceType,
        "topology.kubernetes.io/zone": inst.availabilityZone,
        "topology.kubernetes.io/region": LAB_NET.region,
      },
    });
  }
  return nodes;
}

/** An attached ENI with its addresses, as the fabric wires it. */
type AttachedEni = Omit<EniPlacement, "primaryIpv6"> & {
  ips: string[];
  prefixes: string[];
  ipv6?: string[];
  ipv6Prefixes?: string[];
};

/** Routes the ENI's addresses and attaches it (its first IPv6, if any, is the next hop of the others). */
function wireAttached(fabric: Fabric, e: AttachedEni): void {
  fabric.assign(e.eniId, routables(e.ips, e.prefixes, e));
  fabric.attach({
    eniId: e.eniId,
    node: e.node,
    deviceIndex: e.deviceIndex,
    mac: e.mac,
    primaryIp: e.primaryIp,
    subnetCidr: e.subnetCidr,
    ...(e.ipv6?.length ? { primaryIpv6: e.ipv6[0] } : {}),
  });
}

/**
 * Applies the model's ENI and address events to the fabric from now on. A failure is logged and kept in the
 * returned list (newest last, at most 50), never thrown into the model.
 */
function followModelEvents(
  model: Ec2Model,
  fabric: Fabric,
  nodes: LabNode[],
  names: LabNames,
  log: (line: string) => void,
): string[] {
  const byInstance = new Map(nodes.map((n) => [n.instanceId, n.index]));
  const fabricErrors: string[] = [];
  const apply = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      const line = `fabric: ${what}: ${(e as Error).stack ?? e}`;
      log(line);
      fabricErrors.push(line);
      if (fabricErrors.length > 50) fabricErrors.shift();
    }
  };
  model.subscribe((ev: Ec2Event) => {
    switch (ev.type) {
      case "eni-attached": {
        const node = byInstance.get(ev.instanceId);
        if (node === undefined) return;
        apply(`attach ${ev.eniId}`, () => wireAttached(fabric, { ...ev, node }));
        log(`fabric: ${ev.eniId} attached to ${names.nodeName(node)} as eth${ev.deviceIndex}`);
        return;
      }
      case "eni-detached":
        apply(`detach ${ev.eniId}`, () => fabric.detach(ev.eniId));
        return;
      case "eni-deleted":
        apply(`delete ${ev.eniId}`, () => fabric.forget(ev.eniId));
        return;
      case "ips-assigned":
        apply(`assign ${ev.eniId}`, () => fabric.assign(ev.eniId, routables(ev.ips, ev.prefixes, ev)));
        return;
      case "ips-unassigned":
        apply(`unassign ${ev.eniId}`, () => fabric.unassign(ev.eniId, routables(ev.ips, ev.prefixes, ev)));
        return;
    }
  });
  return fabricErrors;
}
