import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { Netlink } from "./netlink.ts";
import { NetlinkError } from "./errors.ts";
import { Netns } from "./netns.ts";
import { ipJson, run, uniq, withTempNetns } from "./_test_util.ts";

function nlErr(fn: () => unknown): NetlinkError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError) return e;
    throw e;
  }
  assert.fail("expected a NetlinkError");
}

/** ping from inside `ns` (iputils ping, else busybox ping). */
function ping(ns: string, ip: string, count: number) {
  const bin = run("sh", "-c", "command -v ping").code === 0 ? ["ping"] : ["busybox", "ping"];
  return run("ip", "netns", "exec", ns, ...bin, "-c", String(count), "-W", "2", ip);
}

/** Two namespaces a, b joined by a veth (a: "va", b: "vb"), both ends up. */
function wired<T>(fn: (x: { a: string; b: string; na: Netlink; nb: Netlink; va: number; vb: number }) => T) {
  return withTempNetns(2, ([a, b]) => {
    using na = Netlink.open(a);
    using nb = Netlink.open(b);
    na.vethAdd({ name: "va", peerName: "vb", peerNs: b });
    const va = na.linkByName("va").index, vb = nb.linkByName("vb").index;
    na.linkSetUp(va);
    nb.linkSetUp(vb);
    return fn({ a, b, na, nb, va, vb });
  });
}

Deno.test({
  name: "Netlink.open in a namespace sees only that namespace; closed socket refuses calls",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      const nl = Netlink.open(a);
      assert.deepEqual(nl.linkList().map((l) => l.name), ["lo"]);
      using ns = Netns.open(a);
      using nl2 = Netlink.open(ns);
      assert.deepEqual(nl2.linkList().map((l) => l.name), ["lo"]);
      nl.close();
      nl.close();
      assert.throws(() => nl.linkList(), /closed/);
      assert.throws(() => Netlink.open(uniq("nonexist")), Deno.errors.NotFound);
    }),
});

Deno.test({
  name: "vethAdd puts the peer in another namespace with MTU and MACs",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, ([a, b]) => {
      using na = Netlink.open(a);
      using nb = Netlink.open(b);
      const name = uniq("v"), peer = uniq("p");
      na.vethAdd({
        name,
        peerName: peer,
        peerNs: b,
        mtu: 9001,
        mac: "02:AA:00:00:00:01",
        peerMac: "02:aa:00:00:00:02",
      });
      const l = na.linkByName(name);
      assert.deepEqual({ ...l, index: 0 }, {
        index: 0,
        name,
        mac: "02:aa:00:00:00:01",
        mtu: 9001,
        up: false,
        kind: "veth",
      });
      assert.equal(na.findLink(peer), undefined);
      const p = nb.linkByName(peer);
      assert.equal(p.mac, "02:aa:00:00:00:02");
      assert.equal(p.mtu, 9001);
      assert.equal(p.kind, "veth");
      // cross-check with ip -j
      const j = ipJson(b, "link", "show", peer)[0];
      assert.equal(j.address, "02:aa:00:00:00:02");
      assert.equal(j.mtu, 9001);
      assert.equal(j.ifindex, p.index);
      // lookups
      assert.deepEqual(na.linkByIndex(l.index), l);
      assert.deepEqual(na.linkByMac("02:aa:00:00:00:01"), l);
      assert.deepEqual(na.findLink(name), l);
      assert.ok(na.linkList().some((x) => x.name === name));
      // same name again: exists
      assert.ok(nlErr(() => na.vethAdd({ name, peerName: uniq("p") })).exists);
      // deleting one end removes both
      na.linkDel(name);
      assert.equal(na.findLink(name), undefined);
      assert.equal(nb.findLink(peer), undefined);
    }),
});

Deno.test({
  name: "vethAdd without peerNs keeps both ends here",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      na.vethAdd({ name: "x0", peerName: "x1" });
      assert.deepEqual(na.linkList().map((l) => l.name).sort(), ["lo", "x0", "x1"]);
    }),
});

Deno.test({
  name: "link set up/down, MTU, MAC, name; linkSetNs moves it",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, ([a, b]) => {
      using na = Netlink.open(a);
      using nb = Netlink.open(b);
      na.vethAdd({ name: "e0", peerName: "e1" });
      const i = na.linkByName("e0").index;
      na.linkSetMtu(i, 1280);
      na.linkSetMac("e0", "0e:00:00:00:00:09");
      na.linkSetName(i, "renamed");
      na.linkSetUp("renamed");
      let l = na.linkByIndex(i);
      assert.equal(l.name, "renamed");
      assert.equal(l.mtu, 1280);
      assert.equal(l.mac, "0e:00:00:00:00:09");
      assert.equal(l.up, true);
      const j = ipJson(a, "link", "show", "renamed")[0];
      assert.ok((j.flags as string[]).includes("UP"));
      na.linkSetDown(i);
      l = na.linkByIndex(i);
      assert.equal(l.up, false);
      // move to b by path
      na.linkSetNs(i, b);
      assert.equal(na.findLink("renamed"), undefined);
      const moved = nb.linkByName("renamed");
      assert.equal(moved.mac, "0e:00:00:00:00:09");
      // and back by handle
      using ns = Netns.open(a);
      nb.linkSetNs("renamed", ns);
      assert.ok(na.findLink("renamed"));
    }),
});

