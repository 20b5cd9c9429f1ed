import assert from "node:assert/strict";
import { ClientNodeKube } from "./client.ts";
import { KubeAccess } from "./kube_config.ts";
import { renderKubeconfig } from "../sim/kubeconfig.ts";
import { KubeApiError, KubeUnreachableError, type PodEvent } from "./port.ts";
import { until } from "../../harness/poll.ts";

/** Serves `handler` on 127.0.0.1 and gives `fn` a ClientNodeKube for it. */
async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (kube: ClientNodeKube, logs: string[]) => Promise<void>,
  opts: { requestTimeoutMs?: number; minBackoffMs?: number; maxBackoffMs?: number } = {},
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const kc = await KubeAccess.fromText(
      renderKubeconfig({ server: `http://127.0.0.1:${server.addr.port}` }),
    );
    const logs: string[] = [];
    await fn(
      new ClientNodeKube(kc, { minBackoffMs: 50, maxBackoffMs: 200, ...opts, log: (m) => logs.push(m) }),
      logs,
    );
  } finally {
    await server.shutdown();
  }
}

/** The most attempts a backoff of at least `gapMs` between attempts allows in `elapsedMs` (plus the first two). */
const atMostOnePer = (gapMs: number, elapsedMs: number) => 2 + Math.ceil(elapsedMs / gapMs);

const podList = (rv: string, items: unknown[] = []) =>
  Response.json({ kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: rv }, items });

Deno.test("ClientNodeKube: an error Status becomes KubeApiError with code and reason", async () => {
  await withServer(
    () =>
      Response.json({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Forbidden",
        code: 403,
        message: "no",
      }, {
        status: 403,
      }),
    async (kube) => {
      await assert.rejects(kube.getNode("n1"), (e) => {
        assert.ok(e instanceof KubeApiError);
        assert.equal(e.code, 403);
        assert.equal(e.reason, "Forbidden");
        assert.equal(e.message, "no");
        return true;
      });
    },
  );
});

Deno.test("ClientNodeKube: a server that never answers gives KubeUnreachableError after requestTimeoutMs", async () => {
  let release!: () => void;
  const hang = new Promise<void>((r) => (release = r));
  await withServer(async () => {
    await hang;
    return new Response("late");
  }, async (kube) => {
    const t0 = Date.now();
    try {
      await assert.rejects(kube.version(), KubeUnreachableError);
    } finally {
      release();
    }
    const took = Date.now() - t0;
    // At least the timeout; the upper bound only says "not hung" (generous for a loaded machine).
    assert.ok(took >= 250 && took < 30_000, `took ${took} ms`);
  }, { requestTimeoutMs: 300 });
});

Deno.test("watchPodsOnNode: streams that end at once back off instead of busy-looping", async () => {
  let watches = 0;
  await withServer((req) => {
    const u = new URL(req.url);
    if (u.searchParams.get("watch") === "true") {
      watches++;
      return new Response("", { headers: { "content-type": "application/json" } }); // ends immediately
    }
    return podList("5");
  }, async (kube) => {
    const ac = new AbortController();
    const events: PodEvent[] = [];
    const t0 = performance.now();
    const done = kube.watchPodsOnNode("n1", (e) => events.push(e), ac.signal);
    await until("three watch attempts", () => watches >= 3, 30_000, 10);
    ac.abort();
    await done;
    assert.equal(events.length, 1, "one RESYNC, nothing else");
    assert.equal(events[0].type, "RESYNC");
    // Backoff (50 ms doubling to 200 ms, jittered down to half) allows one attempt per 25 ms at most; a busy
    // loop would make hundreds. A slow machine only makes fewer.
    assert.ok(watches <= atMostOnePer(25, performance.now() - t0), `watch attempts: ${watches}`);
  });
});

