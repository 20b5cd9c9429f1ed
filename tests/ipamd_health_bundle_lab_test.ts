/**
 * `ipamd health` and `ipamd support-bundle` on a lab node, run as the DaemonSet (or an operator) would: inside
 * the node's namespace, with the aws-node container's environment.
 */
import assert from "node:assert/strict";
import { setIpamdRunning, type TestLab, waitIpamdReady, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { untarGz } from "../src/ipamd/tar_gz.ts";
import { podAdd } from "../src/sim/runtime_pod.ts";
import { until } from "../harness/poll.ts";

const MAIN = new URL("../src/ipamd/main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** The environment of node i's ipamd (as the lab daemon sets it), plus `extra`. */
function ipamdEnv(lab: TestLab, i: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    MY_NODE_NAME: `node-${i}`,
    IPAMD_SOCKET: lab.names.ipamdSocket(i),
    AWS_VPC_K8S_CNI_LOG_FILE: lab.names.ipamdLog(i),
    AWS_VPC_K8S_CNI_BACKING_STORE: lab.names.backingStore(i),
    ...extra,
  };
}

function ipamd(lab: TestLab, args: string[], env: Record<string, string>) {
  return lab.inNode(0, [Deno.execPath(), "run", "-A", "--config", CONFIG, MAIN, ...args], { env });
}

Deno.test({
  name:
    "lab: ipamd health answers over the socket with introspection off; fails, saying why, when ipamd is down",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1, ipamdEnv: { DISABLE_INTROSPECTION: "true" } }, async (lab) => {
    await waitIpamdReady(lab, 0);
    const env = ipamdEnv(lab, 0);
    const ok = await ipamd(lab, ["health"], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), "ok");
    const intro = await lab.inNode(0, ["curl", "-s", "-m", "2", "http://127.0.0.1:61679/healthz"]);
    assert.notEqual(intro.code, 0, "introspection is off: the old probe would fail");
    await setIpamdRunning(lab, 0, false);
    const down = await ipamd(lab, ["health", "--timeout", "2"], env);
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.match(
      down.stderr,
      new RegExp(`not healthy \\(${lab.names.ipamdSocket(0).replaceAll("/", "\\/")}\\)`),
    );
    await setIpamdRunning(lab, 0, true);
    assert.equal((await ipamd(lab, ["health"], env)).code, 0, "healthy again once it is back");
  });
});

Deno.test({
  name: "lab: ipamd support-bundle: one tar.gz, every file there, no credential in it",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 1 }, async (lab) => {
    await waitIpamdReady(lab, 0);
    await podAdd(lab.names, "bundled", { node: 0 }); // so the plugin log, pods and pod rules exist
    // The pool's gauges follow the pod at ipamd's next plan.
    await until("the pod in ipamd's gauges", async () => {
      const m = await lab.inNode(0, ["curl", "-sf", "-m", "5", "http://127.0.0.1:61678/metrics"]);
      return /^awscni_assigned_ip_addresses 1$/m.test(m.stdout) || undefined;
    });
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDFAKEKEY";
    const token = "FwoGZXIvYXdzEPlantedFakeSessionToken0123456789";
    const dir = await Deno.makeTempDir({ prefix: "vpc-cni-bundle-" });
    try {
      const env = ipamdEnv(lab, 0, {
        AWS_ACCESS_KEY_ID: "AKIAPLANTEDFAKEKEY00",
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_SESSION_TOKEN: token,
      });
      const out = `${dir}/bundle.tar.gz`;
      const r = await ipamd(
        lab,
        ["support-bundle", "--out", out, "--cni-conf-dir", lab.names.cniConfDir(0)],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), out);
      assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
      const files = new Map((await untarGz(await Deno.readFile(out))).map((e) => [e.name, e.data]));
      const want = [
        "index.txt",
        "ipamd.log",
        "plugin.log",
        "ipam.json",
        "pool.txt",
        "pool.json",
        "introspection/enis.json",
        "introspection/pods.json",
        "introspection/eni-configs.json",
        "introspection/ipamd-env-settings.json",
        "introspection/networkutils-env-settings.json",
        "metrics.txt",
        "ip-rule.txt",
        "ip-route-table-all.txt",
        "ip-link.txt",
        "ip-addr.txt",
        "ip-neigh.txt",
        "iptables-legacy-save.txt",
        "iptables-nft-save.txt",
        "10-aws.conflist",
        "env.txt",
        "sysctls.txt",
      ];
      assert.deepEqual([...files.keys()].sort(), [...want].sort());
      const text = (name: string) => new TextDecoder().decode(files.get(name));
      assert.doesNotMatch(text("index.txt"), /missing/, text("index.txt"));
      // Each file is what it says.
      assert.match(text("ip-rule.txt"), /^512:\s+from all to \S+ lookup main/m);
      assert.match(text("ip-route-table-all.txt"), /table local/);
      assert.match(text("iptables-nft-save.txt"), /AWS-SNAT-CHAIN-0/);
      assert.match(text("pool.txt"), /ENI/);
      assert.equal(JSON.parse(text("ipam.json")).version, "vpc-cni-ipam/1");
      assert.ok(Object.values(JSON.parse(text("introspection/pods.json"))).length >= 1);
      assert.match(text("metrics.txt"), /^awscni_assigned_ip_addresses 1$/m);
      assert.match(text("sysctls.txt"), /^net\.ipv4\.ip_forward = 1$/m);
      assert.match(text("plugin.log"), /"msg"/);
      assert.match(text("env.txt"), /^AWS_SECRET_ACCESS_KEY=\[redacted\]$/m);
      // No credential anywhere in the bundle.
      for (const [name, data] of files) {
        const body = new TextDecoder().decode(data);
        for (const s of [secret, token, "AKIAPLANTEDFAKEKEY00"]) {
          assert.ok(!body.includes(s), `${name} holds a credential`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
