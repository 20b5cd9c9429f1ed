import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { Netns } from "./netns.ts";
import { Netlink } from "./netlink.ts";
import { ping, uniq, withTempNetns } from "./_test_util.ts";

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
