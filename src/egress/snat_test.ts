import assert from "node:assert/strict";
import { renderSnat, renderSnatRemoval, snatChain, snatComment } from "./snat.ts";

Deno.test("chain and comment are the CNI plugins' (CNI-E4- + sha512(name+id), 28 chars)", async () => {
  // sha512("aws-cni" + "ctr-a"), cross-checked with Python's hashlib
  assert.equal(await snatChain("aws-cni", "ctr-a"), "CNI-E4-8741cbdb071b85a5ffb02");
  assert.equal((await snatChain("n", "x".repeat(200))).length, 28);
  assert.equal(snatComment("aws-cni", "ctr-a"), 'name: "aws-cni" id: "ctr-a"');
});

Deno.test("renderSnat: multicast ACCEPT, SNAT with the randomize flag, POSTROUTING jump; quotes escaped", async () => {
  const spec = { network: "aws-cni", containerId: "ctr-a", podIp: "169.254.172.2", nodeIp: "10.0.0.5" };
  const prng = await renderSnat({ ...spec, randomize: "prng" });
  assert.equal(
    prng,
    [
      "*nat",
      ":CNI-E4-8741cbdb071b85a5ffb02 - [0:0]",
      '-A CNI-E4-8741cbdb071b85a5ffb02 -d 224.0.0.0/4 -m comment --comment "name: \\"aws-cni\\" id: \\"ctr-a\\"" -j ACCEPT',
      '-A CNI-E4-8741cbdb071b85a5ffb02 -m comment --comment "name: \\"aws-cni\\" id: \\"ctr-a\\"" -j SNAT --to-source 10.0.0.5 --random-fully',
      '-A POSTROUTING -s 169.254.172.2/32 -m comment --comment "name: \\"aws-cni\\" id: \\"ctr-a\\"" -j CNI-E4-8741cbdb071b85a5ffb02',
      "COMMIT",
      "",
    ].join("\n"),
  );
  assert.match(await renderSnat({ ...spec, randomize: "hashrandom" }), /--to-source 10\.0\.0\.5 --random\n/);
  assert.match(await renderSnat({ ...spec, randomize: "none" }), /--to-source 10\.0\.0\.5\n/);
});

Deno.test("renderSnatRemoval: deletes every jump to the chain and the chain; nothing when absent", () => {
  const chain = "CNI-E4-8741cbdb071b85a5ffb02";
  const save = [
    "*nat",
    ":POSTROUTING ACCEPT [0:0]",
    `:${chain} - [0:0]`,
    ":CNI-E4-other - [0:0]",
    `-A POSTROUTING -s 169.254.172.2/32 -m comment --comment "x" -j ${chain}`,
    '-A POSTROUTING -s 169.254.172.3/32 -m comment --comment "y" -j CNI-E4-other',
    `-A ${chain} -j SNAT --to-source 10.0.0.5`,
    "COMMIT",
  ].join("\n");
  assert.equal(
    renderSnatRemoval(chain, save),
    `*nat\n-D POSTROUTING -s 169.254.172.2/32 -m comment --comment "x" -j ${chain}\n:${chain} - [0:0]\n-X ${chain}\nCOMMIT\n`,
  );
  assert.equal(renderSnatRemoval("CNI-E4-none", save), "");
});
