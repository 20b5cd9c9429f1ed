/**
 * Where `ipamd install` takes what it copies: beside a compiled ipamd (the image's `/app`), or, from source,
 * launcher scripts over the source tree and the system's libnl.
 * @module
 */
import { baseOf, dirOf } from "./atomic_file.ts";

/** The libnl sonames the ffi loader opens. */
export const LIBNL_SONAMES = ["libnl-3.so.200", "libnl-route-3.so.200"] as const;
/** The directory beside the plugin the ffi loader looks in. */
export const LIBNL_SUBDIR = "aws-cni-lib";
/**
 * The CNI reference plugins `ipamd install` copies when they are beside a compiled ipamd (the image's `/app`,
 * where the Containerfile puts the v1.10.0 ones). From source there is no default: pass `--portmap`/`--bandwidth`.
 */
export const CHAINED_PLUGINS = ["portmap", "bandwidth"] as const;

const SYSTEM_LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/lib64",
  "/usr/lib",
  "/lib",
];

/** What to install as `aws-cni`: a file to copy, or script text (the from-source launcher). */
export type PluginSource = { path: string } | { script: string };

/** Everything {@link defaultSources} picks; `null`: nothing to install. */
export interface InstallSources {
  plugin: PluginSource;
  egress: PluginSource | null;
  portmap: string | null;
  bandwidth: string | null;
  libnlFrom: string | null;
}

/** True when `p` is a regular file (following links). */
export function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** True when this process is a `deno compile`d ipamd (not `deno run` of the source). */
export function isCompiled(execPath = Deno.execPath()): boolean {
  return !/^deno(\.exe)?$/.test(baseOf(execPath));
}

/**
 * The from-source `aws-cni`: a shell script running `src/cni/main.ts` with the deno that runs this ipamd and
 * the compiled plugin's permissions. It points `VPC_CNI_LIBNL_DIR` at `<bin>/aws-cni-lib` (unless set), as a
 * compiled plugin finds the libraries beside itself.
 */
export function launcherScript(
  denoPath: string,
  repoDir: string,
  cniBinDir: string,
  entry = "src/cni/main.ts",
): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const perms = "--allow-all"; // as compile.sh: FFI is unsandboxed, and /proc/*/ns needs it
  return `#!/bin/sh\n# vpc-cni: runs the aws-cni plugin from source (no compiled binary was built).\n` +
    `: "\${VPC_CNI_LIBNL_DIR:=${cniBinDir}/${LIBNL_SUBDIR}}"\nexport VPC_CNI_LIBNL_DIR\n` +
    `exec ${q(denoPath)} run ${perms} --no-check --config ${q(`${repoDir}/deno.json`)} ${
      q(`${repoDir}/${entry}`)
    } "$@"\n`;
}

/** The directory holding both libnl sonames: `preferred` if it has them, else the first system dir. */
export function findLibnlDir(preferred?: string): string | undefined {
  for (const d of [...(preferred ? [preferred] : []), ...SYSTEM_LIB_DIRS]) {
    if (LIBNL_SONAMES.every((n) => isFile(`${d}/${n}`))) return d;
  }
  return undefined;
}

/**
 * Default sources: beside a compiled ipamd (the image's `/app`: the plugins, the reference portmap and bandwidth,
 * libnl); from source, launchers over the source tree, no portmap or bandwidth, and the system's libnl.
 */
export function defaultSources(cniBinDir: string, execPath = Deno.execPath()): InstallSources {
  const exeDir = dirOf(execPath);
  const compiled = isCompiled(execPath);
  const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const plugin: PluginSource = compiled
    ? { path: `${exeDir}/aws-cni` }
    : { script: launcherScript(execPath, repo, cniBinDir) };
  const egress: PluginSource | null = compiled
    ? (isFile(`${exeDir}/egress-cni`) ? { path: `${exeDir}/egress-cni` } : null)
    : { script: launcherScript(execPath, repo, cniBinDir, "src/egress/main.ts") };
  const [portmap, bandwidth] = CHAINED_PLUGINS.map((name) =>
    compiled && isFile(`${exeDir}/${name}`) ? `${exeDir}/${name}` : null
  );
  const libnlFrom = findLibnlDir(`${exeDir}/${LIBNL_SUBDIR}`) ?? null;
  return { plugin, egress, portmap, bandwidth, libnlFrom };
}
