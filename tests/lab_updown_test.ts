/**
 * `lab up` / `lab down` through the CLI leave the machine exactly as they found it: namespaces, the root
 * namespace's links, addresses, routes, rules and iptables, and processes. `up` twice is a no-op, `down`
 * twice is fine, and `down` cleans up after a daemon that was SIGKILLed.
 */
import assert from "node:assert/strict";
import { REPO_DIR } from "../src/sim/daemon_launch.ts";
import { LabNames } from "../src/sim/naming.ts";
import { rootOnly } from "./helpers/root.ts";

const dec = new TextDecoder();

function sh(argv: string[]): { code: number; out: string; err: string } {
  const o = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" }).outputSync();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

async function lab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${REPO_DIR}/deno.json`, `${REPO_DIR}/src/sim/main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** What the root namespace looks like: links, addresses, routes (all tables), rules, iptables. */
function rootSnapshot(): Record<string, string> {
  const strip = (s: string) =>
    s.split("\n").filter((l) => !l.startsWith("#")).map((l) => l.replace(/\[\d+:\d+\]/g, "")).join("\n");
  const links = JSON.parse(sh(["ip", "-j", "link", "show"]).out) as Record<string, unknown>[];
  return {
    links: JSON.stringify(links.map((l) => [l.ifname, l.address, l.mtu, l.flags])),
    addrs: sh(["ip", "-4", "-o", "addr", "show"]).out,
    routes: sh(["ip", "-4", "route", "show", "table", "all"]).out,
    rules: sh(["ip", "-4", "rule", "show"]).out,
    iptables: strip(sh(["iptables-save"]).out),
  };
}

/** The lab's footprint outside the root namespace: its namespaces, and processes tied to its state dir. */
function labFootprint(names: LabNames): { netns: string[]; runNetns: string[]; procs: string[] } {
  const netns = sh(["ip", "netns", "list"]).out.split("\n").map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(names.nsPrefix));
  let runNetns: string[] = [];
  try {
    runNetns = [...Deno.readDirSync("/run/netns")].map((e) => e.name).filter((n) =>
      n.startsWith(names.nsPrefix)
    );
  } catch { /* none */ }
  const procs: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      const env = Deno.readTextFileSync(`/proc/${e.name}/environ`);
      if (cmd.includes(names.stateDir) || env.includes(names.stateDir)) procs.push(`${e.name}: ${cmd}`);
    } catch { /* gone */ }
  }
  return { netns: netns.sort(), runNetns: runNetns.sort(), procs };
}

function daemonPidOf(names: LabNames): number {
  return Number(Deno.readTextFileSync(names.daemonPid).trim());
}

