/** ipamd's socket API edge cases over the real unix socket: chunked oversize bodies, GC, CHECK, DEL of unknowns. */
import assert from "node:assert/strict";
import { rootOnly } from "./helpers/root.ts";
import { TestNode } from "./helpers/ipamd_node.ts";
import { IpamdClient } from "../src/cni/ipamd_client.ts";

/** One raw HTTP/1.1 exchange on the socket (chunked body), returning the status code. */
async function rawChunked(socket: string, path: string, chunks: string[]): Promise<number> {
  const c = await Deno.connect({ transport: "unix", path: socket });
  try {
    const enc = new TextEncoder();
    await c.write(
      enc.encode(
        `POST ${path} HTTP/1.1\r\nHost: ipamd\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      ),
    );
    for (const ch of chunks) {
      await c.write(enc.encode(`${enc.encode(ch).length.toString(16)}\r\n${ch}\r\n`)).catch(() => 0);
    }
    await c.write(enc.encode("0\r\n\r\n")).catch(() => 0);
    const buf = new Uint8Array(4096);
    const n = await c.read(buf);
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    return Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
  } finally {
    c.close();
  }
}

Deno.test({ name: "ipamd server: a chunked body over 64 KiB is cut off with 413", ...rootOnly }, async () => {
  const node = await TestNode.create();
  try {
    await node.start();
    const sock = `${node.dir}/ipamd.sock`;
    const status = await rawChunked(sock, "/v1/add-network", [
      '{"netName":"n","pad":"',
      ...Array(80).fill("x".repeat(1024)),
      '"}',
    ]);
    assert.equal(status, 413);
    const small = await rawChunked(sock, "/v1/add-network", [
      '{"netName":"aws-cni",',
      '"containerId":"c1","ifName":"eth0"}',
    ]);
    assert.equal(small, 200);
    // The status names the iptables backend ipamd's rules went to (nothing in this node: nft, as upstream).
    assert.deepEqual(await node.call("/v1/status"), {
      status: 200,
      body: { ready: true, iptablesBackend: "nft" },
    });
  } finally {
    await node.close();
  }
});

Deno.test({
  name: "ipamd server: GC releases what the runtime no longer lists; CHECK and DEL of unknowns",
  ...rootOnly,
}, async () => {
  const node = await TestNode.create();
  try {
    await node.start();
    await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.total === 18);
    const k = (c: string, netName = "aws-cni") => ({ netName, containerId: c, ifName: "eth0" });
    for (const c of ["a", "b", "c"]) assert.equal((await node.call("/v1/add-network", k(c))).status, 200);
    assert.equal((await node.call("/v1/add-network", k("z", "other"))).status, 200);
    const gc = await node.call("/v1/gc", {
      netName: "aws-cni",
      valid: [{ containerId: "a", ifName: "eth0" }],
    });
    assert.equal(gc.status, 200);
    assert.deepEqual(gc.body.released.map((r: { containerId: string }) => r.containerId).sort(), ["b", "c"]);
    assert.equal((await node.call("/v1/check-network", k("a"))).body.held, true);
    assert.equal((await node.call("/v1/check-network", k("b"))).body.held, false);
    assert.equal(
      (await node.call("/v1/check-network", k("z", "other"))).body.held,
      true,
      "other networks untouched",
    );
    assert.deepEqual((await node.call("/v1/del-network", k("never"))).body, { released: false });
    const badGc = await node.call("/v1/gc", { netName: "aws-cni", valid: "all" });
    assert.equal(badGc.status, 400);
    assert.match(badGc.body.error.message, /"valid"/);
    const saved = JSON.parse(await Deno.readTextFile(`${node.dir}/ipam.json`));
    assert.deepEqual(saved.allocations.map((a: { containerID: string }) => a.containerID).sort(), ["a", "z"]);
  } finally {
    await node.close();
  }
});

Deno.test({
  name:
    "ipamd server: add-network and del-network time their own steps in Server-Timing (the plugin's trace)",
  ...rootOnly,
}, async () => {
  const node = await TestNode.create();
  try {
    await node.start();
    await node.until("warm pool", async () => (await node.call("/v1/pool")).body.totals.free > 0);
    const client = new IpamdClient(`${node.dir}/ipamd.sock`);
    const key = { netName: "aws-cni", containerId: "st", ifName: "eth0" };
    await client.addNetwork(key);
    assert.deepEqual(Object.keys(client.serverTiming).sort(), ["assign", "checkpoint", "handler"]);
    for (const ms of Object.values(client.serverTiming)) assert.ok(ms >= 0 && ms < 60_000, `${ms}`);
    await client.delNetwork(key);
    assert.deepEqual(Object.keys(client.serverTiming).sort(), ["checkpoint", "handler"]);
    await client.checkNetwork(key);
    assert.deepEqual(client.serverTiming, {}, "a step-less route sends no header");
  } finally {
    await node.close();
  }
});
