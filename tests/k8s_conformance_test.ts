/**
 * Conformance: the lab's Kubernetes API server, served over HTTP on 127.0.0.1, driven by the real
 * `@kubernetes/client-node` and by `ClientNodeKube`.
 */

import { until as pollUntil } from "../harness/poll.ts";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import type { KubeStoreOptions } from "../src/sim/k8s_object_store.ts";
import { KubeStore } from "../src/sim/k8s_store.ts";
import { createKubeHandler, type KubeHandler, type KubeHandlerOptions } from "../src/sim/k8s_server.ts";
import { writeKubeconfig } from "../src/sim/kubeconfig.ts";
import { ClientNodeKube, type ClientNodeKubeOptions } from "../src/k8s/client.ts";
import { waitForApiServer } from "../src/k8s/api_server_wait.ts";
import { KubeApiError, KubeUnreachableError, type NodeInfo, type PodEvent } from "../src/k8s/port.ts";

interface Lab {
  store: KubeStore;
  handler: KubeHandler;
  server: Deno.HttpServer<Deno.NetAddr>;
  url: string;
  kubeconfig: string;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  kube: ClientNodeKube;
}

async function withLab(
  fn: (lab: Lab) => Promise<void>,
  o: {
    store?: KubeStoreOptions;
    handler?: KubeHandlerOptions;
    client?: ClientNodeKubeOptions;
    port?: number;
  } = {},
): Promise<void> {
  const store = new KubeStore(o.store);
  const handler = createKubeHandler(store, o.handler);
  const server = Deno.serve({ hostname: "127.0.0.1", port: o.port ?? 0, onListen() {} }, handler);
  const dir = await Deno.makeTempDir({ prefix: "k8s-conf-" });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const kubeconfig = `${dir}/kubeconfig`;
    await writeKubeconfig(kubeconfig, { server: url, token: "any-token" });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    await fn({
      store,
      handler,
      server,
      url,
      kubeconfig,
      kc,
      core: kc.makeApiClient(k8s.CoreV1Api),
      custom: kc.makeApiClient(k8s.CustomObjectsApi),
      kube: await ClientNodeKube.fromKubeconfig(kubeconfig, {
        minBackoffMs: 50,
        maxBackoffMs: 500,
        ...o.client,
      }),
    });
  } finally {
    handler.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A port nothing listens on (bound, then released). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Polls `cond` every 10 ms until it holds (generous deadline for a loaded machine). */
const until = (what: string, cond: () => boolean) => pollUntil(what, cond, 60_000, 10);

/** Runs a client-node Watch, collecting events, until `stop()`; `ended` resolves with done's error. */
async function collectWatch(kc: k8s.KubeConfig, path: string, params: Record<string, string>) {
  const events: { type: string; object: k8s.KubernetesObject & { code?: number; reason?: string } }[] = [];
  let resolveEnded!: (e: unknown) => void;
  let isEnded = false;
  const ended = new Promise<unknown>((r) => (resolveEnded = r)).finally(() => (isEnded = true));
  const ctl = await new k8s.Watch(kc).watch(
    path,
    params,
    (type, object) => events.push({ type, object }),
    (err) => resolveEnded(err),
  );
  return {
    events,
    ended,
    isEnded: () => isEnded,
    async stop() {
      ctl.abort();
      await ended;
    },
  };
}

function podBody(name: string, nodeName: string, labels: Record<string, string> = {}): k8s.V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: { nodeName, containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
  };
}

Deno.test("conformance: /version through client-node and ClientNodeKube", async () => {
  await withLab(async ({ kc, kube }) => {
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.match(v.gitVersion, /^v1\.\d+\.\d+/);
    assert.equal(v.major, "1");
    assert.deepEqual(await kube.version(), { gitVersion: v.gitVersion });
  });
});

