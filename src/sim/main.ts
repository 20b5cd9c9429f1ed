/**
 * `deno task lab <verb>`: the lab CLI.
 *
 *   up [--nodes N] [--instance-type T] [--latency none|realistic] [--faults SPEC] [--ipamd-env K=V ...] [--no-ipamd]
 *      [--ipv6]
 *      [--node-agent I=FILE ...]   (FILE: JSON {argv, env?, cniBinDir?, conflist?}, node I's agent instead of ipamd)
 *   status [--json]
 *   pod add NAME [--node I] [--namespace NS] [--publish HOST:CONTAINER[/tcp|udp] ...]
 *   pod del NAME | pod check NAME | pod list [--json]
 *   faults [SPEC]
 *   down
 *
 * Every verb takes --state-dir (default /run/vpc-cni-lab).
 */
import { parseArgs } from "node:util";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { fetchStatus, LabDaemonUnreachableError, labJson } from "./daemon_client.ts";
import { labDown, labUp, type UpOptions } from "./daemon_launch.ts";
import { type NodeAgent, readLabConfig } from "./lab_state.ts";
import { DEFAULT_STATE_DIR, LabNames } from "./naming.ts";
import { parseFaults } from "./realism.ts";
import { podCheck, podDel, podList } from "./runtime_pod.ts";
import { labPodRun } from "./daemon_pods.ts";

/** A bad command line; printed with the usage hint and exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const USAGE = `usage: lab <verb> [--state-dir DIR]
  up [--nodes N] [--instance-type T] [--latency none|realistic] [--faults throttle=0.2,5xx=0.05,imds-lag=2s]
     [--ipamd-env KEY=VALUE ...] [--no-ipamd] [--ipv6] [--node-agent I=FILE.json ...]
  status [--json]
  pod add NAME [--node I] [--namespace NS] [--publish HOST:CONTAINER[/tcp|udp] ...]
  pod del NAME | pod check NAME | pod list [--json]
  faults [SPEC]
  down`;

const OPTIONS = {
  "state-dir": { type: "string" },
  nodes: { type: "string" },
  "instance-type": { type: "string" },
  latency: { type: "string" },
  faults: { type: "string" },
  "ipamd-env": { type: "string", multiple: true },
  "no-ipamd": { type: "boolean" },
  ipv6: { type: "boolean" },
  "node-agent": { type: "string", multiple: true },
  json: { type: "boolean" },
  node: { type: "string" },
  namespace: { type: "string" },
  publish: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

/** Allowed flags per verb (besides --state-dir and --help). */
const VERB_FLAGS: Record<string, string[]> = {
  up: ["nodes", "instance-type", "latency", "faults", "ipamd-env", "no-ipamd", "ipv6", "node-agent"],
  status: ["json"],
  pod: ["node", "namespace", "publish", "json"],
  faults: [],
  down: [],
};

function intFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new UsageError(`--${name} needs an integer ${min}..${max}, got "${text}"`);
  }
  return n;
}

function parsePublish(path: string): { hostPort: number; containerPort: number; protocol: "tcp" | "udp" } {
  const m = path.match(/^(\d+):(\d+)(?:\/(tcp|udp))?$/);
  if (!m) throw new UsageError(`--publish needs HOST:CONTAINER[/tcp|udp], got "${path}"`);
  return { hostPort: Number(m[1]), containerPort: Number(m[2]), protocol: (m[3] ?? "tcp") as "tcp" | "udp" };
}

function needRoot(verb: string): void {
  if (Deno.uid() !== 0) throw new Error(`${verb} needs root (network namespaces, netlink); run it with sudo`);
}

function print(json: boolean, value: unknown, text: string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text);
}

/** The parsed command line. */
type Args = ReturnType<typeof parseCli>;