Deno.test("watchPodsOnNode: an HTTP 410 on the watch re-lists; an in-stream non-410 ERROR backs off", async () => {
  let lists = 0;
  let watches = 0;
  await withServer((req) => {
    const u = new URL(req.url);
    if (u.searchParams.get("watch") !== "true") {
      lists++;
      return podList(String(10 * lists), [{
        metadata: { namespace: "d", name: `p${lists}` },
        spec: { nodeName: "n1" },
      }]);
    }
    watches++;
    if (watches === 1) {
      return Response.json({ kind: "Status", code: 410, reason: "Expired", message: "too old" }, {
        status: 410,
      });
    }
    const err = {
      type: "ERROR",
      object: { kind: "Status", code: 500, reason: "InternalError", message: "boom" },
    };
    return new Response(JSON.stringify(err) + "\n", { headers: { "content-type": "application/json" } });
  }, async (kube, logs) => {
    const ac = new AbortController();
    const events: PodEvent[] = [];
    const t0 = performance.now();
    const done = kube.watchPodsOnNode("n1", (e) => events.push(e), ac.signal);
    await until("the re-list after the 410", () => events.length >= 2, 30_000, 10);
    // After the ERROR comes a watch again, not a list: a wrong re-list would show before the third watch.
    await until("the watch after the ERROR", () => watches >= 3, 30_000, 10);
    ac.abort();
    await done;
    assert.deepEqual(events.map((e) => e.type === "RESYNC" ? e.pods.map((p) => p.name).join() : e.type), [
      "p1",
      "p2",
    ]);
    assert.equal(lists, 2, "the 500 ERROR does not re-list");
    assert.ok(logs.some((l) => l.includes("boom")), logs.join("\n"));
    assert.ok(watches <= atMostOnePer(25, performance.now() - t0), `watches=${watches}`);
  });
});

Deno.test("watchPodsOnNode: a throwing handler does not stop the watch", async () => {
  let sent = false;
  await withServer((req) => {
    const u = new URL(req.url);
    if (u.searchParams.get("watch") !== "true") return podList("1");
    if (sent) return new Promise<Response>((r) => setTimeout(() => r(new Response("")), 50));
    sent = true;
    const lines = [1, 2].map((i) =>
      JSON.stringify({
        type: "ADDED",
        object: {
          metadata: { namespace: "d", name: `p${i}`, resourceVersion: String(1 + i) },
          spec: { nodeName: "n1" },
        },
      })
    );
    return new Response(lines.join("\n") + "\n");
  }, async (kube) => {
    const ac = new AbortController();
    const names: string[] = [];
    const done = kube.watchPodsOnNode("n1", (e) => {
      if (e.type === "ADDED") {
        names.push(e.pod.name);
        if (e.pod.name === "p1") throw new Error("handler bug");
      }
    }, ac.signal);
    await until("both pods", () => names.length >= 2, 30_000, 10);
    ac.abort();
    await done;
    assert.deepEqual(names, ["p1", "p2"]);
  });
});

Deno.test("watchPodsOnNode: a watch that gets no answer times out and backs off", async () => {
  let release!: () => void;
  const hang = new Promise<void>((r) => (release = r));
  let watches = 0;
  await withServer(async (req) => {
    if (new URL(req.url).searchParams.get("watch") !== "true") return podList("1");
    watches++;
    await hang;
    return new Response("");
  }, async (kube, logs) => {
    const ac = new AbortController();
    const t0 = performance.now();
    const done = kube.watchPodsOnNode("n1", () => {}, ac.signal);
    try {
      await until("a second watch after the first timed out", () => watches >= 2, 30_000, 10);
      ac.abort();
      await done;
      assert.ok(logs.some((l) => l.includes("no answer within 200 ms")), logs.join("\n"));
      // Each attempt waits its 200 ms timeout plus a backoff: at most one per 200 ms.
      assert.ok(watches <= atMostOnePer(200, performance.now() - t0), `watches=${watches}`);
    } finally {
      release();
    }
  }, { requestTimeoutMs: 200 });
});

Deno.test("watchPodsOnNode: abort ends a watch waiting for its answer at once, not at its timeout", async () => {
  let release!: () => void;
  const hang = new Promise<void>((r) => (release = r));
  let watches = 0;
  await withServer(async (req) => {
    if (new URL(req.url).searchParams.get("watch") !== "true") return podList("1");
    watches++;
    await hang;
    return new Response("");
  }, async (kube) => {
    const ac = new AbortController();
    const done = kube.watchPodsOnNode("n1", () => {}, ac.signal);
    try {
      await until("the watch request", () => watches >= 1, 30_000, 10);
      const t0 = performance.now();
      ac.abort();
      await done;
      // The timeout is 60 s: ending well before it means the abort, not the timeout, ended the wait.
      assert.ok(performance.now() - t0 < 20_000, `abort took ${Math.round(performance.now() - t0)} ms`);
    } finally {
      release();
    }
  }, { requestTimeoutMs: 60_000 });
});

