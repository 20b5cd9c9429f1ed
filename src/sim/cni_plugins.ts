/**
 * The CNI reference plugins (github.com/containernetworking/plugins) the lab chains and the tests run:
 * `go install`ed once into the shared build cache ({@linkcode cniPluginsDir}), then reused.
 * @module
 */
import { join } from "node:path";
import { buildCacheDir, present, runGo, withBuildLock } from "./go_build.ts";

/** The module and version installed. */
export const CNI_PLUGINS_MODULE = "github.com/containernetworking/plugins";
export const CNI_PLUGINS_VERSION = "v1.10.0";

/** Each plugin installed, with its package in the module. */
export const CNI_PLUGIN_PACKAGES: Readonly<Record<string, string>> = {
  portmap: "plugins/meta/portmap",
  bandwidth: "plugins/meta/bandwidth",
  tuning: "plugins/meta/tuning",
  ptp: "plugins/main/ptp",
  bridge: "plugins/main/bridge",
  loopback: "plugins/main/loopback",
  "host-local": "plugins/ipam/host-local",
};

/** Where the plugins are: `<cache>/cni-plugins-<version>/`. */
export function cniPluginsDir(): string {
  return join(buildCacheDir(), `cni-plugins-${CNI_PLUGINS_VERSION}`);
}

async function complete(dir: string): Promise<boolean> {
  for (const name of Object.keys(CNI_PLUGIN_PACKAGES)) {
    if (!await present(join(dir, name))) return false;
  }
  return true;
}

/**
 * Makes sure every plugin of {@linkcode CNI_PLUGIN_PACKAGES} is in {@linkcode cniPluginsDir}: one `go install`
 * into a temp dir, renamed into place, under a lock (parallel callers wait, then find it done).
 */
export async function ensureCniPlugins(
  log?: (line: string) => void,
): Promise<{ dir: string; built: boolean }> {
  const dir = cniPluginsDir();
  if (await complete(dir)) return { dir, built: false };
  return await withBuildLock(`cni-plugins-${CNI_PLUGINS_VERSION}`, async () => {
    if (await complete(dir)) return { dir, built: false };
    log?.(`building the CNI plugins ${CNI_PLUGINS_VERSION} with go install (once; cached in ${dir})`);
    const tmp = `${dir}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      const pkgs = Object.values(CNI_PLUGIN_PACKAGES).map((p) =>
        `${CNI_PLUGINS_MODULE}/${p}@${CNI_PLUGINS_VERSION}`
      );
      const stamp = `-X ${CNI_PLUGINS_MODULE}/pkg/utils/buildversion.BuildVersion=${CNI_PLUGINS_VERSION}`;
      await runGo(["install", "-trimpath", "-ldflags", stamp, ...pkgs], {
        what: `installing ${CNI_PLUGINS_MODULE} ${CNI_PLUGINS_VERSION}`,
        env: { GOBIN: tmp },
      });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, dir);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    return { dir, built: true };
  });
}
