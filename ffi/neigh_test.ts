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
