import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { ipJson, nlErr, wired } from "./_test_util.ts";

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
  name: "IPv6 routes: link route to fe80::1, default via it (family from the gateway), table, list, delete",
  ...rootOnly,
  fn: () =>
    wired(({ a, na, va }) => {
      na.routeAdd({ dst: "fe80::1/128", ifindex: va, scope: "link", table: 7 });
      na.routeAdd({ dst: "default", gateway: "fe80::1", ifindex: va, table: 7 });
      na.routeReplace({ dst: "2600:1f13::/64", gateway: "fe80::1", ifindex: va, table: 7, metric: 5 });
      const t7 = na.routeList({ table: 7, family: 6 });
      assert.deepEqual(t7.map((r) => r.dst).sort(), ["2600:1f13::/64", "default", "fe80::1/128"]);
      const def = t7.find((r) => r.dst === "default")!;
      assert.equal(def.gateway, "fe80::1");
      assert.equal(def.ifindex, va);
      assert.equal(t7.find((r) => r.dst === "2600:1f13::/64")!.metric, 5);
      assert.deepEqual(na.routeList({ table: 7 }), [], "the IPv4 default hides IPv6 routes");
      const j = ipJson(a, "-6", "route", "show", "table", "7");
      assert.equal(j.find((r) => r.dst === "default")?.gateway, "fe80::1");
      assert.ok(j.some((r) => r.dst === "fe80::1"));
      assert.throws(() => na.routeAdd({ dst: "2600::/64", gateway: "10.0.0.1" }), TypeError);
      assert.throws(() => na.routeAdd({ dst: "default", family: 6, gateway: "10.0.0.1" }), TypeError);
      assert.throws(() => na.routeAdd({ dst: "2600::1/64" }), RangeError);
      na.routeDel({ dst: "default", family: 6, table: 7 });
      na.routeDel({ dst: "2600:1f13::/64", table: 7 });
      na.routeDel({ dst: "fe80::1/128", table: 7 });
      assert.deepEqual(na.routeList({ table: 7, family: 6 }), []);
      assert.ok(nlErr(() => na.routeDel({ dst: "fe80::1/128", table: 7 })).notFound);
    }),
});
