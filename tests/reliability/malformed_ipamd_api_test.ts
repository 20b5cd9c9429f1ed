/**
 * ipamd's socket API against garbage, on a real ipamd supervised by a lab node: oversized bodies are 413,
 * invalid JSON and missing or wrong-typed fields are 400 naming the field, unknown paths 404, wrong methods
 * 405, raw non-HTTP bytes do not hurt it, 200 stalled clients do not block it. Garbage never assigns an address, ipamd never restarts, and a
 * valid ADD/DEL works afterwards. Root only.
 *
 * Fast: ~400 generated bodies. Soak (`VPC_CNI_SOAK=1`): ~4000.
 * @module
 */
import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { fetchStatus } from "../../src/sim/daemon_client.ts";
import { withLab } from "../helpers/lab.ts";
import { rootOnly } from "../helpers/root.ts";
import { ipamdCall, poolOf, waitIpamdReady } from "./invariants.ts";

const SOAK = Deno.env.get("VPC_CNI_SOAK") === "1";
const RUNS = SOAK ? 4000 : 400;
const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;
const OPT_FIELDS = ["netns", "k8sPodNamespace", "k8sPodName", "k8sPodUid"] as const;

const validIf = (v: unknown) =>
  typeof v === "string" && v !== "" && new TextEncoder().encode(v).length <= 15 && v !== "." &&
  v !== ".." && !/[/:\s]/.test(v);
const validId = (v: unknown) => typeof v === "string" && ID.test(v);

/** The fields of an attachment-key body that ipamd must refuse (empty: the body is valid). */
function badFields(b: Record<string, unknown>, route: string): string[] {
  const bad: string[] = [];
  if (route === "/v1/gc") {
    if (!validId(b.netName)) bad.push("netName");
    if (!Array.isArray(b.valid)) bad.push("valid");
    else {
      b.valid.forEach((v, i) => {
        if (typeof v !== "object" || v === null) bad.push(`valid[${i}]`);
        else {
          const o = v as Record<string, unknown>;
          if (typeof o.containerId !== "string" || o.containerId === "") bad.push("containerId");
          if (typeof o.ifName !== "string" || o.ifName === "") bad.push("ifName");
        }
      });
    }
    return bad;
  }
  if (!validId(b.netName)) bad.push("netName");
  if (!validId(b.containerId)) bad.push("containerId");
  if (!validIf(b.ifName)) bad.push("ifName");
  if (route === "/v1/add-network") {
    for (const k of OPT_FIELDS) if (b[k] !== undefined && typeof b[k] !== "string") bad.push(k);
  }
  return bad;
}

const anyValue = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.constantFrom("", ".", "..", "a/b", "eth0:1", "x y", "-lead", "_x", "a".repeat(16), "ok-id", "eth0"),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });

/** A body for one POST route; valid bodies are filtered out. */
const bodyArb = fc.constantFrom("/v1/add-network", "/v1/del-network", "/v1/check-network", "/v1/gc").chain((
  route,
) =>
  fc.record({
    netName: maybe(fc.oneof(anyValue, fc.constant("aws-cni"))),
    containerId: maybe(fc.oneof(anyValue, fc.constant("garbage-cid"))),
    ifName: maybe(fc.oneof(anyValue, fc.constant("eth0"))),
    netns: maybe(anyValue),
    k8sPodName: maybe(anyValue),
    valid: maybe(
      fc.oneof(
        anyValue,
        fc.array(fc.oneof(anyValue, fc.record({ containerId: anyValue, ifName: anyValue }))),
      ),
    ),
  }, { requiredKeys: [] }).map((b) => {
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b)) if (v !== undefined) body[k] = v;
    return { route, body };
  }).filter(({ route, body }) => badFields(body, route).length > 0)
);