Deno.test("conformance: readNode/listNode and ClientNodeKube.getNode", async () => {
  await withLab(async ({ store, core, kube }) => {
    store.addNode("ip-10-0-0-10", {
      labels: { "topology.kubernetes.io/zone": "us-west-2a" },
      annotations: { "k8s.amazonaws.com/eniConfig": "az1" },
      providerID: "aws:///us-west-2a/i-0123456789abcdef0",
      internalIP: "10.0.0.10",
    });
    store.addNode("ip-10-0-0-11");
    const n = await core.readNode({ name: "ip-10-0-0-10" });
    assert.equal(n.metadata?.name, "ip-10-0-0-10");
    assert.equal(n.spec?.providerID, "aws:///us-west-2a/i-0123456789abcdef0");
    assert.ok(n.metadata?.creationTimestamp instanceof Date);
    assert.equal(n.status?.conditions?.[0].type, "Ready");
    assert.equal(n.status?.addresses?.[0].address, "10.0.0.10");
    const list = await core.listNode();
    assert.deepEqual(list.items.map((i) => i.metadata?.name), ["ip-10-0-0-10", "ip-10-0-0-11"]);
    assert.equal(list.metadata?.resourceVersion, store.resourceVersion);
    const byLabel = await core.listNode({ labelSelector: "topology.kubernetes.io/zone=us-west-2a" });
    assert.deepEqual(byLabel.items.map((i) => i.metadata?.name), ["ip-10-0-0-10"]);

    const info = await kube.getNode("ip-10-0-0-10");
    assert.equal(info.name, "ip-10-0-0-10");
    assert.equal(info.providerId, "aws:///us-west-2a/i-0123456789abcdef0");
    assert.equal(info.labels["topology.kubernetes.io/zone"], "us-west-2a");
    assert.equal(info.annotations["k8s.amazonaws.com/eniConfig"], "az1");
    await assert.rejects(kube.getNode("nope"), (e) => e instanceof KubeApiError && e.code === 404);
  });
});

