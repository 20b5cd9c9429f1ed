/**
 * A private podman (4.x, CNI backend) for runtime tests: its own storage, runroot, tmp, CNI config and plugin
 * dirs, run inside a test "node" namespace with `nsenter --net` (not `ip netns exec`, which remounts /sys and
 * breaks runc's cgroup mounts). Containers run from a busybox-static rootfs (`--rootfs`), so no image is pulled.
 *
 * Learned from podman 4.3.1 with the CNI backend: it sends `CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=<container
 * name>`, `CNI_IFNAME=eth0`, `CNI_NETNS=/run/netns/netns-<uuid>` (it makes the namespace there); it probes each
 * plugin with VERSION (CNI_NETNS/CNI_PATH "dummy") before ADD and DEL; it passes the conflist's cniVersion
 * through, keeps the result in libcni's default cache `/var/lib/cni/results` and sends it as prevResult on
 * DEL. `--rootfs` is a flag: the rootfs path is the first positional argument.
 * @module
 */
import { cniPluginsDir } from "../../src/sim/cni_plugins.ts";
import { sh } from "../../harness/libcni.ts";

const dec = new TextDecoder();

/** Applets linked into the rootfs by default. */
export const BUSYBOX_APPLETS = [
  "sh",
  "ip",
  "ping",
  "sleep",
  "cat",
  "ls",
  "ifconfig",
  "nc",
  "hostname",
  "wget",
];

