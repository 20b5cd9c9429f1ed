/**
 * ipamd's memory import by import: fresh deno processes, each importing one more of what ipamd imports, run as
 * ipamd runs (its V8 flags, one malloc_trim: src/ipamd/process_memory.ts), measured idle a second after
 * start-up (VmRSS, V8 heap used / committed). Reference rows show the packages' indexes as ipamd loaded them
 * before. Prints a markdown table (docs/PERFORMANCE.md).
 *
 *   deno run -A tools/ipamd_imports.ts [--runs 3] [--flags=--optimize-for-size …]
 *
 * `--flags F1,F2` (repeatable) adds a row per flag set: all of ipamd's imports, run with ipamd's V8 flags plus
 * those, against the same without them (the cumulative row above it).
 * @module
 */
import { parseArgs } from "node:util";
import { IPAMD_V8_FLAGS } from "../src/ipamd/process_memory.ts";
import { percentile } from "../harness/stats.ts";

const REPO = new URL("..", import.meta.url).pathname;
const EC2 = `import { EC2Client } from "@aws-sdk/client-ec2"; new EC2Client({ region: "us-west-2" });`;
const K8S_LIGHT = ["watch", "config_types", "exec_auth", "file_auth"]
  .map((m) => `import "@kubernetes/client-node/dist/${m}.js";`).join("\n");

/** Each step adds to the ones before it. */
const STEPS: [string, string][] = [
  ["deno, nothing imported", ""],
  ["+ @aws-sdk/client-ec2 (index) and an EC2Client", EC2],
  ["+ client-node's watch, kubeconfig and auth modules", K8S_LIGHT],
  ["+ yaml (a kubeconfig file; not in-cluster)", `import "yaml";`],
  ["+ ipamd's own modules (src/ipamd/daemon_run.ts's graph)", `import "${REPO}src/ipamd/daemon_run.ts";`],
];

/** Alone (not cumulative), for reference. */
const REFERENCE: [string, string, boolean][] = [
  [
    "client-node's index and a KubeConfig (ipamd before)",
    `import { KubeConfig } from "@kubernetes/client-node"; new KubeConfig();`,
    true,
  ],
  [
    "both indexes (the issue's floor), ipamd's flags",
    `${EC2}\nimport { KubeConfig } from "@kubernetes/client-node"; new KubeConfig();`,
    true,
  ],
  [
    "both indexes, default V8 flags, no trim",
    `${EC2}\nimport { KubeConfig } from "@kubernetes/client-node"; new KubeConfig();`,
    false,
  ],
];

const PROBE = `
const g = globalThis.gc; g?.(); g?.();
await new Promise((r) => setTimeout(r, 1000));
TRIM
const rss = Number(Deno.readTextFileSync("/proc/self/status").match(/VmRSS:\\s+(\\d+)/)[1]) / 1024;
const m = Deno.memoryUsage();
console.log(JSON.stringify({ rss, used: m.heapUsed / 2 ** 20, total: m.heapTotal / 2 ** 20 }));
`;

async function measure(
  code: string,
  ipamdLike: boolean,
  extra: string[] = [],
): Promise<{ rss: number; used: number; total: number }> {
  const trim = ipamdLike ? `(await import("${REPO}src/ipamd/process_memory.ts")).releaseFreedMemory();` : "";
  const flags = ["--expose-gc", ...(ipamdLike ? IPAMD_V8_FLAGS : []), ...extra].join(",");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--v8-flags=${flags}`, "--config", `${REPO}deno.json`, code + PROBE.replace("TRIM", trim)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  return JSON.parse(last);
}

async function median(code: string, ipamdLike: boolean, runs: number, extra: string[] = []) {
  const xs: { rss: number; used: number; total: number }[] = [];
  for (let i = 0; i < runs; i++) xs.push(await measure(code, ipamdLike, extra));
  const p = (k: "rss" | "used" | "total") => percentile(xs.map((x) => x[k]), 50);
  return { rss: p("rss"), used: p("used"), total: p("total") };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "3" }, flags: { type: "string", multiple: true } },
  });
  const runs = Number(values.runs);
  const f = (x: number) => x.toFixed(1);
  console.log("| what is loaded | VmRSS MiB | + MiB | V8 heap used / committed MiB |");
  console.log("| --- | --- | --- | --- |");
  let code = "", prev: number | undefined;
  for (const [what, add] of STEPS) {
    code += add + "\n";
    const m = await median(code, true, runs);
    console.log(
      `| ${what} | ${f(m.rss)} | ${prev === undefined ? "" : f(m.rss - prev)} | ${f(m.used)} / ${
        f(m.total)
      } |`,
    );
    prev = m.rss;
  }
  for (const extra of values.flags ?? []) {
    const m = await median(code, true, runs, extra.split(","));
    console.log(
      `| all of the above, with ${extra.replaceAll(",", " ")} | ${f(m.rss)} | ${f(m.rss - prev!)} | ${
        f(m.used)
      } / ${f(m.total)} |`,
    );
  }
  for (const [what, c, like] of REFERENCE) {
    const m = await median(c, like, runs);
    console.log(`| (reference) ${what} | ${f(m.rss)} | | ${f(m.used)} / ${f(m.total)} |`);
  }
}