Deno.test({
  name: "lab up/down: nothing in the root namespace, idempotent up and down, a clean machine after",
  ...rootOnly,
  fn: async () => {
    const stateDir = `${await Deno.makeTempDir({ prefix: "vpc-cni-updown-" })}/state`;
    const names = new LabNames(stateDir);
    const before = rootSnapshot();
    try {
      const up = await lab("up", "--state-dir", stateDir, "--nodes", "2", "--no-ipamd");
      assert.equal(up.code, 0, up.err);
      assert.match(up.out, /^lab up: /);
      const during = labFootprint(names);
      assert.deepEqual(during.netns, [names.inetNs, names.nodeNs(0), names.nodeNs(1), names.vpcNs].sort());
      assert.ok(during.procs.length >= 1, "the daemon runs");
      assert.deepEqual(rootSnapshot(), before, "up leaves the root namespace alone");
      const pid = daemonPidOf(names);

      const again = await lab("up", "--state-dir", stateDir, "--nodes", "2", "--no-ipamd");
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /^lab already up: /);
      assert.equal(daemonPidOf(names), pid, "the same daemon");
      assert.deepEqual(labFootprint(names).netns, during.netns);

      const st = await lab("status", "--state-dir", stateDir, "--json");
      assert.equal(st.code, 0, st.err);
      const s = JSON.parse(st.out);
      assert.equal(s.nodes.length, 2);
      assert.equal(s.nodes[1].netns, names.nodeNs(1));
      assert.equal(s.nodes[0].cniConfDir, names.cniConfDir(0));
      assert.equal(s.ec2Endpoint, "http://10.0.255.254");
      assert.equal(s.kubeApiEndpoint, "http://10.0.255.253:6443");
      assert.match(s.nodes[0].instanceId, /^i-[0-9a-f]{17}$/);

      const down = await lab("down", "--state-dir", stateDir);
      assert.equal(down.code, 0, down.err);
      assert.deepEqual(labFootprint(names), { netns: [], runNetns: [], procs: [] });
      assert.deepEqual(rootSnapshot(), before, "down returns the root namespace exactly");
      assert.throws(
        () => Deno.statSync(stateDir),
        Deno.errors.NotFound,
        "down removed the state dir up made",
      );

      const down2 = await lab("down", "--state-dir", stateDir);
      assert.equal(down2.code, 0, down2.err);
      const st2 = await lab("status", "--state-dir", stateDir);
      assert.equal(st2.code, 1);
      assert.match(st2.err, /no lab in/);
    } finally {
      await lab("down", "--state-dir", stateDir);
      await Deno.remove(stateDir.replace(/\/state$/, ""), { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "lab up/down: recovers from a SIGKILLed daemon, a stray process in a node and a pod namespace",
  ...rootOnly,
  fn: async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "vpc-cni-updown-" });
    const names = new LabNames(stateDir);
    const before = rootSnapshot();
    try {
      const up = await lab("up", "--state-dir", stateDir, "--nodes", "1");
      assert.equal(up.code, 0, up.err);
      // A stray process inside a node namespace (as a hung plugin would be).
      const stray = new Deno.Command("nsenter", {
        args: [`--net=/run/netns/${names.nodeNs(0)}`, "sleep", "300"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      // A pod sandbox namespace left behind.
      assert.equal(sh(["ip", "netns", "add", names.podNs("left-behind")]).code, 0);
      const dead = daemonPidOf(names);
      Deno.kill(dead, "SIGKILL");
      // up over the remains of a dead lab starts a clean one; down then removes everything.
      const up2 = await lab("up", "--state-dir", stateDir, "--nodes", "1", "--no-ipamd");
      assert.equal(up2.code, 0, up2.err);
      assert.match(up2.out, /^lab up: /);
      assert.notEqual(daemonPidOf(names), dead);
      assert.deepEqual(labFootprint(names).netns, [names.inetNs, names.nodeNs(0), names.vpcNs].sort());
      const down = await lab("down", "--state-dir", stateDir);
      assert.equal(down.code, 0, down.err);
      const st = await stray.status;
      assert.equal(st.success, false, "the stray process was ended");
      const fp = labFootprint(names);
      assert.deepEqual(fp.netns, []);
      assert.deepEqual(fp.runNetns, []);
      // The temp dir itself (made by the test) stays; everything the lab made in it is gone.
      assert.deepEqual([...Deno.readDirSync(stateDir)].map((e) => e.name), []);
      assert.deepEqual(fp.procs, []);
      assert.deepEqual(rootSnapshot(), before);
    } finally {
      await lab("down", "--state-dir", stateDir);
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "lab CLI: clear errors for bad flags",
  fn: async () => {
    for (
      const [args, re] of [
        [["up", "--nodes", "0"], /--nodes needs an integer 1\.\.16/],
        [["up", "--latency", "slow"], /--latency needs none or realistic/],
        [["up", "--faults", "throttle=2"], /--faults: fault throttle needs a probability/],
        [["up", "--instance-type", "z9.huge"], /not in the lab's catalogue/],
        [["up", "--ipamd-env", "NOEQUALS"], /--ipamd-env needs KEY=VALUE/],
        [["status", "--nodes", "2"], /status does not take --nodes/],
        [["frobnicate"], /unknown verb "frobnicate"/],
        [["pod", "add"], /pod add needs a pod NAME/],
        [["up", "--bogus"], /Unknown option '--bogus'/],
      ] as [string[], RegExp][]
    ) {
      const r = await lab(...args, "--state-dir", "/nonexistent/vpc-cni-lab-flags");
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, re);
    }
  },
});
