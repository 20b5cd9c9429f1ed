/**
 * Measures aws-cni's cost per invocation, run as a runtime runs it: wall time (spawn to exit) and peak
 * RSS (GNU time's %M, from wait4's ru_maxrss) for VERSION, and for ADD/DEL (root: a throwaway node and
 * pod namespace and the fake ipamd). Prints medians and maxima. A benchmark, not a test.
 *
 *   deno run -A src/cni/measure_startup.ts [--runs 10]
 * @module
 */
import { parseArgs } from "node:util";
import { FakeIpamd } from "../../tests/helpers/fake_ipamd.ts";
import { TestNetns } from "../../tests/helpers/netns.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const TIME = "/usr/bin/time";

interface Sample {
  ms: number;
  rssKiB: number;
  code: number;
  stdout: string;
}

async function measure(prefix: string[], env: Record<string, string>, stdin: string): Promise<Sample> {
  const out = Deno.makeTempFileSync();
  try {
    const t0 = performance.now();
    const argv = [...prefix, TIME, "-o", out, "-f", "%M", Deno.execPath(), "run", "-A", MAIN];
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env: { ...env, HOME: Deno.env.get("HOME") ?? "/root", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
    const o = await child.output();
    const ms = performance.now() - t0;
    const rss = Number(Deno.readTextFileSync(out).trim().split("\n").at(-1));
    return { ms, rssKiB: rss, code: o.code, stdout: new TextDecoder().decode(o.stdout) };
  } finally {
    Deno.removeSync(out);
  }
}

function summary(name: string, s: Sample[]): string {
  const ms = s.map((x) => x.ms).sort((a, b) => a - b);
  const rss = s.map((x) => x.rssKiB);
  const med = ms[Math.floor(ms.length / 2)];
  return `${name.padEnd(8)} runs ${s.length}  wall p50 ${med.toFixed(1)} ms  max ${
    ms.at(-1)!.toFixed(1)
  } ms  ` +
    `peak RSS max ${(Math.max(...rss) / 1024).toFixed(1)} MiB`;
}

const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string", default: "10" } } });
const runs = Number(values.runs);

const version: Sample[] = [];
for (let i = 0; i < runs; i++) {
  version.push(await measure([], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.1.0"}'));
}
if (version.some((s) => s.code !== 0)) throw new Error(`VERSION failed: ${version[0].stdout}`);
console.log(summary("VERSION", version));

if (Deno.uid() !== 0) {
  console.log("ADD/DEL: skipped (needs root for namespaces)");
  Deno.exit(0);
}

const node = await TestNetns.create("mn");
const fake = FakeIpamd.start({ ips: [{ ipv4: "10.0.16.77", routeTable: 3 }] });
const dir = Deno.makeTempDirSync();
const add: Sample[] = [];
const del: Sample[] = [];
try {
  const conf = JSON.stringify({
    cniVersion: "1.0.0",
    name: "aws-cni",
    type: "aws-cni",
    ipamdSocket: fake.socketPath,
    pluginLogFile: `${dir}/plugin.log`,
  });
  for (let i = 0; i < runs; i++) {
    const pod = await TestNetns.create("mp");
    try {
      const env = {
        CNI_CONTAINERID: `m${i}`,
        CNI_NETNS: pod.path,
        CNI_IFNAME: "eth0",
        CNI_PATH: "/opt/cni/bin",
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=m${i}`,
      };
      const nsenter = ["nsenter", `--net=${node.path}`, "--"];
      const a = await measure(nsenter, { ...env, CNI_COMMAND: "ADD" }, conf);
      if (a.code !== 0) throw new Error(`ADD failed: ${a.stdout}`);
      add.push(a);
      const d = await measure(nsenter, { ...env, CNI_COMMAND: "DEL" }, conf);
      if (d.code !== 0) throw new Error(`DEL failed: ${d.stdout}`);
      del.push(d);
    } finally {
      await pod.delete();
    }
  }
  console.log(summary("ADD", add));
  console.log(summary("DEL", del));
  const inner = (cmd: string) =>
    Deno.readTextFileSync(`${dir}/plugin.log`).trim().split("\n").map((l) => JSON.parse(l))
      .filter((l) => l.msg === "done" && l.cmd === cmd).map((l) => l.ms as number).sort((a, b) => a - b);
  for (const cmd of ["ADD", "DEL"]) {
    const ms = inner(cmd);
    console.log(
      `${cmd.padEnd(8)} inside the plugin (after start-up): p50 ${ms[Math.floor(ms.length / 2)]} ms`,
    );
  }
} finally {
  await fake.stop();
  await node.delete();
  Deno.removeSync(dir, { recursive: true });
}
