import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { type Dispatch, run } from "./main.ts";
import { CniError } from "./spec.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const ENV = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};
const CONF = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni", pluginLogFile: "" };
const never: Dispatch = () => Promise.reject(new Error("dispatch must not be reached"));
const echo: Dispatch = (env, conf) => Promise.resolve({ cmd: env.command, v: conf.cniVersion });

function errOf(o: { stdout: string; exitCode: number }) {
  assert.notEqual(o.exitCode, 0);
  const j = JSON.parse(o.stdout);
  assert.equal(typeof j.code, "number");
  assert.equal(typeof j.msg, "string");
  assert.equal(typeof j.cniVersion, "string");
  return j as { cniVersion: string; code: number; msg: string; details?: string };
}

Deno.test("VERSION answers without stdin config and echoes the requested version", async () => {
  const a = await run({ CNI_COMMAND: "VERSION" }, enc({ cniVersion: "0.4.0" }), never);
  assert.equal(a.exitCode, 0);
  assert.deepEqual(JSON.parse(a.stdout), {
    cniVersion: "0.4.0",
    supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  });
  const b = await run({ CNI_COMMAND: "VERSION" }, new Uint8Array(), never);
  assert.equal(JSON.parse(b.stdout).cniVersion, "1.1.0");
});

Deno.test("error JSON codes for bad env and stdin", async () => {
  const cases: [Record<string, string | undefined>, unknown, number, RegExp][] = [
    [{ ...ENV, CNI_COMMAND: undefined }, CONF, 4, /CNI_COMMAND/],
    [{ ...ENV, CNI_COMMAND: "PUT" }, CONF, 4, /CNI_COMMAND/],
    [{ ...ENV, CNI_NETNS: undefined }, CONF, 4, /CNI_NETNS/],
    [{ ...ENV, CNI_CONTAINERID: "a b" }, CONF, 4, /CNI_CONTAINERID/],
    [{ ...ENV, CNI_IFNAME: "x".repeat(16) }, CONF, 4, /CNI_IFNAME/],
    [{ ...ENV, CNI_ARGS: "K8S_POD_NAME" }, CONF, 4, /CNI_ARGS/],
    [ENV, "", 6, /empty/],
    [ENV, "{nope", 6, /JSON/],
    [ENV, { ...CONF, cniVersion: "0.2.0" }, 1, /0\.2\.0/],
    [{ ...ENV, CNI_COMMAND: "CHECK" }, { ...CONF, cniVersion: "0.3.1" }, 1, /CHECK/],
    [{ ...ENV, CNI_COMMAND: "GC" }, CONF, 1, /GC/],
    [{ ...ENV, CNI_COMMAND: "STATUS" }, CONF, 1, /STATUS/],
    [ENV, { ...CONF, vethPrefix: "vlan" }, 7, /vethPrefix/],
    [ENV, { ...CONF, mtu: 100 }, 7, /mtu/],
    [ENV, { ...CONF, name: "" }, 7, /name/],
    [ENV, { ...CONF, prevResult: { ips: [{ address: "nope" }] } }, 7, /prevResult\.ips\[0\]\.address/],
  ];
  for (const [env, stdin, code, re] of cases) {
    const j = errOf(await run(env, enc(stdin), never));
    assert.equal(j.code, code, `${JSON.stringify(env)} ${JSON.stringify(stdin)}: ${j.msg}`);
    assert.match(j.msg, re);
  }
  // The error carries the config's cniVersion.
  assert.equal(
    errOf(await run({ ...ENV, CNI_IFNAME: "" }, enc({ ...CONF, cniVersion: "0.3.1" }), never)).cniVersion,
    "0.3.1",
  );
});

Deno.test("dispatch: result printed; thrown errors become JSON (CniError kept, others 100)", async () => {
  const ok = await run(ENV, enc(CONF), echo);
  assert.equal(ok.exitCode, 0);
  assert.deepEqual(JSON.parse(ok.stdout), { cmd: "ADD", v: "1.0.0" });
  const none = await run({ ...ENV, CNI_COMMAND: "DEL" }, enc(CONF), () => Promise.resolve());
  assert.deepEqual(none, { stdout: "", exitCode: 0 });
  const e1 = errOf(await run(ENV, enc(CONF), () => Promise.reject(new CniError(11, "later", "reason: x"))));
  assert.deepEqual(e1, { cniVersion: "1.0.0", code: 11, msg: "later", details: "reason: x" });
  const e2 = errOf(await run(ENV, enc(CONF), () => Promise.reject(new RangeError("bug"))));
  assert.equal(e2.code, 100);
});