Deno.test("conformance: node patch with merge-patch content type via client-node", async () => {
  await withLab(async ({ store, core }) => {
    store.addNode("n1", { labels: { a: "1" } });
    const out = await core.patchNode(
      { name: "n1", body: { metadata: { labels: { b: "2", a: null } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    assert.equal(out.metadata?.labels?.b, "2");
    assert.equal(out.metadata?.labels?.a, undefined);
    // client-node's default patch type is JSON patch.
    const jp = await core.patchNode({
      name: "n1",
      body: [{ op: "add", path: "/metadata/annotations/x", value: "y" }],
    });
    assert.equal(jp.metadata?.annotations?.x, "y");
    assert.equal(store.getNode("n1")!.metadata.annotations!.x, "y");
  });
});

Deno.test("conformance: pods create/list (fieldSelector)/get/delete; status patch; ClientNodeKube.listPodsOnNode", async () => {
  await withLab(async ({ store, core, kube }) => {
    const created = await core.createNamespacedPod({ namespace: "default", body: podBody("web-1", "n1") });
    assert.equal(created.metadata?.namespace, "default");
    assert.ok(created.metadata?.uid);
    await core.createNamespacedPod({ namespace: "default", body: podBody("web-2", "n2") });
    await core.createNamespacedPod({ namespace: "kube-system", body: podBody("dns", "n1") });

    const onN1 = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=n1" });
    assert.deepEqual(onN1.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort(), [
      "default/web-1",
      "kube-system/dns",
    ]);
    const nsOnly = await core.listNamespacedPod({ namespace: "default", fieldSelector: "spec.nodeName=n1" });
    assert.deepEqual(nsOnly.items.map((p) => p.metadata?.name), ["web-1"]);
    const byName = await core.listPodForAllNamespaces({ fieldSelector: "metadata.name=web-2" });
    assert.deepEqual(byName.items.map((p) => p.spec?.nodeName), ["n2"]);
    const paged = await core.listPodForAllNamespaces({ limit: 2 });
    assert.equal(paged.items.length, 2);
    const page2 = await core.listPodForAllNamespaces({ limit: 2, _continue: paged.metadata?._continue });
    assert.equal(page2.items.length, 1);

    const got = await core.readNamespacedPod({ namespace: "default", name: "web-1" });
    assert.equal(got.spec?.nodeName, "n1");

    const patched = await core.patchNamespacedPodStatus(
      { namespace: "default", name: "web-1", body: { status: { podIP: "10.0.0.20", phase: "Running" } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
    );
    assert.equal(patched.status?.podIP, "10.0.0.20");
    const replaced = await core.replaceNamespacedPodStatus({
      namespace: "default",
      name: "web-1",
      body: { ...patched, status: { ...patched.status, podIP: "10.0.0.21", podIPs: [{ ip: "10.0.0.21" }] } },
    });
    assert.equal(replaced.status?.podIP, "10.0.0.21");

    const pods = await kube.listPodsOnNode("n1");
    assert.deepEqual(
      pods.map((p) => [p.namespace, p.name, p.nodeName, p.podIp ?? "", p.deleting]).sort(),
      [["default", "web-1", "n1", "10.0.0.21", false], ["kube-system", "dns", "n1", "", false]],
    );
    assert.equal(pods.find((p) => p.name === "web-1")!.uid, created.metadata?.uid);

    const deleted = await core.deleteNamespacedPod({ namespace: "default", name: "web-1" });
    assert.equal(deleted.metadata?.name, "web-1");
    assert.equal(store.getPod("default", "web-1"), undefined);
    assert.deepEqual((await kube.listPodsOnNode("n1")).map((p) => p.name), ["dns"]);
  });
});

Deno.test("conformance: 404 NotFound and 409 AlreadyExists arrive as Status objects", async () => {
  await withLab(async ({ core }) => {
    const notFound = await core.readNamespacedPod({ namespace: "default", name: "ghost" }).then(
      () => assert.fail("expected 404"),
      (e) => e,
    );
    assert.ok(notFound instanceof k8s.ApiException);
    assert.equal(notFound.code, 404);
    const s404 = typeof notFound.body === "string" ? JSON.parse(notFound.body) : notFound.body;
    assert.equal(s404.kind, "Status");
    assert.equal(s404.reason, "NotFound");
    assert.equal(s404.code, 404);
    assert.equal(s404.details.name, "ghost");

    await core.createNamespacedPod({ namespace: "default", body: podBody("dup", "n1") });
    const conflict = await core.createNamespacedPod({ namespace: "default", body: podBody("dup", "n1") })
      .then(
        () => assert.fail("expected 409"),
        (e) => e,
      );
    assert.equal(conflict.code, 409);
    const s409 = typeof conflict.body === "string" ? JSON.parse(conflict.body) : conflict.body;
    assert.equal(s409.reason, "AlreadyExists");
    assert.equal(s409.status, "Failure");

    const invalid = await core.createNamespacedPod({
      namespace: "default",
      body: { metadata: { name: "nocontainers" }, spec: { containers: [] } },
    }).then(() => assert.fail("expected 422"), (e) => e);
    assert.equal(invalid.code, 422);
  });
});

Deno.test("conformance: a watch sees ADDED, MODIFIED, DELETED in order with increasing resourceVersions", async () => {
  await withLab(async ({ store, kc, core }) => {
    const rv = (await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=n1" })).metadata!
      .resourceVersion!;
    const w = await collectWatch(kc, "/api/v1/pods", {
      fieldSelector: "spec.nodeName=n1",
      resourceVersion: rv,
    });
    try {
      await core.createNamespacedPod({ namespace: "default", body: podBody("other", "n2") });
      await core.createNamespacedPod({ namespace: "default", body: podBody("p", "n1") });
      store.setPodIp("default", "p", "10.0.0.30");
      await core.deleteNamespacedPod({ namespace: "default", name: "p" });
      await until("3 events", () => w.events.length >= 3);
      assert.deepEqual(w.events.map((e) => `${e.type}:${e.object.metadata?.name}`), [
        "ADDED:p",
        "MODIFIED:p",
        "DELETED:p",
      ]);
      const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
      assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `increasing resourceVersions: ${rvs}`);
      assert.equal((w.events[1].object as k8s.V1Pod).status?.podIP, "10.0.0.30");
    } finally {
      await w.stop();
    }
    await until("server watch closed", () => store.watcherCount() === 0);
  });
});

Deno.test("conformance: a watch resumed from a resourceVersion replays the events it missed", async () => {
  await withLab(async ({ store, kc }) => {
    store.createPod({ namespace: "default", name: "a", nodeName: "n1" });
    const mark = store.resourceVersion;
    store.setPodIp("default", "a", "10.0.0.40");
    store.createPod({ namespace: "default", name: "b", nodeName: "n1" });
    store.deletePod("default", "a");
    const w = await collectWatch(kc, "/api/v1/namespaces/default/pods", { resourceVersion: mark });
    try {
      await until("3 replayed events", () => w.events.length >= 3);
      assert.deepEqual(w.events.map((e) => `${e.type}:${e.object.metadata?.name}`), [
        "MODIFIED:a",
        "ADDED:b",
        "DELETED:a",
      ]);
    } finally {
      await w.stop();
    }
  });
});

Deno.test("conformance: a too-old resourceVersion yields a 410 Expired ERROR event", async () => {
  await withLab(async ({ store, kc }) => {
    for (let i = 0; i < 6; i++) store.createPod({ namespace: "default", name: `p${i}`, nodeName: "n1" });
    const w = await collectWatch(kc, "/api/v1/pods", { resourceVersion: "1" });
    try {
      await until("the server to end the stream", w.isEnded);
    } finally {
      await w.stop();
    }
    assert.equal(await w.ended, null, "the server ends the stream cleanly");
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0].type, "ERROR");
    assert.equal(w.events[0].object.kind, "Status");
    assert.equal(w.events[0].object.code, 410);
    assert.equal(w.events[0].object.reason, "Expired");
  }, { store: { historyLimit: 3 } });
});

Deno.test("conformance: watchPodsOnNode lists (RESYNC), streams, reconnects without loss, and re-lists on 410", async () => {
  await withLab(async ({ store, handler, kube }) => {
    store.createPod({ namespace: "default", name: "pre", nodeName: "n1" });
    store.createPod({ namespace: "default", name: "elsewhere", nodeName: "n2" });
    const events: PodEvent[] = [];
    const ac = new AbortController();
    const done = kube.watchPodsOnNode("n1", (e) => events.push(e), ac.signal);
    try {
      await until("initial RESYNC", () => events.length >= 1);
      assert.equal(events[0].type, "RESYNC");
      assert.deepEqual(events[0].type === "RESYNC" && events[0].pods.map((p) => p.name), ["pre"]);
      await until("server watch open", () => handler.activeWatches === 1);

      store.createPod({ namespace: "default", name: "new", nodeName: "n1" });
      store.createPod({ namespace: "default", name: "n2pod", nodeName: "n2" });
      store.setPodIp("default", "new", "10.0.0.50");
      store.deletePod("default", "new", { graceful: true });
      await until("3 live events", () => events.length >= 4);
      assert.deepEqual(
        events.slice(1).map((e) => e.type === "RESYNC" ? "RESYNC" : `${e.type}:${e.pod.name}`),
        [
          "ADDED:new",
          "MODIFIED:new",
          "MODIFIED:new",
        ],
      );
      const last = events[3];
      assert.ok(last.type === "MODIFIED" && last.pod.deleting && last.pod.podIp === "10.0.0.50");

      // The server ends every watch: the adapter resumes from its resourceVersion, losing nothing.
      handler.close();
      store.deletePod("default", "new");
      await until("DELETED after reconnect", () => events.length >= 5);
      assert.equal(events[4].type, "DELETED");
      await until("watch reopened", () => handler.activeWatches === 1);

      // History churn (other collections) compacts the adapter's resourceVersion; on reconnect it gets
      // 410 and re-lists.
      for (let i = 0; i < 10; i++) store.putEniConfig(`churn${i}`, { subnet: "subnet-x" });
      store.createPod({ namespace: "kube-system", name: "late", nodeName: "n1" });
      await until("ADDED late", () => events.length >= 6);
      for (let i = 0; i < 10; i++) store.deleteEniConfig(`churn${i}`);
      handler.close();
      await until("RESYNC after 410", () => events.length >= 7);
      const resync = events[6];
      assert.equal(resync.type, "RESYNC");
      assert.deepEqual(
        resync.type === "RESYNC" && resync.pods.map((p) => `${p.namespace}/${p.name}`).sort(),
        ["default/pre", "kube-system/late"],
      );
      await until("watch reopened after resync", () => handler.activeWatches === 1);
    } finally {
      ac.abort();
      await done;
    }
    await until("server watch closed", () => handler.activeWatches === 0);
  }, { store: { historyLimit: 5 } });
});

Deno.test("conformance: watchPodsOnNode follows BOOKMARKs, so churn elsewhere causes no 410 re-list", async () => {
  await withLab(async ({ store, handler, kube }) => {
    store.createPod({ namespace: "default", name: "elsewhere", nodeName: "n2" }); // list resourceVersion > 0
    const events: PodEvent[] = [];
    const ac = new AbortController();
    const done = kube.watchPodsOnNode("n1", (e) => events.push(e), ac.signal);
    try {
      await until("watch open", () => events.length === 1 && handler.activeWatches === 1);
      for (let i = 0; i < 10; i++) store.putEniConfig(`churn${i}`, { subnet: "subnet-x" });
      // A bookmark sent after the churn carries its resourceVersion; the stream delivers it before it ends.
      const sent = handler.bookmarksSent;
      await until("a bookmark after the churn", () => handler.bookmarksSent > sent);
      handler.close();
      await until("watch reopened", () => handler.activeWatches === 1);
      store.createPod({ namespace: "default", name: "p", nodeName: "n1" });
      await until("ADDED", () => events.length >= 2);
      assert.deepEqual(events.map((e) => e.type), ["RESYNC", "ADDED"]);
    } finally {
      ac.abort();
      await done;
    }
  }, { store: { historyLimit: 5 }, handler: { bookmarkIntervalMs: 30 } });
});

Deno.test("conformance: ENIConfig CRUD via CustomObjectsApi; ClientNodeKube.getEniConfig", async () => {
  await withLab(async ({ custom, kube, store }) => {
    const g = { group: "crd.k8s.amazonaws.com", version: "v1alpha1", plural: "eniconfigs" };
    const body = {
      apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
      kind: "ENIConfig",
      metadata: { name: "us-west-2a" },
      spec: { subnet: "subnet-0aa", securityGroups: ["sg-1", "sg-2"] },
    };
    const created = await custom.createClusterCustomObject({ ...g, body });
    assert.equal(created.metadata.name, "us-west-2a");
    assert.ok(created.metadata.resourceVersion);
    assert.deepEqual(await kube.getEniConfig("us-west-2a"), {
      name: "us-west-2a",
      subnet: "subnet-0aa",
      securityGroups: ["sg-1", "sg-2"],
    });
    const got = await custom.getClusterCustomObject({ ...g, name: "us-west-2a" });
    got.spec.subnet = "subnet-0bb";
    const replaced = await custom.replaceClusterCustomObject({ ...g, name: "us-west-2a", body: got });
    assert.equal(replaced.spec.subnet, "subnet-0bb");
    const stale = await custom.replaceClusterCustomObject({ ...g, name: "us-west-2a", body: got }).then(
      () => assert.fail("expected 409"),
      (e) => e,
    );
    assert.equal(stale.code, 409);
    const list = await custom.listClusterCustomObject(g);
    assert.equal(list.kind, "ENIConfigList");
    assert.deepEqual(list.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["us-west-2a"]);
    const dup = await custom.createClusterCustomObject({ ...g, body }).then(
      () => assert.fail("409"),
      (e) => e,
    );
    assert.equal(dup.code, 409);
    await custom.deleteClusterCustomObject({ ...g, name: "us-west-2a" });
    assert.equal(store.getEniConfig("us-west-2a"), undefined);
    assert.equal(await kube.getEniConfig("us-west-2a"), undefined);
    const gone = await custom.getClusterCustomObject({ ...g, name: "us-west-2a" }).then(
      () => assert.fail(),
      (e) => e,
    );
    assert.equal(gone.code, 404);
  });
});

Deno.test("conformance: watchNode delivers the current node, then label/annotation changes only", async () => {
  await withLab(async ({ store, handler, core, kube }) => {
    store.addNode("n1", { labels: { a: "1" } });
    const seen: NodeInfo[] = [];
    const ac = new AbortController();
    const done = kube.watchNode("n1", (n) => seen.push(n), ac.signal);
    try {
      await until("initial node", () => seen.length === 1);
      assert.equal(seen[0].labels.a, "1");
      await until("watch open", () => handler.activeWatches === 1);
      store.addNode("n2", { labels: { a: "other" } }); // another node: ignored
      store.patch("nodes", undefined, "n1", (n) => ({ ...n, status: { phase: "changed" } }), {
        subresource: "status",
      }); // status only: not a change the port reports
      await core.patchNode(
        { name: "n1", body: { metadata: { labels: { "k8s.amazonaws.com/eniConfig": "az2" } } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      await until("label change", () => seen.length === 2);
      assert.equal(seen[1].labels["k8s.amazonaws.com/eniConfig"], "az2");
      store.patchNode("n1", { annotations: { note: "x" } });
      await until("annotation change", () => seen.length === 3);
      assert.equal(seen[2].annotations.note, "x");
      assert.equal(seen.length, 3);
    } finally {
      ac.abort();
      await done;
    }
  });
});

Deno.test("conformance: recordEvent posts a core/v1 Event about the node", async () => {
  await withLab(async ({ store, kube }) => {
    await kube.recordEvent({
      nodeName: "n1",
      reason: "EniAttached",
      message: "eni-1 attached",
      type: "Normal",
    });
    const evs = store.listEvents({ involvedName: "n1" });
    assert.equal(evs.length, 1);
    assert.equal(evs[0].reason, "EniAttached");
    assert.equal(evs[0].message, "eni-1 attached");
    assert.equal(evs[0].type, "Normal");
    assert.equal((evs[0].involvedObject as { kind: string }).kind, "Node");
  });
});

Deno.test("conformance: unreachable API server gives KubeUnreachableError, bounded; watch backs off", async () => {
  const port = closedPort();
  const dir = await Deno.makeTempDir({ prefix: "k8s-conf-" });
  try {
    const path = `${dir}/kubeconfig`;
    await writeKubeconfig(path, { server: `http://127.0.0.1:${port}` });
    const logs: string[] = [];
    const kube = await ClientNodeKube.fromKubeconfig(path, {
      minBackoffMs: 100,
      maxBackoffMs: 400,
      log: (m) => logs.push(m),
    });
    await assert.rejects(kube.version(), KubeUnreachableError);
    await assert.rejects(kube.getNode("n1"), KubeUnreachableError);
    await assert.rejects(kube.listPodsOnNode("n1"), KubeUnreachableError);
    const t0 = Date.now();
    await assert.rejects(waitForApiServer(kube, { timeoutMs: 700, minDelayMs: 50 }), (e) => {
      assert.ok(e instanceof KubeUnreachableError);
      assert.match(e.message, /127\.0\.0\.1/);
      return true;
    });
    const took = Date.now() - t0;
    // At least the timeout; the upper bound only says "bounded" (generous for a loaded machine).
    assert.ok(took >= 600 && took < 30_000, `bounded wait, took ${took} ms`);

    // No busy loop: 100 ms doubling to 400 ms, jittered down to half, allows one attempt per 50 ms at most.
    const ac = new AbortController();
    const attempts = () => logs.filter((l) => l.startsWith("pod watch on n1 failed")).length;
    const t1 = performance.now();
    const done = kube.watchPodsOnNode("n1", () => {}, ac.signal);
    await until("three failed watch attempts", () => attempts() >= 3);
    ac.abort();
    await done;
    const bound = 2 + Math.ceil((performance.now() - t1) / 50);
    assert.ok(attempts() <= bound, `attempts=${attempts()} > ${bound}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance: waitForApiServer succeeds once a late server starts", async () => {
  const port = closedPort();
  const dir = await Deno.makeTempDir({ prefix: "k8s-conf-" });
  let lab: Promise<void> | undefined;
  try {
    const path = `${dir}/kubeconfig`;
    await writeKubeconfig(path, { server: `http://127.0.0.1:${port}` });
    const kube = await ClientNodeKube.fromKubeconfig(path);
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const timer = setTimeout(() => {
      lab = withLab(() => hold, { port });
    }, 300);
    try {
      const v = await waitForApiServer(kube, { timeoutMs: 60_000, minDelayMs: 50, maxDelayMs: 200 });
      assert.match(v.gitVersion, /^v1\./);
    } finally {
      clearTimeout(timer);
      release();
    }
  } finally {
    await lab;
    await Deno.remove(dir, { recursive: true });
  }
});

function findKubectl(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(`${dir}/kubectl`).isFile) return `${dir}/kubectl`;
    } catch {
      // not here
    }
  }
  return undefined;
}
const kubectl = findKubectl();

Deno.test({
  name:
    "conformance: kubectl reads, labels and deletes through the written kubeconfig (skipped without kubectl)",
  ignore: kubectl === undefined,
  async fn() {
    await withLab(async ({ store, kubeconfig }) => {
      const cacheDir = await Deno.makeTempDir({ prefix: "kubectl-cache-" });
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(kubectl!, {
          args: [`--kubeconfig=${kubeconfig}`, `--cache-dir=${cacheDir}`, ...args],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        assert.ok(out.success, `kubectl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
        return text;
      };
      try {
        store.addNode("n1", { internalIP: "10.0.0.10" });
        store.createPod({ namespace: "default", name: "web", nodeName: "n1" });
        store.setPodIp("default", "web", "10.0.0.77");
        store.putEniConfig("az1", { subnet: "subnet-0abc", securityGroups: ["sg-1"] });
        const pods = await run("get", "pods", "-A", "-o", "wide");
        assert.match(pods, /web\s+Running\s+\S+\s+10\.0\.0\.77\s+n1/);
        assert.match(await run("get", "nodes"), /n1\s+Ready/);
        assert.match(await run("get", "eniconfigs"), /az1\s+subnet-0abc/);
        await run("label", "node", "n1", "k8s.amazonaws.com/eniConfig=az1");
        assert.equal(store.getNode("n1")!.metadata.labels!["k8s.amazonaws.com/eniConfig"], "az1");
        const json = JSON.parse(await run("get", "pod", "web", "-o", "json"));
        assert.equal(json.status.podIP, "10.0.0.77");
        await run("delete", "pod", "web");
        assert.equal(store.getPod("default", "web"), undefined);
      } finally {
        await Deno.remove(cacheDir, { recursive: true });
      }
    });
  },
});