/** Parses argv (strict: an unknown flag is a UsageError). */
function parseCli(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `up`'s flags, checked. */
function upOptions(flags: Args["values"], names: LabNames): UpOptions {
  const nodes = intFlag("nodes", flags.nodes, 1, 16);
  const instanceType = flags["instance-type"];
  if (instanceType && !lookupInstanceType(instanceType)) {
    throw new UsageError(`--instance-type ${instanceType} is not in the lab's catalogue`);
  }
  const latency = flags.latency;
  if (latency && latency !== "none" && latency !== "realistic") {
    throw new UsageError(`--latency needs none or realistic, got "${latency}"`);
  }
  if (flags.faults) {
    try {
      parseFaults(flags.faults);
    } catch (e) {
      throw new UsageError(`--faults: ${(e as Error).message}`);
    }
  }
  const ipamdEnv: Record<string, string> = {};
  for (const kv of flags["ipamd-env"] ?? []) {
    const m = kv.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s);
    if (!m) throw new UsageError(`--ipamd-env needs KEY=VALUE, got "${kv}"`);
    ipamdEnv[m[1]] = m[2];
  }
  return {
    stateDir: names.stateDir,
    nodes,
    instanceType,
    latency: latency as "none" | "realistic" | undefined,
    faults: flags.faults,
    ipamdEnv,
    ipamd: !flags["no-ipamd"],
    ipv6: !!flags.ipv6,
    nodeAgents: nodeAgentFlags(flags["node-agent"] ?? [], nodes ?? 2),
  };
}

/** `--node-agent I=FILE`: node I runs the agent FILE describes (JSON `NodeAgent`). */
function nodeAgentFlags(flags: string[], nodes: number): Record<string, NodeAgent> {
  const out: Record<string, NodeAgent> = {};
  for (const f of flags) {
    const m = f.match(/^(\d+)=(.+)$/s);
    if (!m || Number(m[1]) >= nodes) {
      throw new UsageError(`--node-agent needs I=FILE with I < ${nodes}, got "${f}"`);
    }
    let agent: NodeAgent;
    try {
      agent = JSON.parse(Deno.readTextFileSync(m[2]));
    } catch (e) {
      throw new UsageError(`--node-agent ${f}: ${(e as Error).message}`);
    }
    if (!Array.isArray(agent.argv) || !agent.argv.length || agent.argv.some((a) => typeof a !== "string")) {
      throw new UsageError(`--node-agent ${f}: "argv" must be a non-empty array of strings`);
    }
    out[m[1]] = agent;
  }
  return out;
}

/** `lab up`: brings the lab up (or says it already is). */
async function up(names: LabNames, { values: v, positionals: pos }: Args): Promise<number> {
  if (pos.length > 1) throw new UsageError(`up takes no arguments, got "${pos[1]}"`);
  const opts = upOptions(v, names);
  needRoot("up");
  const r = await labUp(opts);
  const s = r.status;
  if (r.already && (opts.nodes ?? s.nodes.length) !== s.nodes.length) {
    console.error(
      `lab: already up with ${s.nodes.length} nodes; flags ignored (lab down first to change them)`,
    );
  }
  console.log(
    `${r.already ? "lab already up" : "lab up"}: ${s.id} (${s.stateDir}), ${s.nodes.length} nodes; ` +
      `EC2 ${s.ec2Endpoint}, Kubernetes ${s.kubeApiEndpoint}, kubeconfig ${s.kubeconfig}; ipamd ${s.ipamd}`,
  );
  return 0;
}

/** `lab status [--json]`. */
async function status(names: LabNames, json: boolean): Promise<number> {
  readLabConfig(names); // a clear "no lab" before "daemon not answering"
  const s = await fetchStatus(names).catch((e) => {
    if (!(e instanceof LabDaemonUnreachableError)) throw e;
    throw new Error(
      `lab ${names.id} exists but its daemon is not answering (${e.message}); ` +
        `\`lab up\` restarts it from scratch, \`lab down\` removes it`,
    );
  });
  const lines = [
    `lab ${s.id} in ${s.stateDir}: daemon pid ${s.daemonPid}; ipamd ${s.ipamd}`,
    `EC2 ${s.ec2Endpoint}  Kubernetes ${s.kubeApiEndpoint}  IMDS ${s.imdsEndpoint}  whoami ${s.whoami}` +
    (s.ipv6 ? `  whoami6 ${s.whoami6}  VPC IPv6 ${s.vpcIpv6Cidr}` : ""),
    ...s.nodes.map((n) =>
      `  ${n.name}  ${n.instanceId}  ${n.primaryIp}${
        n.primaryIpv6 ? `  ${n.primaryIpv6}` : ""
      }  netns ${n.netns}  ipamd pid ${n.ipamdPid ?? "-"} ` +
      `restarts ${n.ipamdRestarts}  EC2 calls ${Object.values(n.ec2Calls).reduce((a, b) => a + b, 0)}`
    ),
    `EC2 calls: ${Object.entries(s.ec2Calls).map(([k, c]) => `${k}=${c}`).join(" ") || "none"}`,
  ];
  print(json, s, lines.join("\n"));
  return 0;
}

