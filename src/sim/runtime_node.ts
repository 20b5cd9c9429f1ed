/**
 * A lab node's CNI files: `<state>/bin/` (aws-cni, egress-cni, and the reference plugins: portmap, bandwidth,
 * tuning, loopback, …) and `nodes/<i>/net.d/10-aws.conflist`.
 */
import { join } from "node:path";
import { EGRESS_V4_SUBNET } from "../ipamd/ipv6_mode.ts";
import { exists, type LabConfig } from "./lab_state.ts";
import type { LabNames } from "./naming.ts";
import type { Conflist } from "./runtime.ts";
import { BUNDLE_ENTRY, BUNDLE_RUN_FLAGS, ensurePluginBundle } from "./plugin_bundle.ts";

/**
 * The conflist a lab node's runtime reads. With `egressNodeIp` (a dual-stack lab, ipamd in IPv6 mode) it
 * chains egress-cni after aws-cni as `ipamd install` does, with its log and IPAM state in the node's dir.
 */
export function nodeConflist(names: LabNames, node: number, egressNodeIp?: string): Conflist {
  const egress = egressNodeIp === undefined ? [] : [{
    type: "egress-cni",
    name: "egress-cni",
    mtu: "9001",
    enabled: "true",
    randomizeSNAT: "prng",
    nodeIP: egressNodeIp,
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: EGRESS_V4_SUBNET }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: names.egressDataDir(node),
    },
    pluginLogFile: names.egressPluginLog(node),
    pluginLogLevel: "DEBUG",
  }];
  return {
    cniVersion: "0.4.0",
    name: "aws-cni",
    plugins: [
      {
        type: "aws-cni",
        name: "aws-cni",
        vethPrefix: "eni",
        mtu: "9001",
        ipamdSocket: names.ipamdSocket(node),
        pluginLogFile: names.pluginLog(node),
        pluginLogLevel: "DEBUG",
      },
      ...egress,
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/**
 * Writes every node's conflist: its agent's when it has one, else the lab's; `egressNodeIps[i]` chains
 * egress-cni on node i (dual-stack labs).
 */
export function writeNodeConflists(
  names: LabNames,
  nodes: number,
  egressNodeIps?: string[],
  agents: LabConfig["nodeAgents"] = {},
): void {
  for (let i = 0; i < nodes; i++) {
    Deno.mkdirSync(names.cniConfDir(i), { recursive: true });
    const list = agents[String(i)]?.conflist ?? nodeConflist(names, i, egressNodeIps?.[i]);
    Deno.writeTextFileSync(names.conflistPath(i), JSON.stringify(list, null, 2) + "\n");
  }
}

/** Our plugins and their entry points. */
const OWN_PLUGINS = [["aws-cni", "src/cni/main.ts"], ["egress-cni", "src/egress/main.ts"]] as const;

/**
 * Bundles of our plugins for {@linkcode writeBinDir} (made once per source change, in the build cache). A
 * plugin that cannot be bundled runs from source, and `onError` says why.
 */
export async function pluginBundles(
  repoDir: string,
  deno: string,
  onError: (line: string) => void = (l) => console.error(l),
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, entry] of OWN_PLUGINS) {
    try {
      out[name] = await ensurePluginBundle({ name, entry, repoDir, deno });
    } catch (e) {
      onError(`lab: ${name} runs from source: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * Fills `<state>/bin`: aws-cni (and egress-cni) is `dist/<name>` when it was compiled, else an honest launcher
 * script that runs the plugin with deno: its bundle when `bundles` names one (src/sim/plugin_bundle.ts), else
 * its source; every plugin in `pluginsDir` (the reference plugins, see src/sim/cni_plugins.ts) is linked
 * beside them.
 */
export function writeBinDir(
  names: LabNames,
  repoDir: string,
  denoPath: string,
  pluginsDir: string,
  bundles: Record<string, string> = {},
): void {
  Deno.mkdirSync(names.binDir, { recursive: true });
  for (const [name, entry] of OWN_PLUGINS) {
    const dest = join(names.binDir, name);
    const compiled = join(repoDir, "dist", name);
    try {
      Deno.removeSync(dest);
    } catch { /* absent */ }
    if (exists(compiled)) {
      Deno.copyFileSync(compiled, dest);
    } else if (bundles[name]) {
      Deno.writeTextFileSync(
        dest,
        `#!/bin/sh\n# vpc-cni lab: runs the ${name} plugin, bundled from ${entry} (src/sim/plugin_bundle.ts).\n` +
          `exec ${shq(denoPath)} run -A ${BUNDLE_RUN_FLAGS.join(" ")} ${
            shq(join(bundles[name], BUNDLE_ENTRY))
          } "$@"\n`,
      );
    } else {
      Deno.writeTextFileSync(
        dest,
        `#!/bin/sh\n# vpc-cni lab: runs the ${name} plugin from source.\n` +
          `exec ${shq(denoPath)} run -A --no-check --config ${shq(join(repoDir, "deno.json"))} ${
            shq(join(repoDir, entry))
          } "$@"\n`,
      );
    }
    Deno.chmodSync(dest, 0o755);
  }
  for (const e of Deno.readDirSync(pluginsDir)) {
    if (OWN_PLUGINS.some(([n]) => n === e.name)) continue;
    const link = join(names.binDir, e.name);
    try {
      Deno.removeSync(link);
    } catch { /* absent */ }
    Deno.symlinkSync(join(pluginsDir, e.name), link);
  }
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
