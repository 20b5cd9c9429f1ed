/**
 * client-go (v0.35.x, tests/clients/client_go/) against the lab's Kubernetes API, from inside a lab node, as
 * a node agent uses it: a pod informer for its node (watch-list on and off), the node get, an ENIConfig
 * through the dynamic client, a 410 Gone and the relist after it, bookmarks, and protobuf/CBOR bodies.
 */
import assert from "node:assert/strict";
import { type TestLab, withLab } from "../helpers/lab.ts";
import { rootOnly } from "../helpers/root.ts";
import { type Line, runClientGo } from "./client_go.ts";

function env(lab: TestLab, gates: Record<string, boolean> = {}): Record<string, string> {
  const out: Record<string, string> = { KUBECONFIG: lab.status.kubeconfig };
  for (const [gate, on] of Object.entries(gates)) out[`KUBE_FEATURE_${gate}`] = String(on);
  return out;
}

/** Runs a scenario that needs no go-ahead and returns its result line. */
async function result(lab: TestLab, scenario: string, gates: Record<string, boolean> = {}): Promise<Line> {
  const run = await runClientGo(lab.status.nodes[0].netns, scenario, ["--node", "node-0"], env(lab, gates));
  const { code, stderr, lines } = await run.done();
  const last = lines.at(-1);
  assert.equal(
    code,
    0,
    `${scenario}: exit ${code}\n${JSON.stringify(lines, null, 1)}\n${stderr.slice(-3000)}`,
  );
  assert.ok(last?.result, `${scenario}: no result line`);
  return last.result;
}

/** The informer scenario; on each "compact-now" the lab compacts its history and ends every watch. */
async function informer(lab: TestLab, watchList: boolean): Promise<{ synced: Line; result: Line }> {
  const ns = watchList ? "watchlist-on" : "watchlist-off";
  const run = await runClientGo(
    lab.status.nodes[0].netns,
    "informer",
    ["--node", "node-0", "--other-node", "node-1", "--namespace", ns],
    env(lab, { WatchListClient: watchList }),
  );
  let synced: Line | undefined;
  for (let line = await run.next(); line; line = await run.next()) {
    if (line.step === "synced") synced = line;
    if (line.step === "compact-now") {
      const r = await lab.fetch("/lab/k8s/compact", {
        method: "POST",
        body: JSON.stringify({ endWatches: true }),
      });
      assert.equal(r.status, 200, await r.text());
      await run.send("done");
    }
    if (line.result || line.error) break;
  }
  const { code, stderr, lines } = await run.done();
  const dump = `${JSON.stringify(lines, null, 1)}\n${stderr.slice(-3000)}`;
  assert.equal(code, 0, `informer (watch-list ${watchList}): exit ${code}\n${dump}`);
  return { synced: synced!, result: lines.find((l) => l.result)!.result };
}

function checkInformer(watchList: boolean, { synced, result }: { synced: Line; result: Line }): void {
  const podRequests = (synced.requests as string[]).filter((r) => r.includes("/pods"));
  const watchLists = podRequests.filter((r) => r.includes("sendInitialEvents=true"));
  const lists = podRequests.filter((r) => !r.includes("watch=true"));
  if (watchList) {
    assert.equal(watchLists.length, 1, `one watch-list request: ${podRequests}`);
    assert.match(watchLists[0], /resourceVersionMatch=NotOlderThan/);
    assert.match(watchLists[0], /allowWatchBookmarks=true/);
    assert.match(watchLists[0], /fieldSelector=spec\.nodeName%3Dnode-0/);
    assert.equal(lists.length, 0, `no LIST when watch-list is on: ${podRequests}`);
  } else {
    assert.equal(watchLists.length, 0, `no watch-list when off: ${podRequests}`);
    assert.equal(lists.length, 1, `one LIST: ${podRequests}`);
  }
  assert.deepEqual(synced.pods, []);
  // Only this node's pods; mine-a came and went; the relist after the 410 kept the informer whole.
  assert.deepEqual(result.pods, ["mine-after-" + result.relist.round, "mine-c"].sort());
  assert.ok(!(result.events as string[]).some((e) => e.includes("theirs")), `${result.events}`);
  assert.ok((result.events as string[]).includes("DELETED mine-a"), `${result.events}`);
  if (watchList) assert.match(result.relist.relist, /sendInitialEvents=true/);
  else assert.doesNotMatch(result.relist.relist, /watch=true/);
  assert.match(result.relist.rewatch, /watch=true/);
  assert.equal(result.bookmark.type, "BOOKMARK", JSON.stringify(result.bookmark));
  assert.equal(result.bookmark.node, true, "the bookmark decodes as a Node");
  assert.ok(Number(result.bookmark.resourceVersion) >= Number(result.bookmark.listResourceVersion));
}