/** `lab pod add|del|check NAME` and `lab pod list`. */
async function pod(names: LabNames, { values: v, positionals: pos }: Args, json: boolean): Promise<number> {
  const sub = pos[1];
  const name = pos[2];
  if (sub === "list") {
    const pods = podList(names);
    print(
      json,
      pods,
      pods.map((p) => `${p.namespace}/${p.name}  node-${p.node}  ${p.podIp ?? "-"}  ${p.netns}`).join(
        "\n",
      ) ||
        "no pods",
    );
    return 0;
  }
  if (!["add", "del", "check"].includes(sub ?? "")) {
    throw new UsageError(`pod needs add, del, check or list`);
  }
  if (!name) throw new UsageError(`pod ${sub} needs a pod NAME`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new UsageError(`bad pod name "${name}"`);
  needRoot("pod");
  if (sub === "add") {
    const opts = {
      node: intFlag("node", v.node, 0, 15),
      namespace: v.namespace,
      portMappings: (v.publish ?? []).map(parsePublish),
    };
    // One request: the lab daemon adds the pod (retrying a CNI "try again later" as kubelet does).
    const rec = await labPodRun(names, name, opts);
    print(
      json,
      rec,
      `pod ${rec.namespace}/${rec.name} on node-${rec.node}: ${rec.podIp ?? "no IP"} (${rec.netns})`,
    );
  } else if (sub === "del") {
    const rec = await podDel(names, name);
    print(json, rec, `pod ${rec.namespace}/${rec.name} deleted`);
  } else {
    const rec = await podCheck(names, name);
    print(json, rec, `pod ${rec.namespace}/${rec.name}: CHECK ok`);
  }
  return 0;
}

/** `lab faults [SPEC]`: shows or replaces the lab's faults. */
async function faults(names: LabNames, spec: string | undefined): Promise<number> {
  const r = spec === undefined
    ? await labJson(names, "/lab/faults")
    : await labJson(names, "/lab/faults", "PUT", { faults: spec });
  console.log(JSON.stringify(r));
  return 0;
}

/** `lab down`. */
async function down(names: LabNames): Promise<number> {
  needRoot("down");
  const r = await labDown(names.stateDir);
  console.log(
    `lab down: ${names.id}: removed ${r.namespaces.length} namespaces, ended ${r.killed} processes`,
  );
  return 0;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseCli(argv);
  const { values: v, positionals: pos } = args;
  const verb = pos[0];
  if (v.help || !verb) {
    console.log(USAGE);
    return verb || v.help ? 0 : 2;
  }
  if (!(verb in VERB_FLAGS)) throw new UsageError(`unknown verb "${verb}"`);
  for (const k of Object.keys(v)) {
    if (k !== "state-dir" && !VERB_FLAGS[verb].includes(k)) {
      throw new UsageError(`${verb} does not take --${k}`);
    }
  }
  const names = new LabNames(v["state-dir"] ?? DEFAULT_STATE_DIR);
  const json = !!v.json;
  switch (verb) {
    case "up":
      return await up(names, args);
    case "status":
      return await status(names, json);
    case "pod":
      return await pod(names, args, json);
    case "faults":
      return await faults(names, pos[1]);
    case "down":
      return await down(names);
  }
  return 2;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`lab: ${e.message}\n${USAGE}`);
      Deno.exit(2);
    }
    console.error(`lab: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
