import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { type AttachmentKey, Datastore, DatastoreError, NoFreeIpError } from "./datastore.ts";
import { ipToInt } from "../net/ipv4.ts";

const COOLDOWN = 30_000;
const eniOf = (d: number) => ({
  eniId: `eni-${d}`,
  deviceNumber: d,
  subnetId: "subnet-1",
  subnetCidr: "10.0.0.0/16",
  primaryIp: `10.0.${d}.10`,
  mac: `02:00:00:00:00:0${d}`,
  createdAt: 0,
});
const key = (i: number): AttachmentKey => ({ netName: "aws-cni", containerId: `c${i}`, ifName: "eth0" });

Deno.test("Datastore: assigns lowest device first, then lowest address; ignores the primary IP", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(1));
  ds.addEni(eniOf(0));
  ds.addIps("eni-1", ["10.0.1.11", "10.0.1.12"]);
  ds.addIps("eni-0", ["10.0.0.10", "10.0.0.20", "10.0.0.9", "10.0.0.100"]);
  assert.deepEqual(ds.eni("eni-0")!.ips, ["10.0.0.9", "10.0.0.20", "10.0.0.100"]);
  const got = [0, 1, 2, 3, 4].map((i) => ds.assign(key(i), {}, 0).ip);
  assert.deepEqual(got, ["10.0.0.9", "10.0.0.20", "10.0.0.100", "10.0.1.11", "10.0.1.12"]);
  assert.throws(() => ds.assign(key(5), {}, 0), NoFreeIpError);
  assert.deepEqual(ds.stats(0), { total: 5, assigned: 5, cooling: 0, free: 0 });
});

Deno.test("Datastore: repeat assign is idempotent, release cools, cooldown ends", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addIps("eni-0", ["10.0.0.11", "10.0.0.12"]);
  const a = ds.assign(key(1), { k8sPodName: "p" }, 100);
  assert.deepEqual(ds.assign(key(1), { k8sPodName: "other" }, 200), a);
  assert.equal(a.eniId, "eni-0");
  assert.equal(ds.release(key(1), 1000)?.ip, "10.0.0.11");
  assert.equal(ds.release(key(1), 1000), undefined);
  assert.equal(ds.ipState("10.0.0.11", 1000), "cooling");
  assert.equal(ds.assign(key(2), {}, 1001).ip, "10.0.0.12");
  assert.throws(() => ds.assign(key(3), {}, 1002), (e: unknown) => {
    assert.ok(e instanceof NoFreeIpError);
    assert.equal(e.retryAfterMs, 1000 + COOLDOWN - 1002);
    return true;
  });
  assert.deepEqual(ds.stats(1002), { total: 2, assigned: 1, cooling: 1, free: 0 });
  assert.equal(ds.ipState("10.0.0.11", 1000 + COOLDOWN), "free");
  assert.equal(ds.assign(key(3), {}, 1000 + COOLDOWN).ip, "10.0.0.11");
});

Deno.test("Datastore: cooldown survives removing and re-adding the IP", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addIps("eni-0", ["10.0.0.11"]);
  ds.assign(key(1), {}, 0);
  ds.release(key(1), 0);
  ds.removeIps("eni-0", ["10.0.0.11"]);
  assert.equal(ds.ipState("10.0.0.11", 0), "unknown");
  ds.addIps("eni-0", ["10.0.0.11"]);
  assert.equal(ds.ipState("10.0.0.11", 10), "cooling");
});

Deno.test("Datastore: refuses removing assigned IPs and ENIs, and IPs owned elsewhere", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addEni(eniOf(1));
  ds.addIps("eni-1", ["10.0.1.11", "10.0.1.12"]);
  const a = ds.assign(key(1), {}, 0);
  assert.equal(a.eniId, "eni-1");
  assert.throws(() => ds.removeIps("eni-1", ["10.0.1.12", a.ip]), DatastoreError);
  assert.deepEqual(ds.eni("eni-1")!.ips, ["10.0.1.11", "10.0.1.12"], "nothing removed");
  assert.throws(() => ds.removeEni("eni-1"), /still has assigned IPs: 10\.0\.1\.11/);
  assert.throws(() => ds.addIps("eni-0", ["10.0.1.11"]), /already on eni-1/);
  assert.throws(() => ds.addIps("eni-9", ["10.0.1.13"]), /unknown ENI/);
  ds.release(key(1), 0);
  ds.removeEni("eni-1");
  ds.removeEni("eni-1");
  assert.equal(ds.eni("eni-1"), undefined);
  assert.equal(ds.ipState("10.0.1.11", 0), "unknown");
});

