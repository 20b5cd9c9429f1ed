import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { Netlink } from "./netlink.ts";
import { ipJson, nlErr, withTempNetns } from "./_test_util.ts";

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
  name: "IPv6 rules: to /128 lookup main, fwmark rule with family 6, list per family, delete",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      const base6 = na.ruleList({ family: 6 });
      const base4 = na.ruleList();
      na.ruleAdd({ priority: 512, dst: "2600:1f13::5", table: 254 });
      na.ruleAdd({ family: 6, priority: 1024, fwmark: 0x80, fwmask: 0x80, table: 254 });
      const rules = na.ruleList({ family: 6 });
      assert.deepEqual(rules.find((r) => r.priority === 512), {
        priority: 512,
        dst: "2600:1f13::5/128",
        table: 254,
        action: 1,
      });
      assert.equal(rules.find((r) => r.priority === 1024)?.fwmark, 0x80);
      assert.deepEqual(na.ruleList(), base4, "IPv4 rules are untouched");
      const j = ipJson(a, "-6", "rule", "show");
      assert.equal(j.find((r) => r.priority === 512)?.dst, "2600:1f13::5");
      assert.ok(nlErr(() => na.ruleAdd({ priority: 512, dst: "2600:1f13::5/128", table: 254 })).exists);
      assert.throws(() => na.ruleAdd({ family: 4, dst: "2600::1", table: 3 }), TypeError);
      na.ruleDel({ priority: 512, dst: "2600:1f13::5/128", table: 254 });
      na.ruleDel({ family: 6, priority: 1024, fwmark: 0x80, fwmask: 0x80, table: 254 });
      assert.deepEqual(na.ruleList({ family: 6 }), base6);
    }),
});
