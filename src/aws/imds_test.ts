import assert from "node:assert/strict";
import { ImdsClient, regionFromAz } from "./imds.ts";
import { ImdsError } from "./imds_port.ts";

const SECRET = "tok-SECRET-abcdef";

/** A fake IMDS on 127.0.0.1 whose behaviour the test scripts. */
async function withFake(
  handle: (req: Request, puts: number) => Response | Promise<Response>,
  fn: (url: string, counts: { puts: number; gets: number }) => Promise<void>,
): Promise<void> {
  const counts = { puts: 0, gets: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (req.method === "PUT") counts.puts++;
    else counts.gets++;
    return handle(req, counts.puts);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, counts);
  } finally {
    await server.shutdown();
  }
}

Deno.test("regionFromAz handles regular and local zones", () => {
  assert.equal(regionFromAz("us-west-2a"), "us-west-2");
  assert.equal(regionFromAz("eu-central-1c"), "eu-central-1");
  assert.equal(regionFromAz("us-west-2-lax-1a"), "us-west-2");
  assert.equal(regionFromAz("us-gov-west-1a"), "us-gov-west-1");
});

Deno.test("ImdsClient asks for a 21600 s token once and sends it on every GET", () =>
  withFake((req) => {
    if (req.method === "PUT") {
      assert.equal(req.headers.get("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
      return new Response(SECRET);
    }
    if (req.headers.get("x-aws-ec2-metadata-token") !== SECRET) return new Response("", { status: 401 });
    return new Response(new URL(req.url).pathname.endsWith("instance-id") ? "i-1" : "m5.large");
  }, async (url, counts) => {
    const c = new ImdsClient({ endpoint: url + "/" });
    const [a, b, d] = await Promise.all([c.instanceId(), c.instanceType(), c.instanceId()]);
    assert.deepEqual([a, b, d], ["i-1", "m5.large", "i-1"]);
    assert.equal(counts.puts, 1, "concurrent callers share one token request");
  }));

Deno.test("ImdsClient errors carry the path and status, never the token", () =>
  withFake((req) => {
    if (req.method === "PUT") return new Response(SECRET);
    return new Response(`internal ${SECRET}`, { status: 500 });
  }, async (url) => {
    const c = new ImdsClient({ endpoint: url });
    const e = await c.instanceId().then(() => undefined, (e) => e);
    assert.ok(e instanceof ImdsError);
    assert.equal(e.status, 500);
    assert.equal(e.path, "/latest/meta-data/instance-id");
    assert.ok(!e.message.includes(SECRET));
    assert.ok(!String(e.stack).includes(SECRET));
  }));

Deno.test("ImdsClient gives up after one refresh when IMDS keeps answering 401", () =>
  withFake(
    (req) => req.method === "PUT" ? new Response(SECRET) : new Response("", { status: 401 }),
    async (url, counts) => {
      const e = await new ImdsClient({ endpoint: url }).instanceId().then(() => undefined, (e) => e);
      assert.ok(e instanceof ImdsError);
      assert.equal(e.status, 401);
      assert.equal(counts.puts, 2);
      assert.equal(counts.gets, 2);
    },
  ));

Deno.test("ImdsClient times out", () => {
  let release!: () => void;
  const hang = new Promise<void>((r) => release = r);
  return withFake(async (req) => {
    if (req.method === "PUT") return new Response(SECRET);
    await hang;
    return new Response("late");
  }, async (url) => {
    const t0 = Date.now();
    const e = await new ImdsClient({ endpoint: url, timeoutMs: 150 }).instanceId().then(
      () => undefined,
      (e) => e,
    );
    release();
    assert.ok(e instanceof ImdsError);
    assert.equal(e.status, 0);
    assert.match(e.message, /timed out/);
    // The 150 ms timeout cut the wait (the server never answers); generous for a loaded machine.
    assert.ok(Date.now() - t0 < 30_000);
  });
});

Deno.test("ImdsClient: ipv4-prefix 404 means no prefixes; unreachable IMDS is an ImdsError", async () => {
  await withFake((req) => {
    if (req.method === "PUT") return new Response(SECRET);
    const p = new URL(req.url).pathname.replace("/latest/meta-data/", "");
    const m = "02:00:00:00:00:01";
    const table: Record<string, string> = {
      "network/interfaces/macs/": `${m}/`,
      [`network/interfaces/macs/${m}/device-number`]: "0",
      [`network/interfaces/macs/${m}/interface-id`]: "eni-1",
      [`network/interfaces/macs/${m}/local-ipv4s`]: "10.0.0.5\n10.0.0.6",
    };
    return p in table ? new Response(table[p]) : new Response("", { status: 404 });
  }, async (url) => {
    const [i] = await new ImdsClient({ endpoint: url }).interfaces();
    assert.deepEqual(i.ipv4Prefixes, []);
    assert.deepEqual(i.localIpv4s, ["10.0.0.5", "10.0.0.6"]);
    assert.equal(i.interfaceId, "eni-1");
  });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const e = await new ImdsClient({ endpoint: `http://127.0.0.1:${port}` }).instanceId().then(
    () => 0,
    (e) => e,
  );
  assert.ok(e instanceof ImdsError);
  assert.equal(e.status, 0);
});
