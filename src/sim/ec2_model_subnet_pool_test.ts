import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { expandCidr, ipToInt } from "../net/ipv4.ts";
import { SubnetPool } from "./ec2_model_subnet_pool.ts";
import { Rng } from "./realism_rng.ts";

Deno.test("SubnetPool keeps EC2's five reserved addresses out of reach", () => {
  const p = new SubnetPool("10.0.0.16/28");
  assert.equal(p.available, 11);
  for (const ip of ["10.0.0.16", "10.0.0.17", "10.0.0.18", "10.0.0.19", "10.0.0.31"]) {
    assert.equal(p.take(ip), false, ip);
  }
  const got = p.takeAny(11, new Rng(1))!;
  assert.deepEqual(got.toSorted((a, b) => ipToInt(a) - ipToInt(b)), expandCidr("10.0.0.16/28").slice(4, 15));
  assert.equal(p.available, 0);
  assert.equal(p.takeAny(1, new Rng(1)), undefined);
  assert.equal(p.takePrefixes(1, new Rng(1)), undefined, "a /28 subnet has no free aligned /28");
  assert.throws(() => new SubnetPool("10.0.0.0/29"), RangeError);
});

Deno.test("property: SubnetPool accounting is exact under any take/release sequence", () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant("any" as const), n: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ k: fc.constant("pfx" as const), n: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ k: fc.constant("rel" as const), i: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(op, { maxLength: 80 }), (seed, ops) => {
      const rng = new Rng(seed);
      const p = new SubnetPool("10.0.0.0/25");
      const singles: string[] = [];
      const prefixes: string[] = [];
      for (const o of ops) {
        if (o.k === "any") {
          const before = p.available;
          const got = p.takeAny(o.n, rng);
          if (got) singles.push(...got);
          else assert.ok(before < o.n);
        } else if (o.k === "pfx") {
          const got = p.takePrefixes(o.n, rng);
          if (got) {
            for (const x of got) assert.equal(ipToInt(x.split("/")[0]) % 16, 0);
            prefixes.push(...got);
          }
        } else if (singles.length + prefixes.length) {
          const all = [...singles.map((s) => ["s", s]), ...prefixes.map((s) => ["p", s])];
          const [kind, v] = all[o.i % all.length];
          if (kind === "s") {
            singles.splice(singles.indexOf(v), 1);
            p.release(v);
          } else {
            prefixes.splice(prefixes.indexOf(v), 1);
            p.releasePrefix(v);
          }
        }
        const held = [...singles, ...prefixes.flatMap((x) => expandCidr(x))];
        assert.equal(new Set(held).size, held.length);
        assert.equal(p.available, 128 - 5 - held.length);
        for (const ip of held) assert.equal(p.isFree(ip), false);
      }
    }),
    { numRuns: 300 },
  );
});
