/**
 * Garbage in, clear error out: the real aws-cni executed as a runtime does (a subprocess inside a node
 * namespace, CNI_* variables, the config on stdin) with generated bad input. Every case must print one spec
 * error JSON on stdout with the expected code and a message naming the bad field, exit non-zero, print no
 * uncaught exception, and change nothing: the node's and the pod's links, addresses, rules and routes, and
 * the (fake) ipamd's calls and attachments are compared before and after. Root only.
 *
 * Fast: ~150 generated cases + the fixed ones. Soak (`VPC_CNI_SOAK=1`): ~1200 generated cases.
 * @module
 */
import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { FakeIpamd } from "../../harness/fake_ipamd.ts";
import { TestNetns } from "../../harness/netns.ts";
import { rootOnly } from "../helpers/root.ts";

const MAIN = new URL("../../src/cni/main.ts", import.meta.url).pathname;
const SOAK = Deno.env.get("VPC_CNI_SOAK") === "1";
const BATCH = 6;
const RUNS = SOAK ? 200 : 25;
const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"];
const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** One generated input and what it must produce. */
interface Case {
  what: string;
  env: Record<string, string>;
  stdin: Uint8Array;
  codes: number[];
  /** The message (or details) must match: it names the bad field. */
  mention: RegExp;
}

/** What every case ran against. */
interface Ctx {
  node: TestNetns;
  pod: TestNetns;
  fake: FakeIpamd;
  dir: string;
}

const enc = new TextEncoder();
let tried = 0;

function baseConf(ctx: Ctx, version = "1.0.0"): Record<string, unknown> {
  return {
    cniVersion: version,
    name: "aws-cni",
    type: "aws-cni",
    vethPrefix: "eni",
    mtu: 9001,
    ipamdSocket: ctx.fake.socketPath,
    pluginLogFile: `${ctx.dir}/plugin.log`,
    pluginLogLevel: "debug",
  };
}

function prevResult(): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    interfaces: [{ name: "eni0123456789a" }, { name: "eth0", mac: "0a:58:0a:00:00:01", sandbox: "/x" }],
    ips: [{ address: "10.0.1.5/32", gateway: "169.254.1.1", interface: 1 }],
    routes: [{ dst: "0.0.0.0/0", gw: "169.254.1.1" }],
    dns: {},
  };
}

function baseEnv(ctx: Ctx, command = "ADD"): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: "c0ffee",
    CNI_NETNS: ctx.pod.path,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p",
  };
}

const json = (v: unknown) => enc.encode(JSON.stringify(v));
const noNul = (s: string) => !s.includes("\0");

/** Any JSON value that is neither a string nor null (null would mean "absent"). */
const wrongType = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

