import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { ipJson, nlErr, wired } from "./_test_util.ts";

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
