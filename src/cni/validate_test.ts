import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { CniError } from "./spec.ts";
import {
  interfaceNameProblem,
  validateContainerId,
  validateIfName,
  validateNetworkName,
} from "./validate.ts";

function code(fn: () => void): number | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof CniError);
    return e.code;
  }
}

Deno.test("container IDs follow libcni's pattern (code 4)", () => {
  for (const ok of ["a", "0abc", "abc_def.g-h", "A".repeat(200)]) {
    assert.equal(code(() => validateContainerId(ok)), undefined);
  }
  for (const bad of ["", "_a", ".a", "-a", "a b", "a/b", "a:b", "é"]) {
    assert.equal(code(() => validateContainerId(bad)), 4, bad);
  }
});

Deno.test("interface names: non-empty, ≤ 15 bytes, not . or .., no / : whitespace", () => {
  for (const ok of ["eth0", "a".repeat(15), "net1.100", "ééééééé"]) {
    assert.equal(interfaceNameProblem(ok), undefined, ok);
  }
  for (const bad of ["", ".", "..", "a".repeat(16), "éééééééé", "a/b", "a:b", "a b", "a\tb", "a\nb"]) {
    assert.equal(code(() => validateIfName(bad)), 4, JSON.stringify(bad));
  }
});

Deno.test("network names: the container-ID pattern, else code 7", () => {
  assert.equal(code(() => validateNetworkName("aws-cni")), undefined);
  for (const bad of [undefined, 3, "", "-x", "a b"]) assert.equal(code(() => validateNetworkName(bad)), 7);
});

Deno.test("property: interfaceNameProblem agrees with the rule", () => {
  fc.assert(fc.property(fc.string({ maxLength: 20, unit: "grapheme" }), (s) => {
    const bytes = new TextEncoder().encode(s).length;
    const valid = s !== "" && bytes <= 15 && s !== "." && s !== ".." && !/[/:\s]/.test(s);
    assert.equal(interfaceNameProblem(s) === undefined, valid);
  }));
});
