import assert from "node:assert/strict";
import {
  addNetworkList,
  type Attachment,
  checkNetworkList,
  CniPluginError,
  type Conflist,
  delNetworkList,
  formatCniArgs,
  k8sCniArgs,
  pluginConfig,
} from "./runtime.ts";

/** A fake plugin: appends "<type> <CNI_COMMAND> <stdin>" to $LOG and answers a result naming itself. */
const FAKE = `#!/bin/sh
in=$(cat)
printf '%s %s %s %s\\n' "$(basename "$0")" "$CNI_COMMAND" "$CNI_ARGS|$CNI_IFNAME|$CNI_NETNS|$CNI_CONTAINERID|$CNI_PATH" "$in" >> "$LOG"
case "$(basename "$0")" in
  broken) printf '{"cniVersion":"0.4.0","code":11,"msg":"try later","details":"pool growing"}'; exit 1;;
  crash) echo "boom on stderr" >&2; exit 3;;
esac
[ "$CNI_COMMAND" = ADD ] && printf '{"cniVersion":"0.4.0","ips":[{"address":"10.0.0.%s/32"}],"by":"%s"}' "$(basename "$0" | wc -c)" "$(basename "$0")"
exit 0
`;

async function withBin(fn: (bin: string, log: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["one", "two", "broken", "crash"]) {
      await Deno.writeTextFile(`${dir}/${name}`, FAKE);
      await Deno.chmod(`${dir}/${name}`, 0o755);
    }
    Deno.env.set("LOG", `${dir}/log`);
    await fn(dir, `${dir}/log`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const att: Attachment = {
  containerId: "abc123",
  netns: "/run/netns/x",
  ifName: "eth0",
  args: k8sCniArgs({ namespace: "default", name: "web", uid: "u-1", containerId: "abc123" }),
  capabilityArgs: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }] },
};

function list(...types: string[]): Conflist {
  return {
    cniVersion: "0.4.0",
    name: "net",
    plugins: types.map((t) => t === "two" ? { type: t, capabilities: { portMappings: true } } : { type: t }),
  };
}

function logLines(log: string): string[][] {
  return Deno.readTextFileSync(log).trim().split("\n").map((l) => l.split(" "));
}

Deno.test("CNI_ARGS render as a Kubernetes runtime sends them", () => {
  assert.equal(
    formatCniArgs(att.args),
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1",
  );
});

Deno.test("pluginConfig: name and version from the list, runtimeConfig only for declared capabilities", () => {
  const l = list("one", "two");
  assert.deepEqual(pluginConfig(l, l.plugins[0], att), { type: "one", cniVersion: "0.4.0", name: "net" });
  const c = pluginConfig(l, l.plugins[1], att, { ips: [] });
  assert.deepEqual(c.runtimeConfig, { portMappings: att.capabilityArgs!.portMappings });
  assert.deepEqual(c.prevResult, { ips: [] });
});

Deno.test("ADD chains prevResult; DEL runs in reverse with the cached result; CHECK in order", async () => {
  await withBin(async (bin, log) => {
    const l = list("one", "two");
    const res = await addNetworkList(l, att, { binDir: bin });
    assert.equal(res.by, "two");
    await delNetworkList(l, att, { binDir: bin }, res);
    await checkNetworkList(l, att, { binDir: bin }, res);
    const lines = logLines(log);
    assert.deepEqual(lines.map((x) => `${x[0]} ${x[1]}`), [
      "one ADD",
      "two ADD",
      "two DEL",
      "one DEL",
      "one CHECK",
      "two CHECK",
    ]);
    const env = lines[0][2].split("|");
    assert.deepEqual(env, [formatCniArgs(att.args), "eth0", "/run/netns/x", "abc123", bin]);
    const twoAdd = JSON.parse(lines[1].slice(3).join(" "));
    assert.equal(twoAdd.prevResult.by, "one", "the second plugin got the first one's result");
    const oneAdd = JSON.parse(lines[0].slice(3).join(" "));
    assert.equal(oneAdd.prevResult, undefined);
    const oneDel = JSON.parse(lines[3].slice(3).join(" "));
    assert.equal(oneDel.prevResult.by, "two", "DEL carries the cached final result");
  });
});

Deno.test("a plugin's error JSON becomes a typed CniPluginError; a crash keeps stderr", async () => {
  await withBin(async (bin) => {
    await assert.rejects(addNetworkList(list("one", "broken", "two"), att, { binDir: bin }), (e) => {
      assert.ok(e instanceof CniPluginError);
      assert.equal(e.plugin, "broken");
      assert.equal(e.code, 11);
      assert.equal(e.msg, "try later");
      assert.equal(e.details, "pool growing");
      return true;
    });
    await assert.rejects(addNetworkList(list("crash"), att, { binDir: bin }), (e) => {
      assert.ok(e instanceof CniPluginError);
      assert.equal(e.code, 0);
      assert.match(e.msg, /exited 3: boom on stderr/);
      return true;
    });
    await assert.rejects(addNetworkList(list("missing"), att, { binDir: bin }), CniPluginError);
  });
});

Deno.test("CHECK is skipped when the list disables it", async () => {
  await withBin(async (bin, log) => {
    await checkNetworkList({ ...list("one"), disableCheck: true }, att, { binDir: bin }, {});
    assert.throws(() => Deno.readTextFileSync(log), Deno.errors.NotFound);
  });
});
