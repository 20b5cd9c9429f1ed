/**
 * Per-node mount namespaces: each lab node gets its own `/var/run/aws-node` and `/var/log/aws-routed-eni`, so
 * node agents with hard-coded paths (upstream's aws-node, our ipamd on its defaults) run side by side.
 *
 * - A node's mount namespace is made by `unshare --mount=<file> --propagation slave` and kept, like `ip netns`
 *   keeps network namespaces, by a bind mount of it on `<state>/mntns/node-<i>` (that directory is a private
 *   bind mount of itself, as `unshare` requires). Slave propagation lets the host's later mounts in (the pod
 *   network namespaces `ip netns add` binds under the shared `/run/netns`), and none go back.
 * - Inside it, `<state>/nodes/<i>/run` is bind-mounted on `/var/run/aws-node` and `<state>/nodes/<i>/log` on
 *   `/var/log/aws-routed-eni`: what the node writes there, the host reads under the state dir.
 * - Everything that acts as the node enters both its network and mount namespaces: {@linkcode nodeEnterArgv}.
 *   The mount points themselves must exist on the host: they are created when missing and left (removing
 *   them would detach other labs' node mounts).
 * @module
 */
import { dirname } from "node:path";
import type { LabNames } from "./naming.ts";

/** The node-private paths (upstream's), each with where the host keeps node i's copy. */
export const NODE_PRIVATE_DIRS: readonly { inNode: string; host: (names: LabNames, i: number) => string }[] =
  [
    { inNode: "/var/run/aws-node", host: (names, i) => names.nodeRunDir(i) },
    { inNode: "/var/log/aws-routed-eni", host: (names, i) => names.nodeLogDir(i) },
  ];

/** A mount command failed. */
export class MountNamespaceError extends Error {
  constructor(what: string, output: string) {
    super(`${what}: ${output.trim()}`);
    this.name = "MountNamespaceError";
  }
}

function run(what: string, cmd: string, args: string[]): void {
  const out = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  if (!out.success) throw new MountNamespaceError(what, dec.decode(out.stdout) + dec.decode(out.stderr));
}

/** The argv prefix that runs a command as node i: in its network and mount namespaces. */
export function nodeEnterArgv(names: LabNames, i: number): string[] {
  return ["nsenter", `--net=${names.nsPath(names.nodeNs(i))}`, `--mount=${names.nodeMntns(i)}`, "--"];
}

/** The mount point of an in-node path on this host (`/var/run` is usually a symlink to `/run`). */
function hostMountPoint(inNode: string): string {
  let parent: string;
  try {
    parent = Deno.realPathSync(dirname(inNode));
  } catch {
    parent = dirname(inNode);
  }
  return `${parent}/${inNode.slice(dirname(inNode).length + 1)}`;
}

/** Makes node i's mount namespace (see the module doc); the mntns directory must be prepared. */
function makeNodeMountNamespace(names: LabNames, i: number): void {
  const file = names.nodeMntns(i);
  Deno.writeTextFileSync(file, "");
  const binds: string[] = [];
  for (const d of NODE_PRIVATE_DIRS) {
    const host = d.host(names, i);
    Deno.mkdirSync(host, { recursive: true, mode: 0o755 });
    const target = hostMountPoint(d.inNode);
    Deno.mkdirSync(target, { recursive: true, mode: 0o755 });
    binds.push(`mount --bind '${host}' '${target}'`);
  }
  run(`node ${i}: unshare --mount=${file}`, "unshare", [
    `--mount=${file}`,
    "--propagation",
    "slave",
    "--",
    "sh",
    "-ec",
    binds.join("\n"),
  ]);
}

/** Creates every node's mount namespace; on failure, removes what it made and throws. */
export function createNodeMountNamespaces(names: LabNames, nodes: number): void {
  try {
    Deno.mkdirSync(names.mntnsDir, { recursive: true, mode: 0o755 });
    run("bind the mntns directory", "mount", ["--bind", names.mntnsDir, names.mntnsDir]);
    run("make the mntns directory private", "mount", ["--make-private", names.mntnsDir]);
    for (let i = 0; i < nodes; i++) makeNodeMountNamespace(names, i);
  } catch (e) {
    removeNodeMountNamespaces(names);
    throw e;
  }
}

/** The mount points under `dir` (itself included), deepest first, from /proc/self/mountinfo. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const target = line.split(" ")[4];
    if (!target) continue;
    const path = target.replaceAll("\\040", " ");
    if (path === dir || path.startsWith(`${dir}/`)) out.push(path);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Removes every node mount namespace and the mntns directory (idempotent). A namespace goes away once its
 * file is unmounted and no process is left in it (the lab's processes are ended first).
 */
export function removeNodeMountNamespaces(names: LabNames): void {
  for (const m of mountsUnder(names.mntnsDir)) {
    try {
      run(`umount ${m}`, "umount", [m]);
    } catch {
      run(`umount -l ${m}`, "umount", ["-l", m]);
    }
  }
  try {
    Deno.removeSync(names.mntnsDir, { recursive: true });
  } catch { /* absent */ }
}
