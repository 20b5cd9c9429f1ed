import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { parseCniArgs, parseEnv } from "./args.ts";
import { cniErr } from "../../tests/helpers/errors.ts";
import { CniError } from "./spec.ts";

const BASE = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};

Deno.test("CNI_ARGS: Kubernetes keys, IgnoreUnknown, bad pairs", () => {
  assert.deepEqual(
    parseCniArgs(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;FOO=bar",
    ),
    { podNamespace: "default", podName: "web-0", infraContainerId: "abc", podUid: "u-1" },
  );
  assert.deepEqual(parseCniArgs("K8S_POD_NAME=only"), { podName: "only" });
  assert.deepEqual(parseCniArgs(""), {});
  assert.deepEqual(parseCniArgs("K8S_POD_NAME=a=b;"), { podName: "a=b" });
  assert.equal(cniErr(() => parseCniArgs("FOO=bar")).code, 4);
  assert.equal(cniErr(() => parseCniArgs("IgnoreUnknown=0;FOO=bar")).code, 4);
  assert.deepEqual(parseCniArgs("IgnoreUnknown=true;FOO=bar"), {});
  assert.match(cniErr(() => parseCniArgs("novalue")).message, /CNI_ARGS/);
  assert.equal(cniErr(() => parseCniArgs("=x")).code, 4);
});

Deno.test("env: command known, required variables named per command", () => {
  assert.equal(parseEnv(BASE).command, "ADD");
  assert.match(cniErr(() => parseEnv({ ...BASE, CNI_COMMAND: undefined })).message, /CNI_COMMAND/);
  assert.match(cniErr(() => parseEnv({ ...BASE, CNI_COMMAND: "FOO" })).message, /CNI_COMMAND/);
  for (const v of ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]) {
    const e = cniErr(() => parseEnv({ ...BASE, [v]: "" }));
    assert.equal(e.code, 4);
    assert.match(e.message, new RegExp(v));
  }
  // DEL may come without CNI_NETNS; CHECK may not.
  assert.equal(parseEnv({ ...BASE, CNI_COMMAND: "DEL", CNI_NETNS: "" }).netns, "");
  assert.match(
    cniErr(() => parseEnv({ ...BASE, CNI_COMMAND: "CHECK", CNI_NETNS: undefined })).message,
    /CNI_NETNS/,
  );
  // GC/STATUS need only CNI_PATH; VERSION nothing.
  assert.equal(parseEnv({ CNI_COMMAND: "GC", CNI_PATH: "/x" }).command, "GC");
  assert.equal(parseEnv({ CNI_COMMAND: "STATUS", CNI_PATH: "/x" }).command, "STATUS");
  assert.equal(parseEnv({ CNI_COMMAND: "VERSION" }).command, "VERSION");
  assert.match(cniErr(() => parseEnv({ ...BASE, CNI_CONTAINERID: "-bad" })).message, /CNI_CONTAINERID/);
  assert.match(cniErr(() => parseEnv({ ...BASE, CNI_IFNAME: "a".repeat(16) })).message, /CNI_IFNAME/);
  assert.match(cniErr(() => parseEnv({ ...BASE, CNI_ARGS: "X=1" })).message, /CNI_ARGS/);
});

Deno.test("property: parseEnv either returns or throws a code-4 CniError", () => {
  const cmd = fc.oneof(fc.constantFrom("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"), fc.string());
  fc.assert(
    fc.property(
      fc.record({
        CNI_COMMAND: fc.option(cmd, { nil: undefined }),
        CNI_CONTAINERID: fc.option(fc.string(), { nil: undefined }),
        CNI_NETNS: fc.option(fc.string(), { nil: undefined }),
        CNI_IFNAME: fc.option(fc.string(), { nil: undefined }),
        CNI_PATH: fc.option(fc.string(), { nil: undefined }),
        CNI_ARGS: fc.option(fc.string(), { nil: undefined }),
      }),
      (env) => {
        try {
          parseEnv(env);
        } catch (e) {
          assert.ok(e instanceof CniError);
          assert.equal(e.code, 4);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("property: CNI_ARGS round-trip for known keys", () => {
  const val = fc.string().filter((s) => !s.includes(";"));
  fc.assert(fc.property(val, val, (ns, name) => {
    const a = parseCniArgs(`IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name}`);
    assert.equal(a.podNamespace, ns);
    assert.equal(a.podName, name);
  }));
});