Deno.test({
  name: "ipamd socket API: 413, 400 naming the field, 404, 405; garbage assigns nothing; keeps serving",
  ...rootOnly,
  async fn() {
    await withLab({ nodes: 1 }, async (lab) => {
      const sock = lab.names.ipamdSocket(0);
      await waitIpamdReady(lab.names, 0);
      const call = (path: string, init: Parameters<typeof ipamdCall>[2] = {}) => ipamdCall(sock, path, init);
      const post = (path: string, body: BodyInit, headers?: HeadersInit) =>
        call(path, { method: "POST", body, headers });
      const before = await poolOf(lab.names, 0);
      const pid0 = (await fetchStatus(lab.names)).nodes[0].ipamdPid;
      let tried = 0;
      const expect = async (
        what: string,
        r: Promise<{ status: number; body: { error?: { reason?: string; message?: string } } }>,
        status: number,
        mention?: RegExp,
      ) => {
        const a = await r;
        tried++;
        assert.equal(a.status, status, `${what}: ${JSON.stringify(a.body).slice(0, 300)}`);
        assert.equal(typeof a.body?.error?.message, "string", `${what}: error body`);
        if (mention) assert.match(a.body.error!.message!, mention, what);
      };

      // Oversized: declared, undeclared (chunked), and MBs.
      const key = { netName: "aws-cni", containerId: "big", ifName: "eth0" };
      await expect(
        "64 KiB + 1",
        post("/v1/add-network", JSON.stringify({ ...key, p: "x".repeat(65_536) })),
        413,
      );
      await expect("8 MiB", post("/v1/add-network", "{" + " ".repeat(8 << 20) + "}"), 413);
      const chunked = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 32; i++) c.enqueue(new Uint8Array(32 * 1024).fill(0x20));
          c.close();
        },
      });
      await expect("1 MiB chunked", post("/v1/add-network", chunked), 413);

      // Not JSON, not an object, not UTF-8.
      for (const b of ["", "{", "{not json", "nul", "[1,2", '{"netName":"aws-cni",}', "\u0000"]) {
        await expect(`body ${JSON.stringify(b)}`, post("/v1/add-network", b), 400, /JSON/);
      }
      for (const b of ["[]", "1", '"s"', "null", "true"]) {
        await expect(`body ${b}`, post("/v1/del-network", b), 400, /object/);
      }
      const utf8 = new Uint8Array([
        ...new TextEncoder().encode('{"netName":"aws-cni","containerId":"'),
        0xff,
        0xfe,
        ...new TextEncoder().encode('","ifName":"eth0"}'),
      ]);
      await expect("invalid UTF-8 in containerId", post("/v1/add-network", utf8), 400, /containerId/);

      // Unknown paths and wrong methods.
      for (
        const [m, p] of [
          ["GET", "/v1/nope"],
          ["POST", "/v1/nope"],
          ["PUT", "/v1/nope"],
          ["GET", "/"],
          ["POST", "/v2/add-network"],
          ["POST", "/v1/add-network/x"],
          ["POST", "/V1/ADD-NETWORK"],
          ["DELETE", "/v1/nope"],
        ] as const
      ) {
        await expect(`${m} ${p}`, call(p, { method: m, body: m === "GET" ? undefined : "{}" }), 404);
      }
      for (
        const [m, p] of [
          ["GET", "/v1/add-network"],
          ["PUT", "/v1/add-network"],
          ["DELETE", "/v1/del-network"],
          ["PATCH", "/v1/gc"],
          ["POST", "/v1/status"],
          ["POST", "/v1/pool"],
          ["DELETE", "/v1/pool"],
        ] as const
      ) {
        await expect(`${m} ${p}`, call(p, { method: m, body: m === "GET" ? undefined : "{}" }), 405);
      }

      // Raw bytes that are not HTTP: the connection may be answered 400 or closed, never crash ipamd.
      for (
        const raw of [
          "GARBAGE\r\n\r\n",
          "POST /v1/add-network HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
          "\x00\xff\x13\x37".repeat(1000),
          "GET / HTTP/9.9\r\n\r\n",
        ]
      ) {
        const conn = await Deno.connect({ transport: "unix", path: sock });
        try {
          await conn.write(new Uint8Array([...raw].map((c) => c.charCodeAt(0) & 0xff)));
          const buf = new Uint8Array(4096);
          const n = await Promise.race([
            conn.read(buf),
            new Promise<null>((r) => setTimeout(() => r(null), 2000)),
          ]);
          const head = n ? new TextDecoder().decode(buf.subarray(0, n)).split("\r\n")[0] : "(closed)";
          assert.ok(
            !/^HTTP\/1\.[01] [23]\d\d/.test(head),
            `raw ${JSON.stringify(raw.slice(0, 20))}: ${head}`,
          );
          tried++;
        } finally {
          conn.close();
        }
      }

      // Generated bodies: 400 naming one of the bad fields.
      await fc.assert(
        fc.asyncProperty(bodyArb, async ({ route, body }) => {
          const r = await post(route, JSON.stringify(body), { "content-type": "application/json" });
          tried++;
          const bad = badFields(body, route);
          assert.equal(r.status, 400, `${route} ${JSON.stringify(body)}: ${r.text.slice(0, 200)}`);
          assert.equal(r.body.error.reason, "bad_request");
          assert.ok(
            bad.some((f) => r.body.error.message.includes(`"${f}`)),
            `${route} ${JSON.stringify(body)}: "${r.body.error.message}" names none of ${bad.join(", ")}`,
          );
        }),
        { numRuns: RUNS, endOnFailure: true },
      );

      // 200 clients that stall mid-request (headers sent, body never) must not block a valid call.
      const stalled: Deno.UnixConn[] = [];
      try {
        for (let i = 0; i < 200; i++) {
          const c = await Deno.connect({ transport: "unix", path: sock });
          stalled.push(c);
          await c.write(new TextEncoder().encode(
            "POST /v1/add-network HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
              "Content-Length: 100\r\n\r\n{",
          ));
        }
        const t = performance.now();
        const r = await call("/v1/check-network", {
          method: "POST",
          body: JSON.stringify({ netName: "aws-cni", containerId: "probe", ifName: "eth0" }),
          timeoutMs: 60_000,
        });
        assert.equal(r.status, 200, r.text);
        // Blocked, it would wait for the stalled clients forever; 15 s is generous for a loaded machine.
        assert.ok(
          performance.now() - t < 15_000,
          `a valid call took ${performance.now() - t} ms behind stalled ones`,
        );
        tried += 200;
      } finally {
        for (const c of stalled) c.close();
      }

      // Nothing assigned or released, same process, and a valid ADD/DEL still works.
      const after = await poolOf(lab.names, 0);
      assert.deepEqual(after.pods, before.pods);
      assert.equal(after.totals.assigned, before.totals.assigned);
      const st = await fetchStatus(lab.names);
      assert.equal(st.nodes[0].ipamdPid, pid0, "ipamd restarted");
      assert.equal(st.nodes[0].ipamdRestarts, 0);
      const ok = { netName: "aws-cni", containerId: "after-garbage", ifName: "eth0" };
      const add = await post("/v1/add-network", JSON.stringify(ok));
      assert.equal(add.status, 200, add.text);
      assert.match(add.body.ipv4, /^10\.0\./);
      assert.ok(!before.pods.some((p) => p.ip === add.body.ipv4), "handed out a held address");
      const del = await post("/v1/del-network", JSON.stringify(ok));
      assert.equal(del.body.released, true);
      assert.equal(del.body.ipv4, add.body.ipv4);
      console.log(
        `ipamd API: ${tried} garbage requests, 0 addresses assigned, ipamd pid ${pid0} unchanged`,
      );
    });
  },
});