/** Makes a rootfs at `dir`: `/bin/busybox` (Debian's busybox-static) and a symlink per applet. */
export async function makeBusyboxRootfs(dir: string, applets: string[] = BUSYBOX_APPLETS): Promise<string> {
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  for (const d of ["etc", "proc", "sys", "dev", "tmp", "run"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.copyFile("/bin/busybox", `${dir}/bin/busybox`);
  await Deno.chmod(`${dir}/bin/busybox`, 0o755);
  for (const a of applets) await Deno.symlink("busybox", `${dir}/bin/${a}`);
  return dir;
}

/** A podman command that failed. */
export class PodmanError extends Error {
  constructor(readonly args: string[], readonly code: number, readonly stderr: string) {
    super(`podman ${args.join(" ")}: exit ${code}: ${stderr.trim()}`);
    this.name = "PodmanError";
  }
}

/** Options for {@linkcode PodmanEnv.create}. */
export interface PodmanEnvOptions {
  /** The node namespace (name or path) podman runs in. */
  nodeNetns: string;
  /** CNI plugin dirs, searched in order (default: the reference plugins, {@linkcode cniPluginsDir}). */
  pluginDirs?: string[];
  /** Parent for the private dir (default: the system temp dir). */
  parentDir?: string;
}

/** Options for {@linkcode PodmanEnv.run}. */
export interface RunOptions {
  name: string;
  /** The network (conflist name) to attach to. */
  network: string;
  /** Command (default `sleep 3600`). */
  cmd?: string[];
  /** `-p` publish specs, e.g. `18080:8080/tcp`. */
  publish?: string[];
  /** Extra `podman run` flags. */
  flags?: string[];
}

/** One private podman environment. Always {@linkcode PodmanEnv.destroy} it (try/finally). */
export class PodmanEnv {
  private constructor(
    /** The private dir holding everything below. */
    readonly dir: string,
    readonly nodeNetns: string,
    readonly pluginDirs: string[],
  ) {}

  /** The CNI config dir (`--network-config-dir`). */
  get cniConfigDir(): string {
    return `${this.dir}/cni`;
  }
  /** The busybox rootfs containers run from. */
  get rootfs(): string {
    return `${this.dir}/rootfs`;
  }
  get containersConf(): string {
    return `${this.dir}/containers.conf`;
  }

  /** Makes the private dirs, containers.conf and the rootfs. */
  static async create(opts: PodmanEnvOptions): Promise<PodmanEnv> {
    const dir = await Deno.makeTempDir({ dir: opts.parentDir, prefix: "vct-podman-" });
    const env = new PodmanEnv(dir, opts.nodeNetns, opts.pluginDirs ?? [cniPluginsDir()]);
    try {
      for (const d of ["root", "runroot", "tmp", "cni"]) await Deno.mkdir(`${dir}/${d}`);
      await makeBusyboxRootfs(env.rootfs);
      const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
      await Deno.writeTextFile(
        env.containersConf,
        [
          "[containers]",
          `default_ulimits = ${list(["nofile=20000:20000", "nproc=32768:32768"])}`,
          // Lets busybox ping use ICMP sockets without CAP_NET_RAW.
          `default_sysctls = ${list(["net.ipv4.ping_group_range=0 2147483647"])}`,
          "[network]",
          `network_backend = "cni"`,
          `cni_plugin_dirs = ${list(env.pluginDirs)}`,
          `network_config_dir = ${JSON.stringify(env.cniConfigDir)}`,
          "[engine]",
          `cgroup_manager = "cgroupfs"`,
          `events_logger = "none"`,
          `runtime = "runc"`,
          `tmp_dir = ${JSON.stringify(`${dir}/tmp`)}`,
          "",
        ].join("\n"),
      );
    } catch (e) {
      await Deno.remove(dir, { recursive: true });
      throw e;
    }
    return env;
  }

  /** Writes `<name>.conflist` into the CNI config dir; returns its path. */
  async writeConflist(conflist: { name: string; [key: string]: unknown }): Promise<string> {
    const path = `${this.cniConfigDir}/${conflist.name}.conflist`;
    await Deno.writeTextFile(path, JSON.stringify(conflist));
    return path;
  }

  /** Runs `podman <args>` in the node namespace with this environment; returns stdout. */
  async podman(args: string[]): Promise<string> {
    const full = [
      "--root",
      `${this.dir}/root`,
      "--runroot",
      `${this.dir}/runroot`,
      "--tmpdir",
      `${this.dir}/tmp`,
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--network-config-dir",
      this.cniConfigDir,
      "--events-backend",
      "none",
      ...args,
    ];
    const ns = this.nodeNetns.includes("/") ? this.nodeNetns : `/var/run/netns/${this.nodeNetns}`;
    const out = await new Deno.Command("nsenter", {
      args: [`--net=${ns}`, "--", "podman", ...full],
      env: { CONTAINERS_CONF: this.containersConf },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) throw new PodmanError(args, out.code, dec.decode(out.stderr));
    return dec.decode(out.stdout);
  }

  /** `podman run -d` from the busybox rootfs; returns the container ID. */
  async run(o: RunOptions): Promise<string> {
    const args = ["run", "-d", "--name", o.name, "--network", o.network];
    for (const p of o.publish ?? []) args.push("-p", p);
    args.push(...(o.flags ?? []), "--rootfs", this.rootfs, ...(o.cmd ?? ["sleep", "3600"]));
    return (await this.podman(args)).trim();
  }

  /** `podman exec`; returns stdout. */
  exec(name: string, cmd: string[]): Promise<string> {
    return this.podman(["exec", name, ...cmd]);
  }

  /** The container's settings on `network`: IP, MAC, and its namespace path. */
  async attachment(name: string, network: string): Promise<{ ip: string; mac: string; netns: string }> {
    const info = JSON.parse(await this.podman(["inspect", name]))[0];
    const n = info.NetworkSettings.Networks[network];
    return { ip: n.IPAddress, mac: n.MacAddress, netns: info.NetworkSettings.SandboxKey };
  }

  /** `podman rm -f -t 0` (no stop grace period). */
  async rm(...names: string[]): Promise<void> {
    await this.podman(["rm", "-f", "-t", "0", ...names]);
  }

  /** Removes every container, unmounts anything left under the dir, and deletes the dir. */
  async destroy(): Promise<void> {
    try {
      await this.podman(["rm", "-a", "-f", "-t", "0"]);
    } finally {
      const mounts = (await sh(["findmnt", "-rn", "-o", "TARGET"])).split("\n")
        .filter((m) => m.startsWith(`${this.dir}/`)).sort().reverse();
      for (const m of mounts) await sh(["umount", "-l", m]).catch(() => {});
      await Deno.remove(this.dir, { recursive: true });
    }
  }
}