/** Every generator of bad input, given the test's namespaces and sockets. */
function caseArb(ctx: Ctx): fc.Arbitrary<Case> {
  const cmd = fc.constantFrom("ADD", "DEL", "CHECK");
  const stdinCmd = fc.constantFrom("ADD", "DEL", "CHECK", "GC", "STATUS");

  const notJson = fc.string({ unit: "grapheme", maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }).map((s) => ({
    what: `not JSON ${JSON.stringify(s.slice(0, 40))}`,
    bytes: enc.encode(s),
    re: /JSON|empty/,
  }));
  const notObject = fc.oneof(
    fc.integer(),
    fc.string(),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
    fc.constant(null),
  )
    .map((v) => ({
      what: `JSON not an object ${JSON.stringify(v)?.slice(0, 40)}`,
      bytes: json(v),
      re: /object/,
    }));
  const badUtf8 = fc.tuple(
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom([0xff], [0xc3, 0x28], [0xe2, 0x82, 0x28], [0xf0, 0x28, 0x8c, 0x28], [0xed, 0xa0, 0x80]),
    fc.uint8Array({ maxLength: 64 }),
  ).map(([a, bad, b]) => ({
    what: `invalid UTF-8 ${bad.map((x) => x.toString(16)).join(" ")}`,
    bytes: new Uint8Array([...json({ cniVersion: "1.0.0", name: "x" }).slice(0, 10), ...a, ...bad, ...b]),
    re: /UTF-8/,
  }));
  const stdinCases = fc.tuple(stdinCmd, fc.oneof(notJson, notObject, badUtf8)).map(([c, s]): Case => ({
    what: `${c}: ${s.what}`,
    env: baseEnv(ctx, c),
    stdin: s.bytes,
    codes: [6],
    mention: s.re,
  }));

  // One config field replaced by a value of the wrong type or out of range.
  const field = fc.oneof(
    wrongType.filter((v) => v !== null).map((v) => ({ k: "cniVersion", v, codes: [1] })),
    fc.string({ maxLength: 8 }).filter((s) => !["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"].includes(s))
      .map((v) => ({ k: "cniVersion", v, codes: [1] })),
    fc.oneof(wrongType, fc.string({ maxLength: 20 }).filter((s) => !ID.test(s)))
      .map((v) => ({ k: "name", v, codes: [7] })),
    wrongType.map((v) => ({ k: "type", v, codes: [7] })),
    fc.oneof(
      wrongType,
      fc.constantFrom("eth", "lo", "vlan", "abcde", "a/b", "a:", "a b", "ééé"),
    ).map((v) => ({ k: "vethPrefix", v, codes: [7] })),
    fc.oneof(
      fc.boolean(),
      fc.integer({ max: 575 }),
      fc.integer({ min: 9002 }),
      fc.double({ min: 577, max: 9000, noInteger: true }),
      fc.constantFrom("big", "9001x", "-1", "1e3", [1500], { mtu: 1500 }),
    ).map((v) => ({ k: "mtu", v, codes: [7] })),
    wrongType.map((v) => ({ k: "pluginLogFile", v, codes: [7] })),
    fc.oneof(wrongType, fc.constantFrom("verbose", "trace", "fatal", "x")).map((v) => ({
      k: "pluginLogLevel",
      v,
      codes: [7],
    })),
    wrongType.map((v) => ({ k: "ipamdSocket", v, codes: [7] })),
  );
  const confCases = fc.tuple(cmd, field).map(([c, f]): Case => {
    const conf = { ...baseConf(ctx), [f.k]: f.v };
    if (c !== "ADD") conf.prevResult = prevResult();
    return {
      what: `${c}: ${f.k}=${JSON.stringify(f.v)}`,
      env: baseEnv(ctx, c),
      stdin: json(conf),
      codes: f.codes,
      mention: new RegExp(f.k === "name" ? "name" : f.k),
    };
  });

  // prevResult of the wrong version or shape (DEL and CHECK read it).
  const badPrev = fc.oneof(
    wrongType.filter((v) => typeof v !== "object" || Array.isArray(v))
      .map((v) => ({ what: `prevResult=${JSON.stringify(v)}`, p: v as unknown })),
    fc.constantFrom("0.1.0", "0.2.0", "2.0.0", "1.0", "latest", 1).map((v) => ({
      what: `prevResult.cniVersion=${JSON.stringify(v)}`,
      p: { ...prevResult(), cniVersion: v } as unknown,
    })),
    fc.constantFrom("interfaces", "ips", "routes").chain((k) =>
      wrongType.filter((v) => !Array.isArray(v)).map((v) => ({
        what: `prevResult.${k}=${JSON.stringify(v)}`,
        p: { ...prevResult(), [k]: v } as unknown,
      }))
    ),
    fc.oneof(wrongType, fc.constantFrom("10.0.0.1", "10.0.0.300/32", "a/b", "", "10.0.0.1/33")).map((v) => ({
      what: `prevResult.ips[0].address=${JSON.stringify(v)}`,
      p: { ...prevResult(), ips: [{ address: v, interface: 1 }] } as unknown,
    })),
    fc.oneof(fc.integer({ min: 2 }), fc.integer({ max: -1 }), fc.constantFrom("1", 0.5, true)).map((v) => ({
      what: `prevResult.ips[0].interface=${JSON.stringify(v)}`,
      p: { ...prevResult(), ips: [{ address: "10.0.1.5/32", interface: v }] } as unknown,
    })),
    fc.oneof(fc.integer(), fc.constant(""), fc.constant(null), fc.constant([])).map((v) => ({
      what: `prevResult.interfaces[0].name=${JSON.stringify(v)}`,
      p: { ...prevResult(), interfaces: [{ name: v }] } as unknown,
    })),
  );
  const prevCases = fc.tuple(fc.constantFrom("DEL", "CHECK"), badPrev).map(([c, b]): Case => ({
    what: `${c}: ${b.what}`,
    env: baseEnv(ctx, c),
    stdin: json({ ...baseConf(ctx), prevResult: b.p }),
    codes: [7],
    mention: /prevResult/,
  }));

  // CNI_COMMAND missing or unknown.
  const badCommand = fc.oneof(
    fc.constant(undefined),
    fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => noNul(s) && !COMMANDS.includes(s)),
    fc.constantFrom("add", "Add", "DELETE", "ADD ", " ADD", "CHECK\n"),
  ).map((c): Case => {
    const env = baseEnv(ctx);
    if (c === undefined) delete (env as Record<string, string | undefined>).CNI_COMMAND;
    else env.CNI_COMMAND = c;
    return {
      what: `CNI_COMMAND=${JSON.stringify(c)}`,
      env,
      stdin: json(baseConf(ctx)),
      codes: [4],
      mention: /CNI_COMMAND/,
    };
  });

  // Container IDs and interface names that break libcni's rules.
  const badId = fc.tuple(
    cmd,
    fc.string({ unit: "grapheme", maxLength: 80 }).filter((s) => noNul(s) && !ID.test(s)),
  )
    .map(([c, id]): Case => ({
      what: `${c}: CNI_CONTAINERID=${JSON.stringify(id)}`,
      env: { ...baseEnv(ctx, c), CNI_CONTAINERID: id },
      stdin: json({ ...baseConf(ctx), prevResult: prevResult() }),
      codes: [4],
      mention: /CNI_CONTAINERID/,
    }));
  const badIf = fc.tuple(
    cmd,
    fc.oneof(
      fc.constantFrom("", ".", "..", "eth0:1", "a/b", "eth 0", "eth\t0", "eth0\n", "abcdefghijklmnop"),
      fc.string({ unit: "grapheme", minLength: 16, maxLength: 40 }).filter(noNul),
      fc.tuple(
        fc.string({ maxLength: 5 }),
        fc.constantFrom("/", ":", " ", "\t", "\n", "\v"),
        fc.string({ maxLength: 5 }),
      )
        .map(([a, b, c]) => a + b + c).filter(noNul),
      fc.string({ unit: "grapheme", minLength: 6, maxLength: 15 })
        .filter((s) => noNul(s) && enc.encode(s).length > 15),
    ),
  ).map(([c, n]): Case => ({
    what: `${c}: CNI_IFNAME=${JSON.stringify(n)}`,
    env: { ...baseEnv(ctx, c), CNI_IFNAME: n },
    stdin: json({ ...baseConf(ctx), prevResult: prevResult() }),
    codes: [4],
    mention: /CNI_IFNAME/,
  }));

  // CNI_NETNS that does not exist or is not a namespace (ADD and CHECK need it).
  const badNetns = fc.tuple(
    fc.constantFrom("ADD", "CHECK"),
    fc.oneof(
      fc.constantFrom(`${ctx.dir}/regular-file`, ctx.dir, "/", "/dev/null", "/proc/self/status"),
      fc.stringMatching(/^[a-z0-9]{1,10}$/).map((s) => `/var/run/netns/rel-missing-${s}`),
      fc.stringMatching(/^[a-z0-9/]{1,20}$/).map((s) => `${ctx.dir}/missing/${s}`),
    ),
  ).map(([c, p]): Case => ({
    what: `${c}: CNI_NETNS=${p}`,
    env: { ...baseEnv(ctx, c), CNI_NETNS: p },
    stdin: json({ ...baseConf(ctx), prevResult: prevResult() }),
    codes: [3, 4],
    mention: new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
  }));

  // CNI_ARGS that are not K=V pairs, or carry unknown keys without IgnoreUnknown.
  const badArgs = fc.tuple(
    cmd,
    fc.oneof(
      fc.constantFrom("=x", "novalue", "A=1;=2", "FOO=bar", "K8S_POD_NAME=p;BAR=1", "IgnoreUnknown=0;X=1"),
      fc.stringMatching(/^[A-Z]{1,8}$/).filter((k) => !k.startsWith("K8S")).map((k) => `${k}=v`),
    ),
  ).map(([c, a]): Case => ({
    what: `${c}: CNI_ARGS=${JSON.stringify(a)}`,
    env: { ...baseEnv(ctx, c), CNI_ARGS: a },
    stdin: json({ ...baseConf(ctx), prevResult: prevResult() }),
    codes: [4],
    mention: /CNI_ARGS/,
  }));

  // Counterexamples print as their one-line description, not as bytes.
  const named = (c: Case): Case => Object.assign(c, { [fc.toStringMethod]: () => c.what });
  return fc.oneof(
    { arbitrary: stdinCases, weight: 3 },
    { arbitrary: confCases, weight: 4 },
    { arbitrary: prevCases, weight: 2 },
    { arbitrary: badCommand, weight: 1 },
    { arbitrary: badId, weight: 1 },
    { arbitrary: badIf, weight: 1 },
    { arbitrary: badNetns, weight: 1 },
    { arbitrary: badArgs, weight: 1 },
  ).map(named);
}

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the plugin in the node namespace with exactly `env` (+ PATH/HOME for deno) and `stdin`. */
async function runPlugin(ctx: Ctx, c: Case): Promise<Out> {
  const keep: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "DENO_DIR"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) keep[k] = v;
  }
  const child = new Deno.Command("nsenter", {
    args: [`--net=${ctx.node.path}`, "--", Deno.execPath(), "run", "--allow-all", "--no-config", MAIN],
    env: { ...keep, ...c.env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const w = child.stdin.getWriter();
    // The plugin may fail before reading all of a huge stdin: a broken pipe is fine.
    await w.write(c.stdin).catch(() => {});
    await w.close().catch(() => {});
    const o = await child.output();
    const dec = new TextDecoder();
    tried++;
    return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Everything a plugin run could change: links, addresses, rules, routes (node and pod), ipamd. */
async function snapshot(ctx: Ctx): Promise<string> {
  const parts: string[] = [];
  for (const ns of [ctx.node, ctx.pod]) {
    for (
      const argv of [["ip", "-d", "link"], ["ip", "addr"], ["ip", "rule"], [
        "ip",
        "route",
        "show",
        "table",
        "all",
      ]]
    ) {
      parts.push(await ns.execOk(argv));
    }
  }
  parts.push(`ipamd calls ${ctx.fake.calls.length} held ${[...ctx.fake.held.keys()].join(",")}`);
  return parts.join("\n");
}

/** The checks every case must pass; returns a problem or undefined. */
function verdict(c: Case, o: Out): string | undefined {
  if (o.code === 0) return `exit 0`;
  if (/Uncaught|panicked|RUST_BACKTRACE/.test(o.stderr)) {
    return `uncaught on stderr: ${o.stderr.slice(0, 300)}`;
  }
  const lines = o.stdout.trim().split("\n");
  if (lines.length !== 1) return `stdout is not one line: ${o.stdout.slice(0, 300)}`;
  let j: { cniVersion?: unknown; code?: unknown; msg?: unknown; details?: unknown };
  try {
    j = JSON.parse(lines[0]);
  } catch {
    return `stdout is not JSON: ${o.stdout.slice(0, 300)}`;
  }
  if (typeof j.cniVersion !== "string" || typeof j.msg !== "string" || typeof j.code !== "number") {
    return `not a spec error: ${lines[0].slice(0, 300)}`;
  }
  if (!c.codes.includes(j.code)) return `code ${j.code}, want ${c.codes.join("|")}: ${j.msg}`;
  if (!c.mention.test(`${j.msg} ${j.details ?? ""}`)) return `message does not name ${c.mention}: ${j.msg}`;
  return undefined;
}

async function withCtx(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rel-cni-" });
  const fake = FakeIpamd.start({ ips: ["10.0.1.5", "10.0.1.6"], socketPath: `${dir}/ipamd.sock` });
  const made: TestNetns[] = [];
  try {
    await Deno.writeTextFile(`${dir}/regular-file`, "not a namespace\n");
    const node = await TestNetns.create("rn");
    made.push(node);
    const pod = await TestNetns.create("rp");
    made.push(pod);
    await node.execOk(["ip", "addr", "add", "10.0.0.5/32", "dev", "lo"]);
    await fn({ node, pod, fake, dir });
  } finally {
    for (const ns of made) await ns.delete();
    await fake.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function runBatch(ctx: Ctx, cases: Case[]): Promise<void> {
  const before = await snapshot(ctx);
  const outs = await Promise.all(cases.map((c) => runPlugin(ctx, c)));
  const bad = cases.map((c, i) => [c, verdict(c, outs[i])] as const).filter(([, v]) => v);
  assert.deepEqual(bad.map(([c, v]) => `${c.what}: ${v}`), []);
  assert.equal(
    await snapshot(ctx),
    before,
    `node/pod/ipamd changed by: ${cases.map((c) => c.what).join("; ")}`,
  );
}

Deno.test({
  name: "malformed CNI input (property): spec error, right code, field named, nothing changed",
  ...rootOnly,
  async fn() {
    await withCtx(async (ctx) => {
      const t0 = performance.now();
      await fc.assert(
        fc.asyncProperty(
          fc.array(caseArb(ctx), { minLength: BATCH, maxLength: BATCH }),
          (cases) => runBatch(ctx, cases),
        ),
        { numRuns: RUNS, endOnFailure: true },
      );
      assert.equal(ctx.fake.calls.length, 0, "garbage reached ipamd");
      console.log(
        `malformed CNI: ${tried} plugin runs in ${Math.round(performance.now() - t0)} ms, 0 changes`,
      );
    });
  },
});

Deno.test({
  name: "malformed CNI input (fixed): MB-sized documents, deep nesting, netns not a namespace",
  ...rootOnly,
  async fn() {
    await withCtx(async (ctx) => {
      const mb = (n: number) => n * 1024 * 1024;
      const cases: Case[] = [
        {
          what: "4 MiB of non-JSON",
          env: baseEnv(ctx),
          stdin: new Uint8Array(mb(4)).fill(0x7b),
          codes: [6],
          mention: /JSON/,
        },
        {
          what: "3 MiB valid JSON with a bad mtu",
          env: baseEnv(ctx),
          stdin: json({ ...baseConf(ctx), padding: "x".repeat(mb(3)), mtu: "huge" }),
          codes: [7],
          mention: /mtu/,
        },
        {
          what: "2 MiB network name",
          env: baseEnv(ctx),
          stdin: json({ ...baseConf(ctx), name: "a b".repeat(mb(2) / 3) }),
          codes: [7],
          mention: /name/,
        },
        {
          what: "1 M nested arrays",
          env: baseEnv(ctx),
          stdin: enc.encode("[".repeat(mb(1))),
          codes: [6],
          mention: /JSON/,
        },
        {
          what: "arrays 100k deep in prevResult.interfaces",
          env: baseEnv(ctx, "DEL"),
          stdin: enc.encode(
            JSON.stringify(baseConf(ctx)).slice(0, -1) + ',"prevResult":{"interfaces":[' +
              "[".repeat(100_000) +
              "]".repeat(100_000) + "]}}",
          ),
          codes: [6, 7],
          mention: /JSON|prevResult/,
        },
        {
          what: "invalid UTF-8 in a 1 MiB string",
          env: baseEnv(ctx),
          stdin: new Uint8Array([
            ...enc.encode('{"cniVersion":"1.0.0","name":"'),
            ...new Uint8Array(mb(1)).fill(0xff),
            0x22,
            0x7d,
          ]),
          codes: [6],
          mention: /UTF-8/,
        },
        {
          what: "empty stdin",
          env: baseEnv(ctx),
          stdin: new Uint8Array(),
          codes: [6],
          mention: /empty/,
        },
        {
          what: "ADD netns is a regular file",
          env: { ...baseEnv(ctx), CNI_NETNS: `${ctx.dir}/regular-file` },
          stdin: json(baseConf(ctx)),
          codes: [3, 4],
          mention: /regular-file/,
        },
        {
          what: "ADD netns is a directory",
          env: { ...baseEnv(ctx), CNI_NETNS: ctx.dir },
          stdin: json(baseConf(ctx)),
          codes: [3, 4],
          mention: new RegExp(ctx.dir),
        },
        {
          what: "ADD netns missing",
          env: { ...baseEnv(ctx), CNI_NETNS: "/var/run/netns/rel-no-such-ns" },
          stdin: json(baseConf(ctx)),
          codes: [3, 4],
          mention: /rel-no-such-ns/,
        },
        {
          what: "ADD without CNI_NETNS",
          env: { ...baseEnv(ctx), CNI_NETNS: "" },
          stdin: json(baseConf(ctx)),
          codes: [4],
          mention: /CNI_NETNS/,
        },
        {
          what: "ADD without CNI_PATH",
          env: { ...baseEnv(ctx), CNI_PATH: "" },
          stdin: json(baseConf(ctx)),
          codes: [4],
          mention: /CNI_PATH/,
        },
        {
          what: "CHECK on a 0.3.1 config",
          env: baseEnv(ctx, "CHECK"),
          stdin: json({ ...baseConf(ctx, "0.3.1"), prevResult: prevResult() }),
          codes: [1],
          mention: /CHECK/,
        },
        {
          what: "GC on a 1.0.0 config",
          env: baseEnv(ctx, "GC"),
          stdin: json(baseConf(ctx, "1.0.0")),
          codes: [1],
          mention: /GC/,
        },
        {
          what: "GC valid-attachments not a list",
          env: baseEnv(ctx, "GC"),
          stdin: json({ ...baseConf(ctx, "1.1.0"), "cni.dev/valid-attachments": { a: 1 } }),
          codes: [7],
          mention: /valid-attachments/,
        },
        {
          what: "GC valid-attachments entry without containerID",
          env: baseEnv(ctx, "GC"),
          stdin: json({ ...baseConf(ctx, "1.1.0"), "cni.dev/valid-attachments": [{ ifname: "eth0" }] }),
          codes: [7],
          mention: /containerID/,
        },
      ];
      const before = await snapshot(ctx);
      for (const c of cases) {
        const o = await runPlugin(ctx, c);
        assert.equal(verdict(c, o), undefined, c.what);
      }
      assert.equal(await snapshot(ctx), before);
      assert.equal(ctx.fake.calls.length, 0, "garbage reached ipamd");
    });
  },
});

Deno.test({
  name: "DEL of something already gone succeeds: netns missing, empty, a file or a directory; no prevResult",
  ...rootOnly,
  async fn() {
    await withCtx(async (ctx) => {
      const before = await snapshot(ctx);
      let n = 0;
      for (const netns of ["", "/var/run/netns/rel-gone", `${ctx.dir}/regular-file`, ctx.dir, ctx.pod.path]) {
        for (const prev of [undefined, prevResult()]) {
          const conf = prev ? { ...baseConf(ctx), prevResult: prev } : baseConf(ctx);
          const c: Case = {
            what: `DEL netns=${JSON.stringify(netns)} prevResult=${!!prev}`,
            env: { ...baseEnv(ctx, "DEL"), CNI_NETNS: netns, CNI_CONTAINERID: `gone${n++}` },
            stdin: json(conf),
            codes: [],
            mention: /./,
          };
          const o = await runPlugin(ctx, c);
          assert.equal(o.code, 0, `${c.what}: ${o.stdout} ${o.stderr}`);
          assert.equal(o.stdout.trim(), "", c.what);
          assert.doesNotMatch(o.stderr, /Uncaught|panicked/, c.what);
        }
      }
      // Each DEL told ipamd (which knew nothing); nothing else changed.
      assert.equal(ctx.fake.callsTo("/v1/del-network").length, n);
      assert.equal(await snapshot(ctx), before.replace(/ipamd calls 0/, `ipamd calls ${n}`));
    });
  },
});
