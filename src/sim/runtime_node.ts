/** A lab node's CNI files: `<state>/bin/` (aws-cni, portmap) and `nodes/<i>/net.d/10-aws.conflist`. */
import { join } from "node:path";
import { exists } from "./lab_state.ts";
import type { LabNames } from "./naming.ts";
import type { Conflist } from "./runtime.ts";

/** Where Debian's containernetworking-plugins puts portmap. */
export const DEBIAN_PORTMAP = "/usr/lib/cni/portmap";

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
 * runs the plugin's source with deno; portmap links to Debian's.
 */
export function writeBinDir(names: LabNames, repoDir: string, denoPath: string): void {
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
  const portmap = join(names.binDir, "portmap");
  try {
    Deno.removeSync(portmap);
  } catch { /* absent */ }
  Deno.symlinkSync(DEBIAN_PORTMAP, portmap);
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
