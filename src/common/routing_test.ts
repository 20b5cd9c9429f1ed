import assert from "node:assert/strict";
import { MAIN_TABLE, routeTableOf } from "./routing.ts";

Deno.test("routeTableOf: main for the primary ENI, device index + 1 for the others (upstream's rule)", () => {
  assert.equal(MAIN_TABLE, 254);
  assert.deepEqual([0, 1, 2, 14].map(routeTableOf), [254, 2, 3, 15]);
});
