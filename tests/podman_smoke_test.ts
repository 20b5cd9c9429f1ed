/**
 * podman (CNI backend) against the reference plugins (src/sim/cni_plugins.ts) in a test node namespace: two containers on one network reach
 * each other, podman sends the CNI_ARGS we expect, and `podman rm -f` leaves no veth, route or IP behind.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { addNetns, delNetns, randomSuffix, sh } from "../harness/libcni.ts";
import { PodmanEnv } from "./helpers/podman.ts";
import { ensureCniPlugins } from "../src/sim/cni_plugins.ts";

/** A plugin dir whose `<type>` logs its CNI_* environment to `<dir>/log/` and then execs the reference plugin. */
async function recordingPluginDir(dir: string, type: string, pluginsDir: string): Promise<string> {
  await Deno.mkdir(`${dir}/log`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${type}`,
    `#!/bin/sh\nenv | grep '^CNI_' > "${dir}/log/$CNI_COMMAND.$$"\nexec ${pluginsDir}/${type}\n`,
  );
  await Deno.chmod(`${dir}/${type}`, 0o755);
  return dir;
}

function conflist(type: "bridge" | "ptp", name: string, id: string, ipamDir: string) {
  const ipam = {
    type: "host-local",
    dataDir: ipamDir,
    ranges: [[{ subnet: "10.88.77.0/24" }]],
    routes: [{ dst: "0.0.0.0/0" }],
  };
  const plugin = type === "bridge"
    ? { type, bridge: `vcb${id}`, isGateway: true, ipMasq: false, ipam }
    : { type, ipMasq: false, ipam };
  return { cniVersion: "1.0.0", name, plugins: [plugin] };
}

for (const type of ["bridge", "ptp"] as const) {
  Deno.test({
    name: `podman smoke: two containers on a ${type} network ping each other; rm -f leaves nothing`,
    ...rootOnly,
    fn: async () => {
      const id = randomSuffix();
      const node = await addNetns(`vct-pm${id}`);
      const work = await Deno.makeTempDir({ prefix: "vct-pmw-" });
      let env: PodmanEnv | undefined;
      try {
        const plugins = (await ensureCniPlugins()).dir;
        const shim = await recordingPluginDir(`${work}/plugins`, type, plugins);
        env = await PodmanEnv.create({ nodeNetns: node, pluginDirs: [shim, plugins] });
        const net = `vct${id}`;
        await env.writeConflist(conflist(type, net, id, `${work}/ipam`));
        const names = [`a-${id}`, `b-${id}`];
        const ids = [];
        for (const name of names) ids.push(await env.run({ name, network: net }));
        const [a, b] = await Promise.all(names.map((n) => env!.attachment(n, net)));
        for (const x of [a, b]) {
          assert.match(x.ip, /^10\.88\.77\.\d+$/);
          assert.match(
            x.mac,
            /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/,
            "podman needs a MAC on the sandbox interface",
          );
        }
        assert.notEqual(a.ip, b.ip);
        assert.match(await env.exec(names[0], ["ping", "-c", "1", "-W", "3", b.ip]), / 0% packet loss/);
        assert.match(await env.exec(names[1], ["ping", "-c", "1", "-W", "3", a.ip]), / 0% packet loss/);

        // What podman handed the plugin.
        const adds = [...Deno.readDirSync(`${shim}/log`)].filter((e) => e.name.startsWith("ADD."));
        assert.equal(adds.length, 2);
        const seen = adds.map((e) => Deno.readTextFileSync(`${shim}/log/${e.name}`)).join("\n");
        for (let i = 0; i < 2; i++) {
          assert.match(seen, new RegExp(`CNI_CONTAINERID=${ids[i]}\n`));
          assert.match(seen, new RegExp(`CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=${names[i]}\n`));
        }
        assert.match(seen, /CNI_IFNAME=eth0\n/);
        assert.match(seen, /CNI_NETNS=\/run\/netns\/netns-/);

        await env.rm(...names);
        const links = await sh(["ip", "-n", node, "-o", "link", "show", "type", "veth"]);
        assert.equal(links.trim(), "", "no veth left in the node");
        const routes = await sh(["ip", "-n", node, "-4", "route", "show", "table", "all"]);
        for (const x of [a, b]) {
          assert.ok(!routes.includes(`${x.ip} `), `route to ${x.ip} left: ${routes}`);
          assert.ok(
            !Deno.readDirSync(`${work}/ipam/${net}`).some((e) => e.name === x.ip),
            `${x.ip} still held`,
          );
          await assert.rejects(Deno.stat(x.netns), Deno.errors.NotFound, `${x.netns} left`);
        }
        const addrs = await sh(["ip", "-n", node, "-4", "-o", "addr", "show"]);
        if (type === "ptp") assert.ok(!addrs.includes("10.88.77."), `ptp gateway address left: ${addrs}`);
        const dels = [...Deno.readDirSync(`${shim}/log`)].filter((e) => e.name.startsWith("DEL."));
        assert.ok(dels.length >= 2, "podman ran DEL for both");
        let cached: string[] = [];
        try {
          cached = [...Deno.readDirSync("/var/lib/cni/results")].map((e) => e.name);
        } catch { /* never made */ }
        assert.deepEqual(cached.filter((f) => f.startsWith(`${net}-`)), [], "libcni cache entries left");
        assert.equal((await env.podman(["ps", "-a", "-q"])).trim(), "");
      } finally {
        try {
          await env?.destroy();
        } finally {
          await delNetns(node);
          await Deno.remove(work, { recursive: true });
        }
      }
    },
  });
}