Deno.test("fromEnv: CLUSTER_ENDPOINT replaces the loaded config's API server address", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ gitVersion: "v1.35.0" }),
  );
  const dir = await Deno.makeTempDir({ prefix: "kube-endpoint-" });
  try {
    // The kubeconfig names an address nothing answers on (the Service's ClusterIP before kube-proxy).
    await Deno.writeTextFile(`${dir}/kubeconfig`, renderKubeconfig({ server: "http://127.0.0.1:9" }));
    const endpoint = `http://127.0.0.1:${server.addr.port}`;
    const kube = await ClientNodeKube.fromEnv(
      { KUBECONFIG: `${dir}/kubeconfig`, CLUSTER_ENDPOINT: `${endpoint}/` },
      { requestTimeoutMs: 2000 },
    );
    assert.equal(kube.server, endpoint);
    assert.equal((await kube.version()).gitVersion, "v1.35.0");
    const without = await ClientNodeKube.fromEnv({ KUBECONFIG: `${dir}/kubeconfig` }, {
      requestTimeoutMs: 2000,
    });
    await assert.rejects(without.version(), KubeUnreachableError);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("annotatePod: reads the pod, then a JSON patch that tests the old value; unchanged or not ours: no patch", async () => {
  const seen: { method: string; path: string; type: string | null; body: unknown }[] = [];
  let annotations: Record<string, string> | undefined = { other: "x" };
  await withServer(async (req) => {
    const path = new URL(req.url).pathname;
    seen.push({
      method: req.method,
      path,
      type: req.headers.get("content-type"),
      body: req.method === "PATCH" ? await req.json() : undefined,
    });
    return Response.json({ metadata: { name: "p", namespace: "ns", annotations } });
  }, async (kube) => {
    assert.equal(await kube.annotatePod("ns", "p", "vpc.amazonaws.com/pod-ips", "10.0.0.5"), true);
    assert.deepEqual(seen.map((s) => [s.method, s.path]), [
      ["GET", "/api/v1/namespaces/ns/pods/p"],
      ["PATCH", "/api/v1/namespaces/ns/pods/p"],
    ]);
    assert.equal(seen[1].type, "application/json-patch+json");
    assert.deepEqual(seen[1].body, [{
      op: "add",
      path: "/metadata/annotations/vpc.amazonaws.com~1pod-ips",
      value: "10.0.0.5",
    }]);
    seen.length = 0;
    annotations = { "vpc.amazonaws.com/pod-ips": "10.0.0.5" };
    assert.equal(
      await kube.annotatePod("ns", "p", "vpc.amazonaws.com/pod-ips", "10.0.0.5"),
      false,
      "already so",
    );
    assert.equal(
      await kube.annotatePod("ns", "p", "vpc.amazonaws.com/pod-ips", "", { ifCurrently: "10.0.0.9" }),
      false,
      "someone else's value",
    );
    assert.deepEqual(seen.map((s) => s.method), ["GET", "GET"]);
    assert.equal(
      await kube.annotatePod("ns", "p", "vpc.amazonaws.com/pod-ips", "", { ifCurrently: "10.0.0.5" }),
      true,
    );
    assert.deepEqual(seen[3].body, [
      { op: "test", path: "/metadata/annotations/vpc.amazonaws.com~1pod-ips", value: "10.0.0.5" },
      { op: "add", path: "/metadata/annotations/vpc.amazonaws.com~1pod-ips", value: "" },
    ]);
    seen.length = 0;
    annotations = undefined;
    assert.equal(await kube.annotatePod("ns", "p", "k", "v"), true);
    assert.deepEqual(seen[1].body, [{ op: "add", path: "/metadata/annotations", value: { k: "v" } }]);
  });
});
