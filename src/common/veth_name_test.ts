import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hostVethName, sha1Hex } from "./veth_name.ts";

Deno.test("sha1Hex matches node:crypto for empty, ASCII, UTF-8 and block-boundary inputs", () => {
  const inputs = [
    "",
    "abc",
    "default.nginx",
    "ünïcødé/🙂",
    ...Array.from({ length: 130 }, (_, i) => "y".repeat(i)),
  ];
  for (const s of inputs) {
    assert.equal(sha1Hex(s), createHash("sha1").update(s).digest("hex"), `len ${s.length}`);
  }
});

Deno.test("hostVethName: prefix + 11 hex of sha1(ns.pod), or of the container ID", () => {
  const a = hostVethName("eni", { namespace: "default", name: "nginx", containerId: "c1" });
  assert.equal(a, "enic440f455693"); // printf default.nginx | sha1sum
  assert.equal(a, hostVethName("eni", { namespace: "default", name: "nginx", containerId: "other" }));
  assert.equal(
    hostVethName("eni", { containerId: "c1" }),
    "eni" + createHash("sha1").update("c1").digest("hex").slice(0, 11),
  );
  assert.equal(
    hostVethName("eni", { namespace: "default", containerId: "c1" }),
    hostVethName("eni", { containerId: "c1" }),
  );
});