Deno.test({
  name: "missing links: notFound from lookups and changes; findLink undefined",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      for (
        const f of [
          () => na.linkByName("nope0"),
          () => na.linkByIndex(9999),
          () => na.linkByMac("02:00:00:00:00:99"),
          () => na.linkSetUp(9999),
          () => na.linkSetUp("nope0"),
          () => na.linkSetMtu(9999, 1500),
          () => na.linkDel(9999),
          () => na.addrList("nope0"),
        ]
      ) {
        const e = nlErr(f);
        assert.ok(e.notFound, `${e.message} should be notFound`);
        assert.equal(e.exists, false);
      }
      const e = nlErr(() => na.linkByName("nope0"));
      assert.equal(e.errName, "NLE_NODEV");
      assert.equal(e.code, 31);
      assert.equal(e.op, "linkByName nope0");
      assert.equal(na.findLink("nope0"), undefined);
    }),
});

Deno.test({
  name: "bad input throws TypeError/RangeError before any syscall",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      assert.throws(() => na.addrAdd(1, "10.0.0.1"), TypeError);
      assert.throws(() => na.addrAdd(1, "10.0.0.256/24"), RangeError);
      assert.throws(() => na.addrAdd(1, "10.0.0.1/33"), RangeError);
      assert.throws(() => na.linkSetMac(1, "zz:00:00:00:00:00"), TypeError);
      assert.throws(() => na.linkByMac("02:00:00:00:00"), TypeError);
      assert.throws(() => na.vethAdd({ name: "much-too-long-name", peerName: "x" }), TypeError);
      assert.throws(() => na.routeAdd({ dst: "10.0.0.1/24" }), RangeError);
      assert.throws(() => na.routeAdd({ dst: "bogus" }), TypeError);
      assert.throws(() => na.routeAdd({ dst: "default", gateway: "1.2.3" }), TypeError);
      assert.throws(() => na.ruleAdd({ src: "x", table: 3 }), TypeError);
      assert.throws(() => na.ruleAdd({ fwmark: -1, table: 3 }), RangeError);
      assert.throws(() => na.neighAdd({ ifindex: 1, ip: "10.0.0.1", mac: "nope" }), TypeError);
      assert.throws(() => na.linkSetMtu(1, 10), RangeError);
      assert.throws(() => na.linkByIndex(0), RangeError);
      // deno-lint-ignore no-explicit-any
      assert.throws(() => na.addrAdd(1, "10.0.0.1/24", { scope: "constructor" as any }), TypeError);
      // deno-lint-ignore no-explicit-any
      assert.throws(() => na.routeAdd({ dst: "default", scope: "nope" as any }), TypeError);
    }),
});

Deno.test({
  name: "addresses: add (with scope), list, exists, delete, notFound",
  ...rootOnly,
  fn: () =>
    wired(({ a, na, va }) => {
      na.addrAdd(va, "10.20.0.1/24");
      na.addrAdd("va", "10.20.1.1/32", { scope: "link" });
      const list = na.addrList(va).sort((x, y) => x.address.localeCompare(y.address));
      assert.deepEqual(list, [
        { ifindex: va, address: "10.20.0.1", prefixLen: 24, scope: "universe" },
        { ifindex: va, address: "10.20.1.1", prefixLen: 32, scope: "link" },
      ]);
      na.linkSetUp("lo");
      assert.ok(
        na.addrList().some((x) => x.address === "127.0.0.1" && x.scope === "host" && x.ifindex === 1),
      );
      const j = ipJson(a, "addr", "show", "dev", "va")[0].addr_info as Array<Record<string, unknown>>;
      assert.deepEqual(
        j.filter((x) => x.family === "inet").map((x) => [x.local, x.prefixlen, x.scope]).sort(),
        [["10.20.0.1", 24, "global"], ["10.20.1.1", 32, "link"]],
      );
      const e = nlErr(() => na.addrAdd(va, "10.20.0.1/24"));
      assert.ok(e.exists);
      assert.equal(e.errName, "NLE_EXIST");
      na.addrDel(va, "10.20.0.1/24");
      na.addrDel(va, "10.20.1.1/32");
      assert.deepEqual(na.addrList(va), []);
      assert.ok(nlErr(() => na.addrDel(va, "10.20.0.1/24")).notFound);
    }),
});