/** Connects from namespace `ns` to host:port and returns what the server sent first. */
function tcpRead(ns: string, host: string, port: number): Promise<string> {
  const code = `const c = await Deno.connect({ hostname: "${host}", port: ${port} });
    const b = new Uint8Array(256); const k = await c.read(b); console.log(new TextDecoder().decode(b.subarray(0, k ?? 0)));`;
  return sh(["nsenter", `--net=/var/run/netns/${ns}`, "--", "timeout", "10", Deno.execPath(), "eval", code]);
}

Deno.test({
  name: "podman smoke: -p reaches the container through a chained portmap; rm -f removes its rules",
  ...rootOnly,
  fn: async () => {
    const id = randomSuffix();
    const node = await addNetns(`vct-pm${id}`);
    const client = `vct-pc${id}`;
    const work = await Deno.makeTempDir({ prefix: "vct-pmw-" });
    let env: PodmanEnv | undefined;
    try {
      await addNetns(client);
      await sh(`ip -n ${node} link add vcn${id} type veth peer name vcc${id} netns ${client}`.split(" "));
      await sh(["ip", "-n", node, "addr", "add", "172.31.251.1/24", "dev", `vcn${id}`]);
      await sh(["ip", "-n", node, "link", "set", `vcn${id}`, "up"]);
      await sh(["ip", "-n", client, "addr", "add", "172.31.251.2/24", "dev", `vcc${id}`]);
      await sh(["ip", "-n", client, "link", "set", `vcc${id}`, "up"]);

      env = await PodmanEnv.create({ nodeNetns: node });
      const net = `vct${id}`;
      const list = conflist("ptp", net, id, `${work}/ipam`);
      await env.writeConflist({
        ...list,
        plugins: [...list.plugins, { type: "portmap", capabilities: { portMappings: true } }],
      });
      const name = `w-${id}`;
      await env.run({
        name,
        network: net,
        publish: ["18080:8080/tcp"],
        flags: ["--hostname", `h-${id}`],
        cmd: ["nc", "-ll", "-p", "8080", "-e", "/bin/hostname"],
      });
      let answer = "";
      for (let i = 0; i < 20 && answer === ""; i++) { // nc may not listen yet
        answer = await tcpRead(client, "172.31.251.1", 18080).then((s) => s.trim(), () => "");
        if (answer === "") await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(answer, `h-${id}`);
      assert.match(
        await sh(["nsenter", `--net=/var/run/netns/${node}`, "iptables-save", "-t", "nat"]),
        /CNI-DN-/,
      );

      await env.rm(name);
      const nat = await sh(["nsenter", `--net=/var/run/netns/${node}`, "iptables-save", "-t", "nat"]);
      assert.doesNotMatch(nat, /CNI-DN-/, "portmap's per-container chain left");
      assert.equal(
        (await sh(["ip", "-n", node, "-o", "link", "show", "type", "veth"])).trim().split("\n").length,
        1,
      );
    } finally {
      try {
        await env?.destroy();
      } finally {
        await delNetns(client);
        await delNetns(node);
        await Deno.remove(work, { recursive: true });
      }
    }
  },
});
