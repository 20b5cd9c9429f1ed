import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { sysctlRead, sysctlWrite } from "./sysctl.ts";
import { Netns } from "./netns.ts";
import { Netlink } from "./netlink.ts";
import { run, withTempNetns } from "./_test_util.ts";

Deno.test({
  name: "sysctlWrite/Read inside a namespace leave the root namespace alone",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using ns = Netns.open(a);
      const rootFwd = sysctlRead("net/ipv4/ip_forward");
      const want = rootFwd === "1" ? "0" : "1";
      sysctlWrite("net/ipv4/ip_forward", want, ns);
      assert.equal(sysctlRead("net/ipv4/ip_forward", ns), want);
      assert.equal(sysctlRead("net/ipv4/ip_forward"), rootFwd);
      assert.equal(run("ip", "netns", "exec", a, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.trim(), want);
      // a per-interface key that only exists inside the namespace
      using nl = Netlink.open(ns);
      nl.vethAdd({ name: "sx0", peerName: "sx1" });
      sysctlWrite("net/ipv4/conf/sx0/rp_filter", "2", ns);
      assert.equal(sysctlRead("/proc/sys/net/ipv4/conf/sx0/rp_filter", ns), "2");
      assert.throws(() => sysctlRead("net/ipv4/conf/sx0/rp_filter"), Deno.errors.NotFound);
    }),
});

Deno.test("sysctl rejects bad keys", () => {
  assert.throws(() => sysctlRead(""), TypeError);
  assert.throws(() => sysctlRead("net/../../etc/passwd"), TypeError);
  assert.throws(() => sysctlWrite("/etc/passwd", "x"), TypeError);
  assert.throws(() => sysctlRead("net//ipv4"), TypeError);
});
