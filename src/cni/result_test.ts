import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import {
  findAttachment,
  formatResult,
  GATEWAY,
  GATEWAY6,
  parsePrevResult,
  type PodAttachment,
} from "./result.ts";
import { SUPPORTED_VERSIONS } from "./spec.ts";
import { formatIpv6 } from "../../ffi/parse.ts";

const att: PodAttachment = {
  hostVeth: { name: "eni0123456789a", mac: "02:00:00:00:00:01", mtu: 9001 },
  pod: { name: "eth0", mac: "0a:00:00:00:00:02", sandbox: "/var/run/netns/p", mtu: 9001 },
  ip: "10.0.1.5",
};

Deno.test("result shape per cniVersion", () => {
  for (const v of SUPPORTED_VERSIONS) {
    const r = formatResult(att, v) as unknown as {
      cniVersion: string;
      interfaces: Record<string, unknown>[];
      ips: Record<string, unknown>[];
      routes: unknown;
      dns: unknown;
    };
    assert.equal(r.cniVersion, v);
    assert.deepEqual(r.interfaces.map((i) => i.name), ["eni0123456789a", "eth0"]);
    assert.equal(r.interfaces[0].sandbox, undefined);
    assert.equal(r.interfaces[1].sandbox, "/var/run/netns/p");
    assert.equal(r.interfaces[1].mac, "0a:00:00:00:00:02");
    assert.equal(r.ips.length, 1);
    assert.equal(r.ips[0].address, "10.0.1.5/32");
    assert.equal(r.ips[0].gateway, GATEWAY);
    assert.equal(r.ips[0].interface, 1);
    assert.equal(r.ips[0].version, v.startsWith("0.") ? "4" : undefined, v);
    assert.deepEqual(r.routes, [{ dst: "0.0.0.0/0", gw: GATEWAY }]);
    assert.deepEqual(r.dns, {});
    assert.equal(r.interfaces[1].mtu, v === "1.1.0" ? 9001 : undefined);
  }
});

Deno.test("IPv6 result shape per cniVersion: IP/128, gateway fe80::1, a ::/0 route", () => {
  for (const v of SUPPORTED_VERSIONS) {
    const r = formatResult({ ...att, ip: "2600:1f13:b66:8203:34e5::" }, v) as unknown as {
      ips: Record<string, unknown>[];
      routes: unknown;
    };
    assert.deepEqual(r.ips, [{
      address: "2600:1f13:b66:8203:34e5::/128",
      gateway: GATEWAY6,
      interface: 1,
      ...(v.startsWith("0.") ? { version: "6" } : {}),
    }]);
    assert.deepEqual(r.routes, [{ dst: "::/0", gw: "fe80::1" }]);
  }
  // an IPv6 pod behind egress-cni: its prevResult lists the extra interfaces but no IPv4 of ours
  const p = parsePrevResult({
    cniVersion: "1.0.0",
    interfaces: [{ name: "eniX" }, { name: "eth0", sandbox: "/n" }, { name: "vethE" }, {
      name: "v4if0",
      sandbox: "/n",
    }],
    ips: [{ address: "2600:1f13::5/128", interface: 1 }],
  });
  assert.equal(findAttachment(p, "eth0").ip, "2600:1f13::5");
});

Deno.test("prevResult: our own result reads back for DEL/CHECK", () => {
  for (const v of SUPPORTED_VERSIONS) {
    const p = parsePrevResult(JSON.parse(JSON.stringify(formatResult(att, v))));
    assert.deepEqual(findAttachment(p, "eth0"), {
      hostVeth: "eni0123456789a",
      hostMac: "02:00:00:00:00:01",
      podMac: "0a:00:00:00:00:02",
      ip: "10.0.1.5",
    });
  }
  // after a chained plugin appended its own interface and an IPv6 address
  const p = parsePrevResult({
    cniVersion: "1.0.0",
    interfaces: [{ name: "eniX" }, { name: "eth0", sandbox: "/n" }, { name: "dummy0" }],
    ips: [{ address: "fd00::1/128", interface: 1 }, { address: "10.0.0.9/32", interface: 1 }],
  });
  assert.deepEqual(findAttachment(p, "eth0"), {
    hostVeth: "eniX",
    hostMac: undefined,
    podMac: undefined,
    ip: "10.0.0.9",
  });
  assert.deepEqual(findAttachment(parsePrevResult({}), "eth0"), {});
});

Deno.test("property: formatResult output always parses back as a prevResult", () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const mac = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
    .map((b) => b.map((x) => x.toString(16).padStart(2, "0")).join(":"));
  const v4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(b));
  fc.assert(fc.property(
    fc.oneof(v4, v6),
    mac,
    mac,
    fc.constantFrom(...SUPPORTED_VERSIONS),
    (o, m1, m2, v) => {
      const a = {
        ...att,
        ip: o,
        hostVeth: { ...att.hostVeth, mac: m1 },
        pod: { ...att.pod, mac: m2 },
      };
      const back = findAttachment(parsePrevResult(formatResult(a, v)), "eth0");
      assert.equal(back.ip, a.ip);
      assert.equal(back.hostMac, m1);
      assert.equal(back.podMac, m2);
    },
  ));
});