Deno.test({
  name:
    "client-go v0.35: informers (watch-list on/off), 410 relist, bookmarks, node, ENIConfig, protobuf, CBOR",
  ...rootOnly,
}, async (t) => {
  await withLab({ nodes: 2, instanceType: "m5.large", ipamd: false }, async (lab) => {
    await t.step("pod informer with watch-list (WatchListClient=true)", async () => {
      checkInformer(true, await informer(lab, true));
    });
    await t.step("pod informer with LIST + WATCH (WatchListClient=false)", async () => {
      checkInformer(false, await informer(lab, false));
    });
    await t.step("node get: capacity and allocatable pods are max-pods", async () => {
      const n = await result(lab, "node");
      assert.equal(n.capacityPods, 29, "m5.large: 3 ENIs x (10 - 1) + 2");
      assert.equal(n.allocatablePods, 29);
      assert.equal(n.capacityCpu, "2");
      assert.equal(n.allocatableCpu, "1930m");
      assert.equal(n.addresses.InternalIP, lab.status.nodes[0].primaryIp);
      assert.match(n.providerID, /^aws:\/\/\/us-west-2a\/i-[0-9a-f]+$/);
      assert.equal(n.ready, true);
    });
    await t.step("ENIConfig through the dynamic client", async () => {
      const r = await result(lab, "eniconfig");
      assert.equal(r.createdKind, "ENIConfig");
      assert.equal(r.createdApiVersion, "crd.k8s.amazonaws.com/v1alpha1");
      assert.equal(r.subnet, "subnet-0123456789abcdef0");
      assert.deepEqual(r.patchedGroups, ["sg-1", "sg-2"]);
      assert.equal(r.listKind, "ENIConfigList");
      assert.equal(r.listed, 1);
      assert.equal(r.getAfterDeleteCode, 404);
    });
    await t.step(
      "typed clients send protobuf (client-go's default): the lab decodes it; reads work",
      async () => {
        const r = await result(lab, "protobuf");
        assert.equal(r.firstError, "", JSON.stringify(r));
        assert.equal(r.secondError, "", JSON.stringify(r));
        assert.equal(r.getNode, "node-0");
        const posts = (r.requests as string[]).filter((l) => l.startsWith("POST "));
        assert.equal(posts.length, 2);
        assert.ok(
          posts.every((l) => l.endsWith("application/vnd.kubernetes.protobuf")),
          `client-go's default: ${posts}`,
        );
        const events = await (await lab.fetch(
          "/k8s/api/v1/namespaces/default/events?fieldSelector=reason%3DClientGoConformance",
        )).json();
        assert.deepEqual(events.items.map((e: Line) => e.metadata.name).sort(), ["protobuf-1", "protobuf-2"]);
      },
    );
    await t.step(
      "CBOR bodies (dynamic client, ClientsPreferCBOR): 415, then client-go falls back to JSON",
      async () => {
        const r = await result(lab, "cbor", { ClientsAllowCBOR: true, ClientsPreferCBOR: true });
        assert.equal(r.firstCode, 415, JSON.stringify(r));
        assert.equal(r.secondError, "", JSON.stringify(r));
        const posts = (r.requests as string[]).filter((l) => l.startsWith("POST "));
        assert.match(posts[0], /application\/cbor$/);
        assert.match(posts.at(-1)!, /application\/json$/);
      },
    );
  });
});
