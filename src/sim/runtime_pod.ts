/**
 * `lab pod add|del|check|list`: what a kubelet + container runtime do for a pod on a lab node: register the
 * Pod with the API server, make its network namespace, run the node's conflist, set status.podIP.
 */
import { Netlink } from "../../ffi/mod.ts";
import { labJson } from "./daemon_client.ts";
import { netnsAdd, netnsDel, netnsExists } from "./fabric_netns.ts";
import {
  type LabConfig,
  listPodRecords,
  type PodRecord,
  readJsonFile,
  readLabConfig,
  readPodRecord,
  removePodRecord,
  writePodRecord,
} from "./lab_state.ts";
import type { LabNames } from "./naming.ts";
import {
  addNetworkList,
  type Attachment,
  checkNetworkList,
  delNetworkList,
  k8sCniArgs,
  readConflist,
  type RuntimeOptions,
} from "./runtime.ts";

/** A pod command was given something impossible (unknown pod, duplicate, bad node). */
export class PodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PodError";
  }
}

/**
 * The Kubernetes side of a pod: register it, publish its IP, remove it. Over lab.sock ({@linkcode labPodApi})
 * for a process outside the daemon; the daemon's own store when the daemon adds the pod (`lab pod add`).
 */
export interface PodApi {
  create(namespace: string, name: string, node: number): Promise<{ uid: string }>;
  setIp(namespace: string, name: string, ip: string): Promise<void>;
  remove(namespace: string, name: string): Promise<void>;
}

/** {@linkcode PodApi} over the lab's socket. */
export function labPodApi(names: LabNames): PodApi {
  return {
    create: async (namespace, name, node) =>
      (await labJson<{ metadata: { uid: string } }>(names, "/lab/pods", "POST", {
        namespace,
        name,
        node: String(node),
      })).metadata,
    setIp: async (namespace, name, ip) => {
      await labJson(names, `/lab/pods/${namespace}/${name}/ip`, "PUT", { ip });
    },
    remove: async (namespace, name) => {
      await labJson(names, `/lab/pods/${namespace}/${name}`, "DELETE");
    },
  };
}

/** Options of pod add. */
export interface PodAddOptions {
  node?: number;
  namespace?: string;
  /** Port mappings for portmap: `{hostPort, containerPort, protocol}`. */
  portMappings?: { hostPort: number; containerPort: number; protocol: "tcp" | "udp" }[];
}

function attachmentOf(names: LabNames, rec: PodRecord): Attachment {
  return {
    containerId: rec.containerId,
    netns: netnsExists(rec.netns) ? names.nsPath(rec.netns) : "",
    ifName: rec.ifName,
    args: k8sCniArgs({
      namespace: rec.namespace,
      name: rec.name,
      uid: rec.uid,
      containerId: rec.containerId,
    }),
  };
}

/** How node i's runtime runs plugins: in its network and mount namespaces, from its agent's plugin dir. */
function runtimeOptions(names: LabNames, node: number): RuntimeOptions {
  const agent = readJsonFile<LabConfig>(names.labJson)?.nodeAgents?.[String(node)];
  return {
    binDir: agent?.cniBinDir ?? names.binDir,
    nodeNs: names.nodeNs(node),
    nodeMntns: names.nodeMntns(node),
  };
}

function randomContainerId(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The first IPv4 address of a CNI result, without its prefix length. */
export function resultIp(result: Record<string, unknown>): string | undefined {
  const ips = result.ips as { address?: string }[] | undefined;
  return ips?.[0]?.address?.split("/")[0];
}

/** Adds a pod on a node: API object, namespace, CNI ADD through the chain, podIP. */
export async function podAdd(
  names: LabNames,
  name: string,
  o: PodAddOptions = {},
  api: PodApi = labPodApi(names),
): Promise<PodRecord> {
  const cfg = readLabConfig(names);
  const node = o.node ?? 0;
  const namespace = o.namespace ?? "default";
  if (!Number.isInteger(node) || node < 0 || node >= cfg.nodes) {
    throw new PodError(`--node ${node}: the lab has nodes 0..${cfg.nodes - 1}`);
  }
  if (readPodRecord(names, name)) {
    throw new PodError(`pod ${name} already exists (lab pod del ${name} first)`);
  }
  const pod = { metadata: await api.create(namespace, name, node) };
  const netns = names.podNs(name, namespace);
  const rec: PodRecord = {
    name,
    namespace,
    uid: pod.metadata.uid,
    node,
    netns,
    containerId: randomContainerId(),
    ifName: "eth0",
    result: {},
    addedAt: new Date().toISOString(),
  };
  const list = readConflist(names.conflistPath(node));
  try {
    netnsAdd(netns);
    const nl = Netlink.open(netns);
    try {
      nl.linkSetUp("lo");
    } finally {
      nl.close();
    }
    const att = attachmentOf(names, rec);
    if (o.portMappings?.length) att.capabilityArgs = { portMappings: o.portMappings };
    rec.result = await addNetworkList(list, att, runtimeOptions(names, node));
    rec.podIp = resultIp(rec.result);
    writePodRecord(names, rec);
    if (rec.podIp) await api.setIp(namespace, name, rec.podIp);
    return rec;
  } catch (e) {
    // Like a runtime after a failed ADD: DEL the chain, drop the sandbox, give up the pod.
    await delNetworkList(list, attachmentOf(names, rec), runtimeOptions(names, node)).catch(() => {});
    netnsDel(netns);
    removePodRecord(names, name);
    await api.remove(namespace, name).catch(() => {});
    throw e;
  }
}

/** Deletes a pod: CNI DEL in reverse with the cached result, namespace, API object, record. */
export async function podDel(names: LabNames, name: string): Promise<PodRecord> {
  const rec = readPodRecord(names, name);
  if (!rec) throw new PodError(`no pod ${name} in this lab (see lab pod list)`);
  const list = readConflist(names.conflistPath(rec.node));
  await delNetworkList(list, attachmentOf(names, rec), runtimeOptions(names, rec.node), rec.result);
  netnsDel(rec.netns);
  await labJson(names, `/lab/pods/${rec.namespace}/${name}`, "DELETE").catch((e) => {
    if (!String(e.message).includes("404")) throw e;
  });
  removePodRecord(names, name);
  return rec;
}

/** CNI CHECK through the chain with the cached result. */
export async function podCheck(names: LabNames, name: string): Promise<PodRecord> {
  const rec = readPodRecord(names, name);
  if (!rec) throw new PodError(`no pod ${name} in this lab (see lab pod list)`);
  const list = readConflist(names.conflistPath(rec.node));
  await checkNetworkList(list, attachmentOf(names, rec), runtimeOptions(names, rec.node), rec.result);
  return rec;
}

/** Every pod the lab wired. */
export function podList(names: LabNames): PodRecord[] {
  return listPodRecords(names);
}
