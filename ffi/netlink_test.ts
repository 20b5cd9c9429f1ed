import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { Netns } from "./netns.ts";
import { until } from "../harness/poll.ts";
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

Deno.test({
  name:
    "ping6 between two namespaces wired only with the binding (/128 addresses, fe80::1 gateway, NDP entry)",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, async ([a, b]) => {
      using na = Netlink.open(a);
      using nb = Netlink.open(b);
      // upstream's IPv6 pod wiring: IP/128 (no DAD), fe80::1/128 link route, default via fe80::1,
      // a permanent neighbour fe80::1 → host veth MAC; the host routes IP/128 to the veth
      const hostMac = "02:00:00:00:66:01";
      na.vethAdd({ name: "eth0", peerName: uniq("h"), peerNs: b, peerMac: hostMac });
      const host = nb.linkList().find((l) => l.kind === "veth")!;
      const pod = na.linkByName("eth0");
      na.linkSetUp("lo");
      na.linkSetUp(pod.index);
      nb.linkSetUp(host.index);
      nb.linkSetUp("lo");
      na.addrAdd(pod.index, "2600:1f13::5/128", { noDad: true });
      nb.addrAdd("lo", "2600:1f13::1/128", { noDad: true });
      na.routeAdd({ dst: "fe80::1/128", ifindex: pod.index, scope: "link" });
      na.routeAdd({ dst: "default", gateway: "fe80::1", ifindex: pod.index });
      na.neighAdd({ ifindex: pod.index, ip: "fe80::1", mac: hostMac });
      nb.routeAdd({ dst: "2600:1f13::5/128", ifindex: host.index });
      // as upstream's plugin does: wait (a condition) until DAD has finished on both ends' link-local
      // addresses, since neighbour discovery answers to a tentative address are dropped
      const settled = (nl: Netlink, i: number) =>
        nl.addrList(i, { family: 6 }).some((x) => x.scope === "link") &&
        !nl.addrList(i, { family: 6 }).some((x) => x.tentative);
      await until(
        "DAD on both veth ends",
        () => settled(na, pod.index) && settled(nb, host.index),
        30_000,
        50,
      );
      const r = ping(b, "2600:1f13::5", 2);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /2 (packets )?received/);
      const back = ping(a, "2600:1f13::1", 1);
      assert.equal(back.code, 0, back.stdout + back.stderr);
    }),
});
