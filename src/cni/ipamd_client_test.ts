import assert from "node:assert/strict";
import { rejection } from "../../tests/helpers/errors.ts";
import { FakeIpamd } from "../../harness/fake_ipamd.ts";
import { IpamdClient, IpamdError, IpamdUnavailableError, parseServerTiming } from "./ipamd_client.ts";
import { CniError } from "./spec.ts";

const key = { netName: "aws-cni", containerId: "c1", ifName: "eth0" };

Deno.test("ipamd client: add / check / del / gc / status against the fake", async () => {
  const fake = FakeIpamd.start({ ips: ["10.0.0.10", { ipv4: "10.0.16.7", routeTable: 3 }], mtu: 1500 });
  const c = new IpamdClient(fake.socketPath);
  try {
    const a = await c.addNetwork({ ...key, k8sPodNamespace: "ns", k8sPodName: "p" });
    assert.equal(a.ipv4, "10.0.0.10");
    assert.equal(a.routeTable, 254);
    assert.equal(a.mtu, 1500);
    assert.deepEqual(fake.callsTo("/v1/add-network")[0].body, {
      ...key,
      k8sPodNamespace: "ns",
      k8sPodName: "p",
    });
    const b = await c.addNetwork({ ...key, containerId: "c2" });
    assert.equal(b.routeTable, 3);
    assert.deepEqual(await c.checkNetwork(key), {
      held: true,
      ipv4: "10.0.0.10",
      deviceNumber: 0,
      routeTable: 254,
    });
    assert.equal((await c.delNetwork(key)).released, true);
    assert.deepEqual(await c.delNetwork(key), { released: false });
    assert.deepEqual(await c.checkNetwork(key), { held: false });
    assert.deepEqual(await c.gc({ netName: "aws-cni", valid: [] }), {
      released: [{ containerId: "c2", ifName: "eth0", ipv4: "10.0.16.7" }],
    });
    await c.status();
    fake.ready = false;
    const e = await rejection(c.status());
    assert.ok(e instanceof IpamdError && e.reason === "not_ready");
  } finally {
    c.close();
    await fake.stop();
  }
});

Deno.test("ipamd client: error bodies map to 11 (retryable) or 102, message verbatim, reason in details", async () => {
  const fake = FakeIpamd.start({ ips: [] });
  const c = new IpamdClient(fake.socketPath);
  try {
    const e = await rejection(c.addNetwork(key));
    assert.ok(e instanceof IpamdError);
    assert.equal(e.code, 11);
    assert.equal(e.message, "no free IP on this node yet; the pool is growing");
    assert.match(e.details, /reason: pool_growing/);
    assert.match(e.details, /retryAfterMs: 1000/);
    fake.failNext.set("/v1/add-network", {
      status: 409,
      reason: "max_enis_reached",
      message: "t3.medium allows 3 ENIs and all are full",
      retryable: false,
    });
    const f = await rejection(c.addNetwork(key));
    assert.ok(f instanceof CniError);
    assert.equal(f.code, 102);
    assert.equal(f.message, "t3.medium allows 3 ENIs and all are full");
    assert.match(f.details, /max_enis_reached/);
  } finally {
    c.close();
    await fake.stop();
  }
});

Deno.test("ipamd client: no socket → IpamdUnavailableError (code 11) naming the socket", async () => {
  const dir = Deno.makeTempDirSync();
  const c = new IpamdClient(`${dir}/none.sock`);
  try {
    const e = await rejection(c.addNetwork(key));
    assert.ok(e instanceof IpamdUnavailableError);
    assert.equal(e.code, 11);
    assert.match(e.message, /none\.sock/);
    assert.equal(e.timedOut, false);
  } finally {
    c.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("ipamd client: a hung server times out; garbage answers are code 103", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/s.sock`;
  const hang = Promise.withResolvers<void>();
  const server = Deno.serve({ path, transport: "unix", onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/v1/status") {
      await hang.promise;
      return new Response("late");
    }
    return new Response("not json", { status: 200 });
  });
  const c = new IpamdClient(path, { status: 200 });
  try {
    const e = await rejection(c.status());
    assert.ok(e instanceof IpamdUnavailableError, String(e));
    assert.match(e.message, /within 200 ms/);
    assert.equal(e.timedOut, true);
    assert.equal(e.details, "reason: timeout");
    const g = await rejection(c.addNetwork(key));
    assert.ok(g instanceof CniError);
    assert.equal(g.code, 103);
  } finally {
    hang.resolve();
    c.close();
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("parseServerTiming reads name;dur=ms entries and skips the rest", () => {
  assert.deepEqual(parseServerTiming('assign;dur=0.25, checkpoint;desc="x";dur=3'), {
    assign: 0.25,
    checkpoint: 3,
  });
  assert.deepEqual(parseServerTiming("cache;desc=hit, bad;dur=x, ;dur=1"), {});
  assert.deepEqual(parseServerTiming(undefined), {});
});
