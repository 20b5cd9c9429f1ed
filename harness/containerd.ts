/**
 * A private containerd (Debian's 1.6, with its CRI plugin) for one lab node, driven over CRI by our Go client
 * (`tests/cri/client`, k8s.io/cri-api from its go.mod) as kubelet drives it. It runs as the node does, in the
 * node's network and mount namespaces, with its own root, state, socket, runc root, cgroup parent and config;
 * its CNI conf and bin dirs are the lab node's (`10-aws.conflist`, aws-cni and the reference plugins). The
 * mounts it makes (shm, rootfs, sandbox netns) live in the node's mount namespace. {@linkcode LabContainerd.stop}
 * undoes everything, also after a failure: sandboxes, containerd, its shims and their containers, mounts, shim
 * sockets, cgroups and files.
 * @module
 */
import { terminate } from "../src/sim/fabric_netns.ts";
import { ensureGoProgram } from "../src/sim/go_build.ts";
import { sh } from "./libcni.ts";
import { until } from "./poll.ts";
import { PAUSE_IMAGE, writePauseImage } from "./pause_image.ts";

const CLIENT_DIR = new URL("../tests/cri/client/", import.meta.url).pathname;
const dec = new TextDecoder();

/** Builds the CRI client into the shared build cache (once); `built` says whether it was built now. */
export function buildCriClient(): Promise<{ path: string; built: boolean }> {
  return ensureGoProgram({ name: "cri-client", dir: CLIENT_DIR });
}

/** A failed CRI call: the gRPC code and message containerd answered. */
export class CriError extends Error {
  constructor(readonly verb: string, readonly grpcCode: string, readonly detail: string) {
    super(`CRI ${verb}: ${grpcCode}: ${detail}`);
    this.name = "CriError";
  }
}

/** Where the lab node's CNI files are, and the node's namespaces. */
export interface ContainerdNode {
  /** The node's network namespace (name under /var/run/netns). */
  netns: string;
  /** The node's mount namespace (a bind-mounted nsfs file), when the lab gives nodes one. */
  mountNamespace?: string;
  cniConfDir: string;
  cniBinDir: string;
}

/** argv prefix entering the node's network (and mount) namespace. */
function enterNode(node: ContainerdNode): string[] {
  const mnt = node.mountNamespace ? [`--mount=${node.mountNamespace}`] : [];
  return ["nsenter", `--net=/var/run/netns/${node.netns}`, ...mnt, "--"];
}

function configToml(dir: string, node: ContainerdNode): string {
  const q = JSON.stringify;
  return `version = 2
root = ${q(`${dir}/root`)}
state = ${q(`${dir}/state`)}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs"]

[grpc]
  address = ${q(`${dir}/containerd.sock`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(`${dir}/opt`)}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(PAUSE_IMAGE)}
  disable_apparmor = true
  # No CAP_SYS_RESOURCE here: the sandbox cannot get a lower oom_score_adj than containerd (-998 by default).
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(node.cniBinDir)}
    conf_dir = ${q(node.cniConfDir)}
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ${q(`${dir}/runc`)}
        SystemdCgroup = false
`;
}

/** One containerd on one lab node. Always {@linkcode stop} it (try/finally). */
export class LabContainerd {
  #child?: Deno.ChildProcess;
  #exited = false;
  #client = "";

  private constructor(
    /** The private dir holding root, state, socket, config and log. */
    readonly dir: string,
    readonly node: ContainerdNode,
    /** The cgroup parent given to every sandbox (`/vct-<random>`), removed by stop(). */
    readonly cgroupParent: string,
  ) {}

