import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { until } from "../harness/poll.ts";
import { Netlink } from "./netlink.ts";
import { ipJson, nlErr, wired, withTempNetns } from "./_test_util.ts";

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
  name:
    "IPv6 addresses: add /128 with noDad (usable at once) and without (tentative until DAD ends), list, delete",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, async ([a, b]) => {
      using na = Netlink.open(a);
      na.vethAdd({ name: "va", peerName: "vb", peerNs: b });
      using nb = Netlink.open(b);
      nb.linkSetUp("vb");
      na.linkSetUp("va");
      const va = na.linkByName("va").index;
      na.addrAdd(va, "2600:1f13:b66:8203:34e5::/128", { noDad: true });
      na.addrAdd(va, "2600:1f13:b66:8203:34e5:0:0:1/128");
      const v6 = () => na.addrList(va, { family: 6 }).filter((x) => x.scope === "universe");
      const nodad = v6().find((x) => x.address === "2600:1f13:b66:8203:34e5::")!;
      assert.deepEqual(nodad, {
        ifindex: va,
        address: "2600:1f13:b66:8203:34e5::",
        prefixLen: 128,
        scope: "universe",
      });
      const dad = v6().find((x) => x.address === "2600:1f13:b66:8203:34e5::1")!;
      assert.equal(dad.tentative, true, "an address under DAD is tentative");
      // ip -j agrees (canonical text, tentative flag)
      const j = ipJson(a, "-6", "addr", "show", "dev", "va")[0].addr_info as Array<Record<string, unknown>>;
      assert.ok(j.some((x) => x.local === "2600:1f13:b66:8203:34e5::" && x.prefixlen === 128));
      // the IPv4 default hides IPv6 addresses
      assert.deepEqual(na.addrList(va), []);
      await until(
        "DAD to finish on 2600:1f13:b66:8203:34e5::1",
        () => !v6().some((x) => x.tentative),
        30_000,
        50,
      );
      assert.ok(nlErr(() => na.addrAdd(va, "2600:1f13:b66:8203:34e5::/128")).exists);
      na.addrDel(va, "2600:1f13:b66:8203:34e5::/128");
      na.addrDel(va, "2600:1f13:b66:8203:34e5::1/128");
      assert.deepEqual(v6(), []);
      assert.ok(nlErr(() => na.addrDel(va, "2600:1f13:b66:8203:34e5::/128")).notFound);
    }),
});
