import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { decodeStdin, DEFAULTS, parseConf } from "./conf.ts";
import { cniErr } from "../../tests/helpers/errors.ts";
import { CniError } from "./spec.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const base = { cniVersion: "1.0.0", name: "aws-cni", type: "aws-cni" };

Deno.test("stdin decoding: empty, not UTF-8, not JSON, not an object → code 6", () => {
  for (
    const b of [
      enc(""),
      enc("  \n"),
      new Uint8Array([0xff, 0xfe, 0x7b]),
      enc("{"),
      enc("[1]"),
      enc("null"),
      enc("3"),
    ]
  ) {
    assert.equal(cniErr(() => decodeStdin(b)).code, 6);
  }
  assert.deepEqual(decodeStdin(enc(base)), base);
});

Deno.test("defaults, upstream's string mtu, unknown keys ignored", () => {
  const c = parseConf({ ...base, podSGEnforcingMode: "strict", disableCheck: true, whatever: [1] }, "ADD");
  assert.equal(c.vethPrefix, DEFAULTS.vethPrefix);
  assert.equal(c.mtu, undefined);
  assert.equal(c.pluginLogFile, "/var/log/aws-routed-eni/plugin.log");
  assert.equal(c.ipamdSocket, "/var/run/aws-node/ipamd.sock");
  assert.equal(c.pluginLogLevel, "debug");
  const d = parseConf({
    ...base,
    mtu: "1500",
    vethPrefix: "abcd",
    pluginLogLevel: "WARNING",
    pluginLogFile: "/tmp/x.log",
    ipamdSocket: "/tmp/s",
  }, "ADD");
  assert.deepEqual([d.mtu, d.vethPrefix, d.pluginLogLevel, d.pluginLogFile, d.ipamdSocket], [
    1500,
    "abcd",
    "warn",
    "/tmp/x.log",
    "/tmp/s",
  ]);
  assert.equal(parseConf({ ...base, mtu: 576 }, "ADD").mtu, 576);
  assert.equal(parseConf({ ...base, mtu: 9001 }, "ADD").mtu, 9001);
});

Deno.test("bad conf keys → code 7 naming the key", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ vethPrefix: "abcde" }, /vethPrefix/],
    [{ vethPrefix: "eth" }, /vethPrefix/],
    [{ vethPrefix: "lo" }, /vethPrefix/],
    [{ vethPrefix: "vlan" }, /vethPrefix/],
    [{ vethPrefix: "a/b" }, /vethPrefix/],
    [{ vethPrefix: 3 }, /vethPrefix/],
    [{ mtu: 575 }, /mtu/],
    [{ mtu: 9002 }, /mtu/],
    [{ mtu: 1500.5 }, /mtu/],
    [{ mtu: "big" }, /mtu/],
    [{ pluginLogLevel: "loud" }, /pluginLogLevel/],
    [{ ipamdSocket: 1 }, /ipamdSocket/],
    [{ name: "bad name" }, /name/],
    [{ name: undefined }, /name/],
    [{ prevResult: [] }, /prevResult/],
    [{ prevResult: { interfaces: {} } }, /prevResult\.interfaces/],
    [{ prevResult: { interfaces: [{}] } }, /prevResult\.interfaces\[0\]\.name/],
    [{ prevResult: { ips: [{ address: "10.0.0.1" }] } }, /prevResult\.ips\[0\]\.address/],
    [{ prevResult: { ips: [{ address: "10.0.0.1/32", interface: 2 }] } }, /prevResult\.ips\[0\]\.interface/],
    [{ prevResult: { ips: [{ address: "10.0.0.1/32", version: "5" }] } }, /prevResult\.ips\[0\]\.version/],
    [{ prevResult: { routes: [{ dst: "x" }] } }, /prevResult\.routes\[0\]\.dst/],
    [{ prevResult: { cniVersion: "0.2.0" } }, /prevResult\.cniVersion/],
  ];
  for (const [over, re] of cases) {
    const e = cniErr(() => parseConf({ ...base, ...over }, "ADD"));
    assert.equal(e.code, 7, JSON.stringify(over));
    assert.match(e.message, re);
  }
});

Deno.test("cniVersion: missing/unsupported → 1; CHECK < 0.4.0, GC/STATUS < 1.1.0 → 1", () => {
  assert.equal(cniErr(() => parseConf({ name: "n" }, "ADD")).code, 1);
  assert.equal(cniErr(() => parseConf({ ...base, cniVersion: "0.2.0" }, "ADD")).code, 1);
  assert.equal(cniErr(() => parseConf({ ...base, cniVersion: 1 }, "ADD")).code, 1);
  assert.equal(cniErr(() => parseConf({ ...base, cniVersion: "0.3.1" }, "CHECK")).code, 1);
  assert.equal(parseConf({ ...base, cniVersion: "0.4.0" }, "CHECK").cniVersion, "0.4.0");
  for (const cmd of ["GC", "STATUS"] as const) {
    assert.equal(cniErr(() => parseConf({ ...base, cniVersion: "1.0.0" }, cmd)).code, 1);
    assert.equal(parseConf({ ...base, cniVersion: "1.1.0" }, cmd).cniVersion, "1.1.0");
  }
});

Deno.test("GC attachments: both spellings, containerID/ifname keys", () => {
  const a = [{ containerID: "c1", ifname: "eth0" }];
  const v11 = { ...base, cniVersion: "1.1.0" };
  assert.deepEqual(parseConf({ ...v11, "cni.dev/valid-attachments": a }, "GC").validAttachments, [{
    containerId: "c1",
    ifName: "eth0",
  }]);
  assert.deepEqual(parseConf({ ...v11, "cni.dev/attachments": a }, "GC").validAttachments, [{
    containerId: "c1",
    ifName: "eth0",
  }]);
  assert.deepEqual(parseConf(v11, "GC").validAttachments, []);
  assert.equal(
    cniErr(() => parseConf({ ...v11, "cni.dev/valid-attachments": [{ ifname: "x" }] }, "GC")).code,
    7,
  );
  assert.equal(cniErr(() => parseConf({ ...v11, "cni.dev/valid-attachments": {} }, "GC")).code, 7);
});

Deno.test("property: parseConf on any JSON object returns or throws a CniError (1, 2 or 7)", () => {
  const anyConf = fc.record({
    cniVersion: fc.oneof(
      fc.constantFrom("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "0.2.0"),
      fc.anything(),
    ),
    name: fc.oneof(fc.constant("net"), fc.anything()),
    vethPrefix: fc.anything(),
    mtu: fc.oneof(fc.integer(), fc.string(), fc.anything()),
    pluginLogLevel: fc.anything(),
    prevResult: fc.oneof(
      fc.anything(),
      fc.record({ interfaces: fc.anything(), ips: fc.anything(), routes: fc.anything() }),
    ),
    "cni.dev/valid-attachments": fc.anything(),
  }, { requiredKeys: [] });
  fc.assert(
    fc.property(anyConf, fc.constantFrom("ADD", "DEL", "CHECK", "GC", "STATUS"), (raw, cmd) => {
      try {
        parseConf(raw as Record<string, unknown>, cmd);
      } catch (e) {
        assert.ok(e instanceof CniError, String(e));
        assert.ok([1, 2, 7].includes(e.code), `${e.code} ${e.message}`);
      }
    }),
    { numRuns: 3000 },
  );
});