Deno.test({
  name: "routes: add/replace/delete with table, scope link, onlink gateway, src",
  ...rootOnly,
  fn: () =>
    wired(({ a, na, va }) => {
      na.addrAdd(va, "10.30.0.1/24");
      // scope link route in a custom table
      na.routeAdd({ dst: "169.254.1.1/32", ifindex: va, scope: "link", table: 7 });
      // onlink gateway default route in the same table
      na.routeAdd({ dst: "default", gateway: "169.254.1.1", ifindex: va, onlink: true, table: 7 });
      na.routeAdd({ dst: "10.31.0.0/16", gateway: "10.30.0.2", ifindex: va, table: 7, src: "10.30.0.1" });
      let t7 = na.routeList({ table: 7 });
      assert.deepEqual(t7.find((r) => r.dst === "169.254.1.1/32"), {
        dst: "169.254.1.1/32",
        ifindex: va,
        table: 7,
        scope: "link",
        metric: 0,
        protocol: 3,
        type: "unicast",
      });
      const def = t7.find((r) => r.dst === "default")!;
      assert.equal(def.gateway, "169.254.1.1");
      assert.equal(def.onlink, true);
      assert.equal(def.scope, "universe");
      assert.equal(t7.find((r) => r.dst === "10.31.0.0/16")?.src, "10.30.0.1");
      // ip -j agrees
      const j = ipJson(a, "route", "show", "table", "7");
      const jd = j.find((r) => r.dst === "default")!;
      assert.equal(jd.gateway, "169.254.1.1");
      assert.ok((jd.flags as string[]).includes("onlink"));
      assert.equal(j.find((r) => r.dst === "169.254.1.1")?.scope, "link");
      // default table is main; 0 lists all
      assert.ok(na.routeList().every((r) => r.table === 254));
      assert.ok(na.routeList().some((r) => r.dst === "10.30.0.0/24" && r.protocol === 2));
      assert.ok(na.routeList({ table: 0 }).some((r) => r.table === 255 && r.type === "local"));
      // exists, then replace changes the gateway
      assert.ok(
        nlErr(() => na.routeAdd({ dst: "10.31.0.0/16", gateway: "10.30.0.3", ifindex: va, table: 7 })).exists,
      );
      na.routeReplace({ dst: "10.31.0.0/16", gateway: "10.30.0.3", ifindex: va, table: 7 });
      t7 = na.routeList({ table: 7 });
      assert.deepEqual(t7.filter((r) => r.dst === "10.31.0.0/16").map((r) => r.gateway), ["10.30.0.3"]);
      // replace creates when missing
      na.routeReplace({ dst: "10.32.0.0/16", gateway: "10.30.0.2", table: 7 });
      // delete without scope finds a scope-link route; unspecified fields match anything
      na.routeDel({ dst: "169.254.1.1/32", table: 7 });
      na.routeDel({ dst: "default", table: 7 });
      na.routeDel({ dst: "10.31.0.0/16", gateway: "10.30.0.3", ifindex: va, table: 7 });
      na.routeDel({ dst: "10.32.0.0/16", table: 7 });
      assert.deepEqual(na.routeList({ table: 7 }), []);
      const e = nlErr(() => na.routeDel({ dst: "10.31.0.0/16", table: 7 }));
      assert.ok(e.notFound);
      assert.equal(e.op, "routeDel 10.31.0.0/16 table 7");
      // big table numbers work (RTA_TABLE)
      na.routeAdd({ dst: "10.40.0.0/16", ifindex: va, scope: "link", table: 100000 });
      assert.equal(na.routeList({ table: 100000 })[0].dst, "10.40.0.0/16");
      na.routeDel({ dst: "10.40.0.0/16", table: 100000 });
    }),
});