Deno.test("Datastore: prefixes add 16 pod IPs and are removed whole", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addPrefixes("eni-0", ["10.0.8.16/28"]);
  ds.addPrefixes("eni-0", ["10.0.8.16/28"]);
  assert.equal(ds.eni("eni-0")!.ips.length, 16);
  assert.deepEqual(ds.eni("eni-0")!.prefixes, ["10.0.8.16/28"]);
  assert.deepEqual(ds.freePrefixesOn("eni-0", 0), ["10.0.8.16/28"]);
  assert.deepEqual(ds.freeIpsOn("eni-0", 0), [], "prefix addresses are not unassignable one by one");
  const a = ds.assign(key(1), {}, 0);
  assert.equal(a.ip, "10.0.8.16");
  assert.deepEqual(ds.freePrefixesOn("eni-0", 0), []);
  assert.throws(() => ds.removePrefixes("eni-0", ["10.0.8.16/28"]), DatastoreError);
  assert.throws(() => ds.removeIps("eni-0", ["10.0.8.20"]), /belongs to prefix/);
  ds.release(key(1), 0);
  assert.deepEqual(ds.freePrefixesOn("eni-0", 0), [], "cooling address keeps the prefix");
  assert.deepEqual(ds.freePrefixesOn("eni-0", COOLDOWN), ["10.0.8.16/28"]);
  ds.removePrefixes("eni-0", ["10.0.8.16/28"]);
  assert.equal(ds.stats(0).total, 0);
  ds.addEni(eniOf(1));
  ds.addIps("eni-1", ["10.0.9.5"]);
  assert.throws(() => ds.addPrefixes("eni-0", ["10.0.9.0/28"]), /overlaps 10\.0\.9\.5 of eni-1/);
  assert.equal(ds.stats(0).total, 1, "a refused prefix adds nothing");
});

Deno.test("Datastore: restore from a checkpoint", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addIps("eni-0", ["10.0.0.11", "10.0.0.12"]);
  const a = { ...key(1), ip: "10.0.0.12", eniId: "", assignedAt: 5, meta: { k8sPodName: "p" } };
  ds.restore(a);
  ds.restore(a);
  assert.deepEqual(ds.get(key(1)), { ...a, eniId: "eni-0" });
  assert.deepEqual(ds.findByIp("10.0.0.12"), { ...a, eniId: "eni-0" });
  assert.throws(() => ds.restore({ ...a, containerId: "c2" }), /already assigned/);
  assert.throws(() => ds.restore({ ...a, ip: "10.0.0.11" }), /already holds 10\.0\.0\.12/);
  assert.throws(() => ds.restore({ ...a, ip: "10.0.0.99" }), /not a pod IP/);
  assert.throws(() => ds.restore({ ...a, containerId: "c3", ip: "10.0.0.11", eniId: "eni-7" }), /not eni-7/);
  assert.equal(ds.assign(key(4), {}, 0).ip, "10.0.0.11");
});

// ---- property test: random operation sequences against invariants ----

type Op =
  | { op: "addEni"; d: number }
  | { op: "removeEni"; d: number }
  | { op: "addIps"; d: number; hosts: number[] }
  | { op: "removeIps"; d: number; hosts: number[] }
  | { op: "addPrefix"; d: number; p: number }
  | { op: "removePrefix"; d: number; p: number }
  | { op: "assign"; k: number }
  | { op: "release"; k: number }
  | { op: "tick"; ms: number };

