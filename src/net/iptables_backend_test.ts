import assert from "node:assert/strict";
import { chooseBackend, ruleCount } from "./iptables_backend.ts";

const HINT = "*mangle\n:PREROUTING ACCEPT [0:0]\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n";
const rules = (n: number) =>
  "*nat\n:POSTROUTING ACCEPT [0:0]\n" + "-A POSTROUTING -j ACCEPT\n".repeat(n) + "COMMIT\n";

Deno.test("chooseBackend: kubelet's hint in nft's mangle wins, even against more legacy rules", () => {
  const r = chooseBackend({ nftMangle: HINT, legacy: rules(50), nft: "" });
  assert.equal(r.backend, "nft");
  assert.match(r.why, /hint/);
});

Deno.test("chooseBackend: kubelet's hint (or canary) in legacy picks legacy", () => {
  assert.equal(chooseBackend({ nftMangle: "", legacy: HINT, nft: rules(9) }).backend, "legacy");
  const canary = HINT.replace("KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY");
  assert.equal(chooseBackend({ nftMangle: "", legacy: canary, nft: rules(9) }).backend, "legacy");
});

Deno.test("chooseBackend: without a hint the backend with more rules; a tie or nothing is nft", () => {
  assert.equal(chooseBackend({ nftMangle: "", legacy: rules(3), nft: rules(2) }).backend, "legacy");
  assert.equal(chooseBackend({ nftMangle: "", legacy: rules(2), nft: rules(2) }).backend, "nft");
  assert.equal(chooseBackend({ nftMangle: "", legacy: "", nft: "" }).backend, "nft");
  assert.match(chooseBackend({ nftMangle: "", legacy: rules(3), nft: rules(2) }).why, /3 against 2/);
});

Deno.test("ruleCount: only rule lines count, not chains or table headers", () => {
  assert.equal(ruleCount(rules(4) + HINT), 4);
});
