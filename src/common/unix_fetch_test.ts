import assert from "node:assert/strict";
import { UNIX_FETCH_TIMEOUT_MS, unixFetch, UnixFetchError } from "./unix_fetch.ts";

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (socket: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "unix-fetch-" });
  const socket = `${dir}/s.sock`;
  const server = Deno.serve({ path: socket, transport: "unix", onListen() {} }, handler);
  try {
    await fn(socket);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("unixFetch: answers with the whole body; a POST body reaches the server", async () => {
  await withServer(
    async (req) => new Response(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`),
    async (socket) => {
      const r = await unixFetch(socket, "/v1/x", { method: "POST", body: "hi" });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "POST /v1/x hi");
    },
  );
});

Deno.test("unixFetch: a server that never answers is a timeout error naming the request and the limit", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  await withServer(async () => {
    await held;
    return new Response("late");
  }, async (socket) => {
    const err = await unixFetch(socket, "/lab/status", { timeoutMs: 300 }).then(() => undefined, (e) => e);
    release();
    assert.ok(err instanceof UnixFetchError, String(err));
    assert.equal(err.timeoutMs, 300);
    assert.equal(err.message, `GET /lab/status on ${socket}: no answer within 300 ms`);
  });
});

Deno.test("unixFetch: no socket is an error naming the socket and the cause, not a timeout", async () => {
  const err = await unixFetch("/nonexistent/x.sock", "/v1/status").then(() => undefined, (e) => e);
  assert.ok(err instanceof UnixFetchError, String(err));
  assert.equal(err.timeoutMs, undefined);
  assert.match(err.message, /^GET \/v1\/status on \/nonexistent\/x\.sock: .+/);
  assert.ok(UNIX_FETCH_TIMEOUT_MS >= 30_000, "the default deadline is sized for a loaded machine");
});

/**
 * The regression behind a red CI: a host *name* in the URL made Deno ask DNS before every unix-socket call,
 * and one lost DNS packet stalled the call past its deadline. This runs unixFetch in a private mount and
 * network namespace whose resolv.conf points at a UDP socket the child itself holds, and counts the queries.
 */
Deno.test({
  name: "unixFetch: makes no DNS query (a lost DNS packet cannot stall a socket call)",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "unix-fetch-dns-" });
    try {
      await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
      const child = `
        import { unixFetch } from ${JSON.stringify(new URL("./unix_fetch.ts", import.meta.url).href)};
        const dns = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 53 });
        let queries = 0;
        (async () => { for await (const _ of dns) queries++; })().catch(() => {});
        const socket = ${JSON.stringify(`${dir}/s.sock`)};
        const server = Deno.serve({ path: socket, transport: "unix", onListen() {} }, () => new Response("ok"));
        // A name lookup would block this call for the resolver's 1 s timeout, long after its query arrived.
        const r = await unixFetch(socket, "/v1/status");
        const body = await r.text();
        console.log(JSON.stringify({ body, queries }));
        dns.close();
        await server.shutdown();
      `;
      await Deno.writeTextFile(`${dir}/child.ts`, child);
      const out = await new Deno.Command("unshare", {
        args: [
          "--mount",
          "--net",
          "sh",
          "-c",
          `mount --bind "$0/resolv.conf" /etc/resolv.conf && ip link set lo up && ` +
          `exec "$1" run -A --unstable-net --no-lock "$0/child.ts"`,
          dir,
          Deno.execPath(),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(out.code, 0, dec.decode(out.stderr));
      const res = JSON.parse(dec.decode(out.stdout).trim().split("\n").pop()!);
      assert.deepEqual(res, { body: "ok", queries: 0 });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