Deno.test("logs go to pluginLogFile as JSON lines, never stdout", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/sub/plugin.log`;
    const o = await run(
      { ...ENV, CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p" },
      enc({ ...CONF, pluginLogFile: file, pluginLogLevel: "info" }),
      (_e, _c, log) => {
        log.debug("hidden");
        log.info("shown", { k: 1 });
        return Promise.resolve({ r: 1 });
      },
    );
    assert.equal(o.stdout, '{"r":1}');
    const lines = Deno.readTextFileSync(file).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.msg), ["shown", "done"]);
    assert.equal(lines[0].pod, "ns/p");
    assert.equal(lines[0].k, 1);
    assert.equal(lines[0].level, "info");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("property: random env and stdin never throw; failures are spec error JSON", async () => {
  const cmd = fc.oneof(fc.constantFrom("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"), fc.string());
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const envArb = fc.record({
    CNI_COMMAND: maybe(cmd),
    CNI_CONTAINERID: maybe(fc.oneof(fc.constant("c1"), fc.string())),
    CNI_NETNS: maybe(fc.oneof(fc.constant("/x"), fc.string())),
    CNI_IFNAME: maybe(fc.oneof(fc.constant("eth0"), fc.string())),
    CNI_PATH: maybe(fc.constant("/opt/cni/bin")),
    CNI_ARGS: maybe(fc.oneof(fc.constant("IgnoreUnknown=1;K8S_POD_NAME=x"), fc.string())),
  });
  const confArb = fc.record({
    cniVersion: fc.oneof(fc.constantFrom("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"), fc.jsonValue()),
    name: fc.oneof(fc.constant("aws-cni"), fc.jsonValue()),
    pluginLogFile: fc.constant(""),
    vethPrefix: fc.oneof(fc.constant("eni"), fc.jsonValue()),
    mtu: fc.oneof(fc.integer({ min: 0, max: 10000 }), fc.jsonValue()),
    prevResult: fc.jsonValue(),
  }, { requiredKeys: ["pluginLogFile"] });
  const stdinArb = fc.oneof(
    confArb.map((c) => enc(c)),
    fc.jsonValue().map((v) => enc(JSON.stringify(v))),
    fc.uint8Array({ maxLength: 64 }),
  );
  await fc.assert(
    fc.asyncProperty(envArb, stdinArb, async (env, stdin) => {
      let dispatched = false;
      const o = await run(env, stdin, () => {
        dispatched = true;
        return Promise.resolve({});
      });
      if (o.exitCode === 0) {
        assert.ok(dispatched || env.CNI_COMMAND === "VERSION");
        JSON.parse(o.stdout);
      } else {
        assert.ok(!dispatched);
        const j = errOf(o);
        assert.ok([1, 2, 4, 6, 7].includes(j.code), `${j.code}: ${j.msg}`);
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("the plugin's module graph holds only our own files (no npm, no remote)", async () => {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("./main.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(o.success, new TextDecoder().decode(o.stderr));
  const info = JSON.parse(new TextDecoder().decode(o.stdout)) as { modules: { specifier: string }[] };
  const root = new URL("../../", import.meta.url).href;
  const specs = info.modules.map((m) => m.specifier);
  assert.ok(specs.some((s) => s.endsWith("/src/cni/add.ts")), "dynamic imports are in the graph");
  for (const s of specs) {
    assert.ok(
      ["src/cni/", "src/common/", "ffi/"].some((d) => s.startsWith(root + d)),
      `unexpected module ${s}`,
    );
  }
});

Deno.test("VERSION and STATUS (real dispatch) do not load libnl", async () => {
  const { libnlLoaded } = await import("../../ffi/mod.ts");
  const { FakeIpamd } = await import("../../harness/fake_ipamd.ts");
  const fake = FakeIpamd.start({ ips: [] });
  try {
    assert.equal((await run({ CNI_COMMAND: "VERSION" }, enc({ cniVersion: "1.1.0" }))).exitCode, 0);
    const st = await run(
      { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
      enc({ ...CONF, cniVersion: "1.1.0", ipamdSocket: fake.socketPath }),
    );
    assert.deepEqual(st, { stdout: "", exitCode: 0 });
    fake.ready = false;
    const down = errOf(
      await run(
        { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
        enc({ ...CONF, cniVersion: "1.1.0", ipamdSocket: fake.socketPath }),
      ),
    );
    assert.equal(down.code, 50);
    assert.match(down.details ?? "", /not_ready/);
    assert.equal(libnlLoaded(), false);
  } finally {
    await fake.stop();
  }
});