const D = fc.integer({ min: 0, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("addEni" as const), d: D }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("removeEni" as const), d: D }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("addIps" as const),
      d: D,
      hosts: fc.array(fc.integer({ min: 8, max: 14 })),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("removeIps" as const),
      d: D,
      hosts: fc.array(fc.integer({ min: 8, max: 14 })),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("addPrefix" as const), d: D, p: fc.integer({ min: 2, max: 3 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("removePrefix" as const),
      d: D,
      p: fc.integer({ min: 2, max: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("assign" as const), k: fc.integer({ min: 0, max: 11 }) }),
    weight: 6,
  },
  {
    arbitrary: fc.record({ op: fc.constant("release" as const), k: fc.integer({ min: 0, max: 11 }) }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
    weight: 3,
  },
);

/** Secondary IP `h` of device d: hosts 8..14 include the primary (.10). Prefix p of device d: 10.0.d.(16p)/28. */
const hostIp = (d: number, h: number) => `10.0.${d}.${h}`;
const prefixOf = (d: number, p: number) => `10.0.${d}.${16 * p}/28`;

let propertyRuns = 0;
/** Property runs; raise with PROPERTY_RUNS=5000 for a soak. */
const RUNS = Number(Deno.env.get("PROPERTY_RUNS") ?? 400);

Deno.test("Datastore: invariants hold over random operation sequences (property)", () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
      propertyRuns++;
      const ds = new Datastore({ cooldownMs: COOLDOWN });
      let now = 0;
      /** ip → when it may be handed out again */
      const releasedUntil = new Map<string, number>();
      const primaries = new Set([0, 1, 2, 3].map((d) => eniOf(d).primaryIp));
      for (const o of ops) {
        const before = ds.assignments();
        const heldIps = new Set(before.map((a) => a.ip));
        switch (o.op) {
          case "addEni":
            ds.addEni({ ...eniOf(o.d), createdAt: now });
            break;
          case "removeEni": {
            const e = ds.eni(`eni-${o.d}`);
            const busy = e?.ips.some((ip) => heldIps.has(ip)) ?? false;
            if (busy) {
              assert.throws(() => ds.removeEni(`eni-${o.d}`), DatastoreError);
              assert.deepEqual(ds.eni(`eni-${o.d}`), e, "a refused removeEni changes nothing");
            } else {
              ds.removeEni(`eni-${o.d}`);
              assert.equal(ds.eni(`eni-${o.d}`), undefined);
            }
            break;
          }
          case "addIps":
          case "removeIps": {
            const ips = o.hosts.map((h) => hostIp(o.d, h));
            const e = ds.eni(`eni-${o.d}`);
            if (!e) {
              assert.throws(() => ds[o.op](`eni-${o.d}`, ips), DatastoreError);
              break;
            }
            if (o.op === "addIps") {
              ds.addIps(e.eniId, ips);
              for (const ip of ips) if (!primaries.has(ip)) assert.notEqual(ds.ipState(ip, now), "unknown");
            } else if (ips.some((ip) => heldIps.has(ip) && e.ips.includes(ip))) {
              assert.throws(() => ds.removeIps(e.eniId, ips), DatastoreError);
              assert.deepEqual(ds.eni(e.eniId), e, "a refused removeIps changes nothing");
            } else {
              ds.removeIps(e.eniId, ips);
              for (const ip of ips) assert.equal(ds.ipState(ip, now), "unknown");
            }
            break;
          }
          case "addPrefix":
          case "removePrefix": {
            const p = prefixOf(o.d, o.p);
            const e = ds.eni(`eni-${o.d}`);
            if (!e) break;
            if (o.op === "addPrefix") ds.addPrefixes(e.eniId, [p]);
            else if (
              e.prefixes.includes(p) && e.ips.some((ip) => heldIps.has(ip) && ds.findByIp(ip) && ipIn(p, ip))
            ) {
              assert.throws(() => ds.removePrefixes(e.eniId, [p]), DatastoreError);
              assert.deepEqual(ds.eni(e.eniId), e);
            } else ds.removePrefixes(e.eniId, [p]);
            break;
          }
          case "assign": {
            const prev = ds.get(key(o.k));
            // Expected choice: lowest device with a free IP, then lowest free address.
            let expect: string | undefined;
            for (const e of ds.enis()) {
              const free = e.ips.filter((ip) => ds.ipState(ip, now) === "free");
              if (free.length) {
                expect = free.sort((a, b) => ipToInt(a) - ipToInt(b))[0];
                break;
              }
            }
            if (prev) {
              assert.deepEqual(
                ds.assign(key(o.k), { k8sPodName: "x" }, now),
                prev,
                "repeat assign is idempotent",
              );
            } else if (expect === undefined) {
              assert.throws(() => ds.assign(key(o.k), {}, now), NoFreeIpError);
            } else {
              const a = ds.assign(key(o.k), {}, now);
              assert.equal(a.ip, expect, "deterministic choice");
              assert.ok(now >= (releasedUntil.get(a.ip) ?? -Infinity), "not handed out during its cooldown");
              assert.ok(!heldIps.has(a.ip));
            }
            break;
          }
          case "release": {
            const prev = ds.get(key(o.k));
            const r = ds.release(key(o.k), now);
            assert.deepEqual(r, prev);
            if (r) {
              releasedUntil.set(r.ip, now + COOLDOWN);
              assert.equal(ds.ipState(r.ip, now), "cooling");
            }
            break;
          }
          case "tick":
            now += o.ms;
            break;
        }
        checkInvariants(ds, now, primaries);
      }
    }),
    { numRuns: RUNS },
  );
  assert.equal(propertyRuns, RUNS);
});

function ipIn(cidr: string, ip: string): boolean {
  const [net] = cidr.split("/");
  const base = ipToInt(net);
  return ipToInt(ip) >= base && ipToInt(ip) < base + 16;
}