  /** containerd's pid (it is exec'd by nsenter, so the pid is the daemon's). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  get socket(): string {
    return `${this.dir}/containerd.sock`;
  }
  get log(): string {
    return `${this.dir}/containerd.log`;
  }

  /** Starts containerd in the node's namespace, imports the pause image and waits until CRI sees it. */
  static async start(node: ContainerdNode): Promise<LabContainerd> {
    const dir = await Deno.makeTempDir({ prefix: "vct-ctrd-" });
    const c = new LabContainerd(dir, node, `/vct-${dir.slice(-6).replace(/[^a-zA-Z0-9]/g, "x")}`);
    try {
      c.#client = (await buildCriClient()).path;
      await Deno.writeTextFile(`${dir}/config.toml`, configToml(dir, node));
      await writePauseImage(`${dir}/pause.tar`, `${dir}/pause-build`);
      c.#child = new Deno.Command("sh", {
        args: [
          "-c",
          'exec "$@" >>"$0" 2>&1',
          c.log,
          ...enterNode(node),
          "containerd",
          "--config",
          `${dir}/config.toml`,
        ],
        stdin: "null",
      }).spawn();
      c.#child.status.then(() => c.#exited = true);
      await until("containerd answers on CRI", async () => {
        if (c.#exited) throw new Error(`containerd exited:\n${await c.logTail()}`);
        return await c.cri("version", []).then(() => true, () => false);
      }, 60_000);
      await sh([
        "ctr",
        "--address",
        c.socket,
        "-n",
        "k8s.io",
        "images",
        "import",
        "--snapshotter",
        "native",
        `${dir}/pause.tar`,
      ]);
      await until(
        "CRI sees the pause image",
        async () => (await c.cri<{ present: boolean }>("image-status", ["--image", PAUSE_IMAGE])).present,
        30_000,
      );
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** The last lines of containerd's log. */
  async logTail(lines = 40): Promise<string> {
    return (await Deno.readTextFile(this.log).catch(() => "")).split("\n").slice(-lines).join("\n");
  }

  /** One CRI call (`version`, `image-status`, `run`, `status`, `stop`, `remove`, `list`); its JSON answer. */
  async cri<T = Record<string, unknown>>(verb: string, args: string[]): Promise<T> {
    const out = await new Deno.Command(this.#client, {
      args: ["--socket", this.socket, verb, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = dec.decode(out.stdout).trim();
    if (!out.success) {
      let e: { grpcCode?: string; message?: string } = {};
      try {
        e = JSON.parse(text);
      } catch { /* not JSON */ }
      throw new CriError(
        verb,
        e.grpcCode ?? `exit ${out.code}`,
        e.message ?? (text + dec.decode(out.stderr)),
      );
    }
    return JSON.parse(text) as T;
  }

  /** RunPodSandbox for a pod; resolves to the sandbox ID. */
  async runPodSandbox(
    p: { name: string; namespace: string; uid: string; attempt?: number },
  ): Promise<string> {
    const r = await this.cri<{ pod_sandbox_id: string }>("run", [
      "--name",
      p.name,
      "--namespace",
      p.namespace,
      "--uid",
      p.uid,
      "--attempt",
      String(p.attempt ?? 0),
      "--cgroup-parent",
      this.cgroupParent,
    ]);
    return r.pod_sandbox_id;
  }

  /** Stops and removes every sandbox, stops containerd, and removes everything it made. Never throws. */
  async stop(): Promise<void> {
    if (this.#child) {
      try {
        const list = await this.cri<{ items?: { id: string }[] }>("list", []);
        for (const s of list.items ?? []) {
          await this.cri("stop", ["--id", s.id]).catch(() => {});
          await this.cri("remove", ["--id", s.id]).catch(() => {});
        }
      } catch { /* containerd is not answering: the steps below still clean up */ }
      await this.#stopDaemon();
    }
    await this.#reapContainers();
    await this.#unmountAll();
    await this.#removeShimSockets();
    await this.#removeCgroups();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async #stopDaemon(): Promise<void> {
    await terminate([this.#child!.pid], 15_000);
    await this.#child!.status;
  }

  /** Shims started for this containerd (their `-address` is our socket): their containers, then the shims. */
  async #reapContainers(): Promise<void> {
    const runcRoot = `${this.dir}/runc/k8s.io`;
    for (const e of await readDir(runcRoot)) {
      await sh(["runc", "--root", runcRoot, "delete", "--force", e]).catch(() => {});
    }
    for (const pid of shimPids(this.socket)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }

  /** Unmounts what containerd mounted under its dir, in the node's mount namespace and in ours. */
  async #unmountAll(): Promise<void> {
    const where = this.node.mountNamespace
      ? [["nsenter", `--mount=${this.node.mountNamespace}`, "--"], []]
      : [[]];
    for (const pre of where) {
      const mounts = (await sh([...pre, "findmnt", "-rn", "-o", "TARGET"]).catch(() => "")).split("\n")
        .filter((m) => m.startsWith(`${this.dir}/`)).sort().reverse();
      for (const m of mounts) await sh([...pre, "umount", "-l", m]).catch(() => {});
    }
  }

  /** The shims' sockets live under /run/containerd/s/; each task's `address` file names its own. */
  async #removeShimSockets(): Promise<void> {
    const tasks = `${this.dir}/state/io.containerd.runtime.v2.task/k8s.io`;
    for (const id of await readDir(tasks)) {
      const addr = (await Deno.readTextFile(`${tasks}/${id}/address`).catch(() => "")).trim();
      if (addr.startsWith("unix:///run/containerd/s/")) {
        await Deno.remove(addr.slice("unix://".length)).catch(() => {});
      }
    }
  }

  async #removeCgroups(): Promise<void> {
    for (const ctrl of await readDir("/sys/fs/cgroup")) {
      const base = `/sys/fs/cgroup/${ctrl}${this.cgroupParent}`;
      for (const sub of await readDir(base)) {
        if ((await Deno.stat(`${base}/${sub}`).catch(() => undefined))?.isDirectory) {
          await Deno.remove(`${base}/${sub}`).catch(() => {});
        }
      }
      await Deno.remove(base).catch(() => {});
    }
  }
}

async function readDir(path: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Pids of containerd shims whose command line names `socket` as their containerd address. */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv[0].includes("containerd-shim") && argv.includes(socket)) pids.push(Number(e.name));
    } catch { /* gone */ }
  }
  return pids;
}
