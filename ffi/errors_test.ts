import assert from "node:assert/strict";
import { NetlinkError } from "./errors.ts";

Deno.test("NetlinkError names the code and classifies exists/notFound", () => {
  const e = new NetlinkError("routeAdd 10.0.0.0/24 table 3", -6, "Object exists");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "NetlinkError");
  assert.equal(e.code, 6);
  assert.equal(e.errName, "NLE_EXIST");
  assert.equal(e.message, "routeAdd 10.0.0.0/24 table 3: Object exists (NLE_EXIST)");
  assert.equal(e.exists, true);
  assert.equal(e.notFound, false);
  for (const [code, name] of [[12, "NLE_OBJ_NOTFOUND"], [31, "NLE_NODEV"], [19, "NLE_NOADDR"]] as const) {
    const n = new NetlinkError("x", code);
    assert.equal(n.errName, name);
    assert.equal(n.notFound, true);
    assert.equal(n.exists, false);
  }
  assert.equal(new NetlinkError("x", 7).notFound, false);
  assert.equal(new NetlinkError("x", 99).errName, "NLE_99");
});
