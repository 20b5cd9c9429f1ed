import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { ipJson, nlErr, wired } from "./_test_util.ts";

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
  name: "IPv6 neighbours: a PERMANENT fe80::1 entry (NDP), listed per family, deleted",
  ...rootOnly,
  fn: () =>
    wired(({ a, na, va }) => {
      na.neighAdd({ ifindex: va, ip: "fe80::1", mac: "02:00:00:00:60:01" });
      assert.deepEqual(na.neighList(va, { family: 6 }).filter((n) => n.ip === "fe80::1"), [{
        ifindex: va,
        ip: "fe80::1",
        mac: "02:00:00:00:60:01",
        state: 0x80,
      }]);
      assert.deepEqual(na.neighList(va), [], "the IPv4 default hides NDP entries");
      const j = ipJson(a, "-6", "neigh", "show", "dev", "va");
      assert.deepEqual(j.filter((n) => n.dst === "fe80::1").map((n) => [n.lladdr, n.state]), [[
        "02:00:00:00:60:01",
        ["PERMANENT"],
      ]]);
      na.neighDel({ ifindex: va, ip: "fe80::1" });
      assert.deepEqual(na.neighList(va, { family: 6 }).filter((n) => n.ip === "fe80::1"), []);
      assert.ok(nlErr(() => na.neighDel({ ifindex: va, ip: "fe80::1" })).notFound);
    }),
});
