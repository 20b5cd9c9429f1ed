/**
 * Property: list + watch is consistent. For any sequence of pod writes, the state listed at resourceVersion
 * R, with the events a filtered watch from R delivers applied in order, equals the state listed at the end;
 * a watch from a compacted R fails with 410 instead. Resource versions only increase.
 */

import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import type { KubeObject } from "./k8s_collections.ts";
import { KubeStatusError } from "./k8s_status.ts";
import { KubeStore } from "./k8s_store.ts";

type Op =
  | { op: "create"; ns: string; name: string; node: string }
  | { op: "ip"; ns: string; name: string; ip: string }
  | { op: "label"; ns: string; name: string; tier: string }
  | { op: "delete"; ns: string; name: string; graceful: boolean }
  | { op: "node"; label: string };

const nsArb = fc.constantFrom("a", "b");
const nameArb = fc.constantFrom("p1", "p2", "p3");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("create" as const),
      ns: nsArb,
      name: nameArb,
      node: fc.constantFrom("n1", "n2"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("ip" as const),
      ns: nsArb,
      name: nameArb,
      ip: fc.constantFrom("10.0.0.1", "10.0.0.2"),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("label" as const),
      ns: nsArb,
      name: nameArb,
      tier: fc.constantFrom("web", "db"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("delete" as const),
      ns: nsArb,
      name: nameArb,
      graceful: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("node" as const), label: fc.constantFrom("x", "y", "z") }),
  },
);

function apply(s: KubeStore, o: Op): void {
  try {
    switch (o.op) {
      case "create":
        s.createPod({ namespace: o.ns, name: o.name, nodeName: o.node, labels: { tier: "web" } });
        break;
      case "ip":
        s.setPodIp(o.ns, o.name, o.ip);
        break;
      case "label":
        s.patch(
          "pods",
          o.ns,
          o.name,
          (p) => ({ ...p, metadata: { ...p.metadata, labels: { tier: o.tier } } }),
        );
        break;
      case "delete":
        s.deletePod(o.ns, o.name, { graceful: o.graceful });
        break;
      case "node":
        s.patchNode("n1", { labels: { l: o.label } });
        break;
    }
  } catch (e) {
    if (!(e instanceof KubeStatusError)) throw e; // 404/409 are expected in random sequences
  }
}

const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
const snapshot = (items: KubeObject[]) => new Map(items.map((o) => [key(o), o]));

const selectors = [
  {},
  { fieldSelector: "spec.nodeName=n1" },
  { labelSelector: "tier=db" },
  { namespace: "a", fieldSelector: "status.podIP!=" },
];

Deno.test("property: list at R + watch events from R = list at the end (any selector)", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 10, maxLength: 80 }),
      fc.nat(),
      fc.constantFrom(8, 30, 1000),
      (ops, cut, limit) => {
        const s = new KubeStore({ historyLimit: limit });
        s.addNode("n1");
        const lists: { rv: string; byFilter: Map<string, KubeObject>[] }[] = [];
        const record = () =>
          lists.push({
            rv: s.resourceVersion,
            byFilter: selectors.map((f) => snapshot(s.list("pods", f).items)),
          });
        record();
        let lastRv = Number(s.resourceVersion);
        for (const o of ops) {
          apply(s, o);
          assert.ok(Number(s.resourceVersion) >= lastRv, "resourceVersion never goes back");
          lastRv = Number(s.resourceVersion);
          record();
        }
        const start = lists[cut % lists.length];
        selectors.forEach((f, i) => {
          const state = new Map(start.byFilter[i]);
          let prevRv = Number(start.rv);
          let w;
          try {
            w = s.watch("pods", { ...f, resourceVersion: start.rv }, (e) => {
              const rv = Number(e.object.metadata.resourceVersion);
              assert.ok(rv > prevRv, `event resourceVersions increase (${rv} after ${prevRv})`);
              prevRv = rv;
              if (e.type === "DELETED") {
                assert.ok(state.has(key(e.object)), "DELETED only for a known object");
                state.delete(key(e.object));
              } else {
                assert.equal(
                  state.has(key(e.object)),
                  e.type === "MODIFIED",
                  `${e.type} of ${key(e.object)}`,
                );
                state.set(key(e.object), e.object);
              }
            });
          } catch (e) {
            assert.ok(e instanceof KubeStatusError && e.code === 410, String(e));
            assert.ok(Number(start.rv) < Number(s.oldestResumableResourceVersion));
            return;
          }
          w.close();
          assert.deepEqual(state, snapshot(s.list("pods", f).items));
        });
        assert.equal(s.watcherCount(), 0);
      },
    ),
    { numRuns: 300 },
  );
});
