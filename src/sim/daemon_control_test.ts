import assert from "node:assert/strict";
import { type ControlDeps, controlHandler, type Handler } from "./daemon_control.ts";
import { routables } from "./daemon_world.ts";
import { KubeStore } from "./k8s_store.ts";

const info = { remoteAddr: { transport: "unix", path: "" } } as unknown as Deno.ServeHandlerInfo;

function echo(tag: string): Handler {
  return async (req) =>
    new Response(
      `${tag} ${req.method} ${new URL(req.url).pathname}${new URL(req.url).search} ${await req.text()}`,
    );
}

function deps(store = new KubeStore()): ControlDeps {
  store.addNode("node-0");
  let faults = "";
  return {
    ec2: echo("ec2"),
    kube: echo("kube"),
    imdsFor: (n) => n === "0" || n === "node-0" ? echo(`imds@${n}`) : undefined,
    store,
    status: () => ({ ok: true }),
    getFaults: () => ({ faults }),
    setFaults: (t) => {
      if (t.includes("bad")) throw new RangeError(`bad fault "${t}"`);
      return { faults: faults = t };
    },
    nodeName: (n) => n === "0" ? "node-0" : undefined,
    setIpamdRunning: (n, running) => Promise.resolve(n === "0" ? { node: "node-0", running } : undefined),
    runPod: (b) => Promise.resolve({ status: 201, body: { ran: b } }),
    endWatches: () => {},
    shutdown: () => {},
  };
}

async function call(h: Handler, method: string, path: string, body?: unknown): Promise<[number, string]> {
  const r = await h(
    new Request(`http://lab${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) }),
    info,
  );
  return [r.status, await r.text()];
}

Deno.test("lab.sock: API prefixes are stripped and the rest of the request kept", async () => {
  const h = controlHandler(deps());
  assert.deepEqual(await call(h, "POST", "/ec2/?x=1", "Action=DescribeInstances"), [
    200,
    'ec2 POST /?x=1 "Action=DescribeInstances"',
  ]);
  assert.deepEqual(await call(h, "GET", "/k8s/api/v1/nodes"), [200, "kube GET /api/v1/nodes "]);
  assert.deepEqual(await call(h, "GET", "/imds/0/latest/meta-data/instance-id"), [
    200,
    "imds@0 GET /latest/meta-data/instance-id ",
  ]);
  assert.equal((await call(h, "GET", "/imds/7/latest/meta-data/"))[0], 404);
  assert.equal((await call(h, "GET", "/nowhere"))[0], 404);
});

Deno.test("lab.sock: faults round-trip, bad text is a 400", async () => {
  const h = controlHandler(deps());
  assert.deepEqual(await call(h, "PUT", "/lab/faults", { faults: "throttle=0.5" }), [
    200,
    '{\n  "faults": "throttle=0.5"\n}\n',
  ]);
  assert.equal(JSON.parse((await call(h, "GET", "/lab/faults"))[1]).faults, "throttle=0.5");
  const [code, body] = await call(h, "PUT", "/lab/faults", { faults: "bad" });
  assert.equal(code, 400);
  assert.match(JSON.parse(body).error, /bad fault/);
});

Deno.test("lab.sock: pods are created on a node, get an IP, and are deleted", async () => {
  const store = new KubeStore();
  const h = controlHandler(deps(store));
  const [c1, b1] = await call(h, "POST", "/lab/pods", { name: "web", node: "0" });
  assert.equal(c1, 201);
  assert.equal(JSON.parse(b1).spec.nodeName, "node-0");
  assert.equal((await call(h, "POST", "/lab/pods", { name: "web", node: "0" }))[0], 409);
  assert.equal((await call(h, "POST", "/lab/pods", { name: "x", node: "9" }))[0], 400);
  assert.equal((await call(h, "PUT", "/lab/pods/default/web/ip", { ip: "10.0.0.9" }))[0], 200);
  assert.equal((store.getPod("default", "web")!.status as { podIP: string }).podIP, "10.0.0.9");
  assert.equal((await call(h, "DELETE", "/lab/pods/default/web"))[0], 200);
  // pods/run hands the body to the daemon's runner and answers with its status and body.
  const [c2, b2] = await call(h, "POST", "/lab/pods/run", { name: "w2", node: 0 });
  assert.equal(c2, 201);
  assert.deepEqual(JSON.parse(b2), { ran: { name: "w2", node: 0 } });
  assert.equal(store.getPod("default", "web"), undefined);
  assert.equal((await call(h, "DELETE", "/lab/pods/default/web"))[0], 404);
});

Deno.test("lab.sock: compaction makes older resourceVersions 410 Gone and can end every watch", async () => {
  const store = new KubeStore();
  let ended = 0;
  const h = controlHandler({ ...deps(store), endWatches: () => ended++ });
  store.addNode("node-a");
  const old = store.resourceVersion;
  store.addNode("node-b");
  const [code, body] = await call(h, "POST", "/lab/k8s/compact", { endWatches: true });
  assert.equal(code, 200);
  assert.equal(JSON.parse(body).compactedResourceVersion, store.resourceVersion);
  assert.equal(ended, 1);
  assert.throws(() => store.watch("nodes", { resourceVersion: old }, () => {}), { code: 410 });
  store.watch("nodes", { resourceVersion: store.resourceVersion }, () => {}).close();
});

Deno.test("routables: a /28 prefix is routed once, addresses outside prefixes one by one", () => {
  const prefix = "10.0.16.32/28";
  const inPrefix = Array.from({ length: 16 }, (_, i) => `10.0.16.${32 + i}`);
  assert.deepEqual(routables(["10.0.0.5", ...inPrefix], [prefix]), [prefix, "10.0.0.5"]);
  assert.deepEqual(routables(["10.0.0.5"], []), ["10.0.0.5"]);
});

Deno.test("lab.sock: a node's ipamd is stopped and started; unknown node 404, bad body 400", async () => {
  const h = controlHandler(deps());
  assert.deepEqual(JSON.parse((await call(h, "PUT", "/lab/nodes/0/ipamd", { running: false }))[1]), {
    node: "node-0",
    running: false,
  });
  assert.equal((await call(h, "PUT", "/lab/nodes/7/ipamd", { running: true }))[0], 404);
  assert.equal((await call(h, "PUT", "/lab/nodes/0/ipamd", { running: "no" }))[0], 400);
});