Deno.test({
  name: "rules: add/list/delete with priority, from, to, fwmark/mask, iif, table",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      const base = na.ruleList();
      assert.deepEqual(base.map((r) => [r.priority, r.table]), [[0, 255], [32766, 254], [32767, 253]]);
      na.ruleAdd({ priority: 512, src: "10.0.5.7/32", table: 3 });
      na.ruleAdd({ priority: 1024, fwmark: 0x80, fwmask: 0x80, table: 254 });
      na.ruleAdd({ priority: 1536, dst: "10.0.0.0/16", iif: "veth1", table: 2 });
      na.ruleAdd({ priority: 20, src: "10.0.6.0/24", dst: "10.1.0.0/16", table: 70000 });
      const rules = na.ruleList();
      assert.deepEqual(rules.find((r) => r.priority === 512), {
        priority: 512,
        src: "10.0.5.7/32",
        table: 3,
        action: 1,
      });
      assert.deepEqual(rules.find((r) => r.priority === 1024), {
        priority: 1024,
        fwmark: 0x80,
        fwmask: 0x80,
        table: 254,
        action: 1,
      });
      assert.deepEqual(rules.find((r) => r.priority === 1536), {
        priority: 1536,
        dst: "10.0.0.0/16",
        iif: "veth1",
        table: 2,
        action: 1,
      });
      assert.deepEqual(rules.find((r) => r.priority === 20), {
        priority: 20,
        src: "10.0.6.0/24",
        dst: "10.1.0.0/16",
        table: 70000,
        action: 1,
      });
      // ip -j agrees
      const j = ipJson(a, "rule", "show");
      assert.equal(j.find((r) => r.priority === 512)?.src, "10.0.5.7");
      assert.deepEqual([
        j.find((r) => r.priority === 1024)?.fwmark,
        j.find((r) => r.priority === 1024)?.fwmask,
      ], [
        "0x80",
        "0x80",
      ]);
      assert.equal(j.find((r) => r.priority === 1536)?.iif, "veth1");
      assert.equal(j.find((r) => r.priority === 20)?.table, "70000");
      // bare address means /32; duplicate add is exists
      assert.ok(nlErr(() => na.ruleAdd({ priority: 512, src: "10.0.5.7", table: 3 })).exists);
      na.ruleDel({ priority: 512, src: "10.0.5.7/32", table: 3 });
      na.ruleDel({ priority: 1024, fwmark: 0x80, fwmask: 0x80, table: 254 });
      na.ruleDel({ priority: 1536, dst: "10.0.0.0/16", iif: "veth1", table: 2 });
      na.ruleDel({ src: "10.0.6.0/24", table: 70000 }); // without priority: first match
      assert.deepEqual(na.ruleList(), base);
      const e = nlErr(() => na.ruleDel({ priority: 512, src: "10.0.5.7/32", table: 3 }));
      assert.ok(e.notFound);
      assert.equal(e.errName, "NLE_OBJ_NOTFOUND");
    }),
});

Deno.test({
  name: "neighAdd makes a PERMANENT entry, replacing; neighDel removes it",
  ...rootOnly,
  fn: () =>
    wired(({ a, na, va }) => {
      na.neighAdd({ ifindex: va, ip: "10.50.0.9", mac: "02:00:00:00:50:09" });
      na.neighAdd({ ifindex: va, ip: "10.50.0.9", mac: "02:00:00:00:50:0a" }); // replaces
      const j = ipJson(a, "neigh", "show", "dev", "va");
      assert.deepEqual(j.map((n) => [n.dst, n.lladdr, n.state]), [["10.50.0.9", "02:00:00:00:50:0a", [
        "PERMANENT",
      ]]]);
      assert.deepEqual(na.neighList(va), [{
        ifindex: va,
        ip: "10.50.0.9",
        mac: "02:00:00:00:50:0a",
        state: 0x80,
      }]);
      na.neighDel({ ifindex: va, ip: "10.50.0.9" });
      assert.deepEqual(na.neighList(va), []);
      assert.ok(nlErr(() => na.neighDel({ ifindex: va, ip: "10.50.0.9" })).notFound);
    }),
});

Deno.test({
  name: "ping between two namespaces wired only with the binding (veth, /32 addresses, routes)",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, ([a, b]) => {
      using na = Netlink.open(a);
      using nb = Netlink.open(b);
      // pod-like wiring: /32 addresses, a link-scope route to the peer, default via it
      na.vethAdd({ name: "eth0", peerName: uniq("h"), peerNs: b });
      const host = nb.linkList().find((l) => l.kind === "veth")!;
      const pod = na.linkByName("eth0");
      na.linkSetUp("lo");
      na.linkSetUp(pod.index);
      nb.linkSetUp(host.index);
      na.addrAdd(pod.index, "10.60.0.5/32");
      nb.addrAdd(host.index, "169.254.1.1/32", { scope: "link" });
      na.routeAdd({ dst: "169.254.1.1/32", ifindex: pod.index, scope: "link" });
      na.routeAdd({ dst: "default", gateway: "169.254.1.1", ifindex: pod.index });
      nb.routeAdd({ dst: "10.60.0.5/32", ifindex: host.index, scope: "link" });
      nb.neighAdd({ ifindex: host.index, ip: "10.60.0.5", mac: pod.mac });
      const r = ping(b, "10.60.0.5", 2);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /2 (packets )?received/);
      const back = ping(a, "169.254.1.1", 1);
      assert.equal(back.code, 0, back.stdout + back.stderr);
    }),
});
