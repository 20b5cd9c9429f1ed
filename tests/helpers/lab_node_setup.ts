/**
 * What lab-node tests do to a node as an operator would: run `ipamd install --conflist-only` the way the
 * aws-node container does ({@linkcode installConflist}), and leave kubelet's and kube-proxy's iptables rules in
 * one backend ({@linkcode seedKubeRules}).
 * @module
 */
import assert from "node:assert/strict";
import type { TestLab } from "./lab.ts";

const MAIN = new URL("../../src/ipamd/main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** The two iptables 1.8 backends. */
export type IptablesBackend = "legacy" | "nft";

/** Runs `argv` in node `node`'s namespaces; its stdout (a non-zero exit fails the test). */
export async function runInNode(lab: TestLab, argv: string[], node = 0): Promise<string> {
  const r = await lab.inNode(node, argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/**
 * `ipamd install --conflist-only` for node `node` into `confDir` (its ipamd socket, its plugin log, the lab's
 * bin dir, `env` on top); resolves the conflist written.
 */
export async function installConflist(
  lab: TestLab,
  confDir: string,
  env: Record<string, string>,
  node = 0,
  // deno-lint-ignore no-explicit-any -- a conflist is JSON, checked field by field by the callers
): Promise<any> {
  const n = lab.status.nodes[node];
  const r = await lab.inNode(node, [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    CONFIG,
    MAIN,
    "install",
    "--conflist-only",
    "--cni-bin-dir",
    n.cniBinDir,
    "--cni-conf-dir",
    confDir,
    "--wait-timeout",
    "60",
  ], {
    env: {
      ...Deno.env.toObject(),
      MY_NODE_NAME: n.name,
      IPAMD_SOCKET: n.ipamdSocket,
      AWS_VPC_K8S_PLUGIN_LOG_FILE: lab.names.pluginLog(node),
      ...env,
    },
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(await Deno.readTextFile(`${confDir}/10-aws.conflist`));
}

/** What kubelet and kube-proxy (iptables mode) leave in `backend`: the hint chain and the service portals. */
export async function seedKubeRules(lab: TestLab, b: IptablesBackend, node = 0): Promise<void> {
  const ipt = `iptables-${b}`;
  const run = (args: string[]) => runInNode(lab, [ipt, ...args], node);
  await run(["-t", "mangle", "-N", "KUBE-IPTABLES-HINT"]);
  await run(["-t", "nat", "-N", "KUBE-SERVICES"]);
  for (const chain of ["PREROUTING", "OUTPUT"]) {
    await run([
      "-t",
      "nat",
      "-A",
      chain,
      "-m",
      "comment",
      "--comment",
      "kubernetes service portals",
      "-j",
      "KUBE-SERVICES",
    ]);
  }
  await run(["-t", "nat", "-N", "KUBE-POSTROUTING"]);
  await run([
    "-t",
    "nat",
    "-A",
    "POSTROUTING",
    "-m",
    "comment",
    "--comment",
    "kubernetes postrouting rules",
    "-j",
    "KUBE-POSTROUTING",
  ]);
}

/** Every table of `backend` in node `node` (iptables-*-save reads without creating anything). */
export const savedRules = (lab: TestLab, b: IptablesBackend, node = 0): Promise<string> =>
  runInNode(lab, [`iptables-${b}-save`], node);
