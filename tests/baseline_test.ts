/**
 * tools/baseline.ts (the bench's CNI baseline): measureBaseline over the reference ptp + host-local v1.10.0
 * through libcni. Here under tests/ so `deno task test` runs it.
 */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { addNetns, delNetns, randomSuffix, sh } from "../harness/libcni.ts";
import { measureBaseline, ptpConflist } from "../tools/baseline.ts";

Deno.test({
  name:
    "baseline: measureBaseline times ptp + host-local v1.10.0, sequential and parallel, and leaves no trace",
  ...rootOnly,
  fn: async () => {
    const id = randomSuffix();
    const node = await addNetns(`vct-bl${id}`);
    const dir = await Deno.makeTempDir({ prefix: "vct-bl-" });
    try {
      await Deno.writeTextFile(`${dir}/net.conflist`, ptpConflist(`vct${id}`, dir));
      const r = await measureBaseline({
        conflist: `${dir}/net.conflist`,
        nodeNetns: node,
        cycles: 4,
        parallel: 5,
      });
      assert.equal(r.raw.sequential.add_ms.length, 4);
      assert.equal(r.raw.sequential.del_ms.length, 4);
      assert.equal(r.raw.parallel?.add_ms.length, 5);
      assert.ok(r.sequential.add.p50 > 0 && r.sequential.add.p50 < 5000, JSON.stringify(r.sequential));
      assert.ok(r.parallel!.add.p99 >= r.parallel!.add.p50);
      assert.equal((await sh(["ip", "-n", node, "-o", "link", "show", "type", "veth"])).trim(), "");
      const held = [...Deno.readDirSync(`${dir}/ipam/vct${id}`)].filter((e) => /^\d/.test(e.name));
      assert.deepEqual(held, [], "host-local holds no IP");
      assert.equal(
        (await sh(["ip", "netns", "list"])).split("\n").filter((l) => l.includes(`vct-blp${id}-`)).length,
        0,
      );
    } finally {
      await delNetns(node);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
