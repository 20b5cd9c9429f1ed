import assert from "node:assert/strict";
import { rejection } from "../../tests/helpers/errors.ts";
import { HttpProtocolError, requestUnix } from "./http_unix.ts";

/** A Deno.serve on a unix socket in a temp dir; always shut down. */
async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/s.sock`;
  const server = Deno.serve({ path, transport: "unix", onListen() {} }, handler);
  try {
    await fn(path);
  } finally {
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("http_unix: POST with a JSON body; Content-Length answer; GET without a body", async () => {
  const seen: Array<{ method: string; path: string; len: string | null; type: string | null; body: string }> =
    [];
  await withServer(async (req) => {
    const body = await req.text();
    seen.push({
      method: req.method,
      path: new URL(req.url).pathname,
      len: req.headers.get("content-length"),
      type: req.headers.get("content-type"),
      body,
    });
    return Response.json({ echo: body, n: seen.length }, { headers: { "x-a": "1" } });
  }, async (path) => {
    const payload = JSON.stringify({ k: "väl", big: "x".repeat(70_000) });
    const r = await requestUnix(path, {
      method: "POST",
      path: "/v1/add-network",
      headers: { "content-type": "application/json" },
      body: payload,
    });
    assert.equal(r.status, 200);
    assert.ok(r.ok);
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.headers["x-a"], "1");
    assert.deepEqual(JSON.parse(r.text()), { echo: payload, n: 1 });
    assert.equal(seen[0].len, String(new TextEncoder().encode(payload).length));
    assert.equal(seen[0].type, "application/json");
    assert.equal(seen[0].path, "/v1/add-network");

    const g = await requestUnix(path, { method: "GET", path: "/v1/status" });
    assert.equal(g.status, 200);
    assert.deepEqual(JSON.parse(g.text()), { echo: "", n: 2 });
    assert.equal(seen[1].method, "GET");
  });
});

Deno.test("http_unix: a chunked (streamed) answer is reassembled", async () => {
  await withServer(() => {
    const parts = ['{"a":', '"' + "y".repeat(20_000) + '",', '"b":2}'];
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const p = parts.shift();
        if (p === undefined) return c.close();
        await new Promise((r) => setTimeout(r, 5));
        c.enqueue(new TextEncoder().encode(p));
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }, async (path) => {
    const r = await requestUnix(path, { method: "GET", path: "/x" });
    assert.equal(r.headers["transfer-encoding"], "chunked");
    assert.deepEqual(JSON.parse(r.text()), { a: "y".repeat(20_000), b: 2 });
  });
});

Deno.test("http_unix: 4xx and 5xx answers come back with their JSON bodies", async () => {
  await withServer((req) => {
    const p = new URL(req.url).pathname;
    if (p === "/409") {
      return Response.json({ error: { reason: "max_enis_reached", message: "full", retryable: false } }, {
        status: 409,
      });
    }
    if (p === "/204") return new Response(null, { status: 204 });
    return new Response("boom", { status: 503 });
  }, async (path) => {
    const a = await requestUnix(path, { method: "POST", path: "/409", body: "{}" });
    assert.equal(a.status, 409);
    assert.equal(a.ok, false);
    assert.equal(JSON.parse(a.text()).error.reason, "max_enis_reached");
    const b = await requestUnix(path, { method: "GET", path: "/503" });
    assert.equal(b.status, 503);
    assert.equal(b.text(), "boom");
    const c = await requestUnix(path, { method: "POST", path: "/204" });
    assert.equal(c.status, 204);
    assert.equal(c.body.length, 0);
  });
});

Deno.test("http_unix: a slow server is cut off by the signal (TimeoutError), promptly", async () => {
  const hang = Promise.withResolvers<void>();
  await withServer(async () => {
    await hang.promise;
    return new Response("late");
  }, async (path) => {
    const t0 = performance.now();
    const e = await rejection(
      requestUnix(path, { method: "GET", path: "/", signal: AbortSignal.timeout(150) }),
    );
    const ms = performance.now() - t0;
    assert.equal(e.name, "TimeoutError");
    // At least the timeout; the upper bound only says the signal cut the wait (the server never answers).
    assert.ok(ms >= 140 && ms < 30_000, `took ${ms} ms`);
    const ac = new AbortController();
    ac.abort(new Error("gone"));
    assert.equal(
      (await rejection(requestUnix(path, { method: "GET", path: "/", signal: ac.signal }))).message,
      "gone",
    );
    hang.resolve();
  });
});

Deno.test("http_unix: missing socket → NotFound; nothing listening → ConnectionRefused", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const e = await rejection(requestUnix(`${dir}/none.sock`, { method: "GET", path: "/" }));
    assert.ok(e instanceof Deno.errors.NotFound, String(e));
    // a socket file nobody listens on any more
    const path = `${dir}/dead.sock`;
    const l = Deno.listen({ transport: "unix", path });
    l.close();
    const f = await rejection(requestUnix(path, { method: "GET", path: "/" }));
    assert.ok(f instanceof Deno.errors.ConnectionRefused || f instanceof Deno.errors.NotFound, String(f));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("http_unix: a raw server: interim 100, body to EOF, and garbage", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/raw.sock`;
  const answers = [
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-eof",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
    "SSH-2.0-nope\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
  ];
  const l = Deno.listen({ transport: "unix", path });
  const served = (async () => {
    for (const a of answers) {
      const c = await l.accept();
      const buf = new Uint8Array(4096);
      await c.read(buf);
      await c.write(new TextEncoder().encode(a));
      c.close();
    }
  })();
  try {
    const a = await requestUnix(path, { method: "GET", path: "/" });
    assert.equal(a.status, 200);
    assert.equal(a.text(), "until-eof");
    const b = await requestUnix(path, { method: "GET", path: "/" });
    assert.equal(b.text(), "abcde");
    const c = await rejection(requestUnix(path, { method: "GET", path: "/" }));
    assert.ok(c instanceof HttpProtocolError && /bad status line/.test(c.message), String(c));
    const d = await rejection(requestUnix(path, { method: "GET", path: "/" }));
    assert.ok(d instanceof HttpProtocolError && /before the whole body/.test(d.message), String(d));
    await served;
  } finally {
    l.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