function checkInvariants(ds: Datastore, now: number, primaries: Set<string>) {
  const as = ds.assignments();
  const ips = new Set(as.map((a) => a.ip));
  assert.equal(ips.size, as.length, "no IP held by two keys");
  const keys = new Set(as.map((a) => `${a.netName}/${a.containerId}/${a.ifName}`));
  assert.equal(keys.size, as.length, "one IP per key");
  for (const a of as) {
    assert.ok(ds.eni(a.eniId)?.ips.includes(a.ip), `${a.ip} is on ${a.eniId}`);
    assert.ok(!primaries.has(a.ip), "a primary IP is never assigned");
    assert.equal(ds.ipState(a.ip, now), "assigned");
    assert.deepEqual(ds.get(a), a);
    assert.deepEqual(ds.findByIp(a.ip), a);
  }
  const total = { total: 0, assigned: 0, cooling: 0, free: 0 };
  const seen = new Set<string>();
  for (const e of ds.enis()) {
    assert.ok(!e.ips.includes(e.primaryIp), "the primary IP is never a pod IP");
    const st = ds.eniStats(e.eniId, now);
    assert.equal(st.total, st.assigned + st.cooling + st.free);
    assert.equal(st.total, e.ips.length);
    for (const ip of e.ips) {
      assert.ok(!seen.has(ip), `${ip} on one ENI only`);
      seen.add(ip);
    }
    for (const ip of ds.freeIpsOn(e.eniId, now)) assert.equal(ds.ipState(ip, now), "free");
    for (const k of ["total", "assigned", "cooling", "free"] as const) total[k] += st[k];
  }
  assert.deepEqual(ds.stats(now), total, "node stats are the sum of ENI stats");
  assert.equal(total.assigned, as.length);
}

const P80 = "2600:1f14:6b0:d801:a4b2::/80";
const at = (n: number) => `2600:1f14:6b0:d801:a4b2::${n.toString(16)}`;

Deno.test("Datastore IPv6: a /80 hands out its lowest free address, from the first; cooling is skipped", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addIpv6Prefixes("eni-0", ["2600:1f14:06b0:d801:a4b2:0:0:0/80", P80]); // any text form, idempotent
  assert.deepEqual(ds.eni("eni-0")!.ipv6Prefixes, [P80]);
  assert.deepEqual(ds.eni("eni-0")!.ips, []);
  const got = [0, 1, 2].map((i) => ds.assign(key(i), {}, 0));
  assert.deepEqual(got.map((a) => a.ip), ["2600:1f14:6b0:d801:a4b2::", at(1), at(2)]);
  assert.ok(got.every((a) => a.eniId === "eni-0"));
  assert.deepEqual(ds.stats(0), { total: 2 ** 48, assigned: 3, cooling: 0, free: 2 ** 48 - 3 });
  ds.release(key(1), 1000);
  assert.equal(ds.ipState(at(1), 1000), "cooling");
  assert.equal(ds.ipState("2600:1f14:6b0:d801:a4b2:0:0:1", 1000), "cooling");
  assert.equal(ds.assign(key(3), {}, 1000).ip, at(3));
  assert.deepEqual(ds.stats(1000), { total: 2 ** 48, assigned: 3, cooling: 1, free: 2 ** 48 - 4 });
  // Cooled down: the lowest free address again.
  assert.equal(ds.assign(key(4), {}, 1000 + COOLDOWN).ip, at(1));
  assert.equal(ds.ipState("2600:1f14:6b0:d802::1", 0), "unknown");
  assert.equal(ds.findByIp("2600:1f14:6b0:d801:a4b2:0:0:2")?.containerId, "c2");
  assert.throws(() => ds.removeEni("eni-0"), /still has assigned IPs: 2600:1f14:6b0:d801:a4b2::,/);
});

Deno.test("Datastore IPv6: restore puts checkpointed /128s back; outside the prefix is refused", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addIpv6Prefixes("eni-0", [P80]);
  const a = { ...key(7), ip: "2600:1f14:6b0:d801:a4b2:0:0:5", eniId: "", assignedAt: 1, meta: {} };
  ds.restore(a);
  ds.restore(a);
  assert.deepEqual(ds.assignments().map((x) => [x.ip, x.eniId]), [[at(5), "eni-0"]]);
  assert.throws(() => ds.restore({ ...a, ...key(8), ip: "2600:1f14:6b0:d801:ffff::1" }), DatastoreError);
  assert.equal(ds.assign(key(9), {}, 2).ip, "2600:1f14:6b0:d801:a4b2::");
  assert.throws(() => ds.restore({ ...a, ...key(10) }), /already assigned/);
});

Deno.test("Datastore IPv6: overlapping prefixes on two ENIs are refused", () => {
  const ds = new Datastore({ cooldownMs: COOLDOWN });
  ds.addEni(eniOf(0));
  ds.addEni(eniOf(1));
  ds.addIpv6Prefixes("eni-0", [P80]);
  assert.throws(() => ds.addIpv6Prefixes("eni-1", ["2600:1f14:6b0:d801::/64"]), /overlaps/);
  assert.throws(() => ds.addIpv6Prefixes("eni-1", ["10.0.0.0/28"]), /not an IPv6 prefix/);
});
