/**
 * A lab node's CNI files: `<state>/bin/` (aws-cni, and the reference plugins: portmap, bandwidth, tuning,
 * loopback, …) and `nodes/<i>/net.d/10-aws.conflist`.
 */
import { join } from "node:path";
import { exists } from "./lab_state.ts";
import type { LabNames } from "./naming.ts";
import type { Conflist } from "./runtime.ts";

/** The conflist a lab node's runtime reads. */
export function nodeConflist(names: LabNames, node: number): Conflist {
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
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** Writes every node's conflist. */
export function writeNodeConflists(names: LabNames, nodes: number): void {
  for (let i = 0; i < nodes; i++) {
    Deno.mkdirSync(names.cniConfDir(i), { recursive: true });
    Deno.writeTextFileSync(names.conflistPath(i), JSON.stringify(nodeConflist(names, i), null, 2) + "\n");
  }
}

/**
 * Fills `<state>/bin`: aws-cni is `dist/aws-cni` when it was compiled, else an honest launcher script that
 * runs the plugin's source with deno; every plugin in `pluginsDir` (the reference plugins, see
 * src/sim/cni_plugins.ts) is linked beside it.
 */
export function writeBinDir(names: LabNames, repoDir: string, denoPath: string, pluginsDir: string): void {
  Deno.mkdirSync(names.binDir, { recursive: true });
  const awsCni = join(names.binDir, "aws-cni");
  const compiled = join(repoDir, "dist", "aws-cni");
  try {
    Deno.removeSync(awsCni);
  } catch { /* absent */ }
  if (exists(compiled)) {
    Deno.copyFileSync(compiled, awsCni);
  } else {
    const entry = join(repoDir, "src", "cni", "main.ts");
    Deno.writeTextFileSync(
      awsCni,
      `#!/bin/sh\n# vpc-cni lab: runs the aws-cni plugin from source.\n` +
        `exec ${shq(denoPath)} run -A --no-check --config ${shq(join(repoDir, "deno.json"))} ${
          shq(entry)
        } "$@"\n`,
    );
  }
  Deno.chmodSync(awsCni, 0o755);
  for (const e of Deno.readDirSync(pluginsDir)) {
    if (e.name === "aws-cni") continue;
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
