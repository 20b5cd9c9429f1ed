/**
 * The ipamd issue's "done when", end to end through real pods: a lab of two m5.large nodes with realistic
 * EC2 latency, pods added and deleted by the real aws-cni through each node's conflist (`lab pod add|del`'s
 * code), and ipamd observed the way an operator would: introspection (:61679) and Prometheus metrics
 * (:61678) fetched with curl inside the node's namespace, EC2 through the lab's `/ec2/`.
 */
import { flattenEnis } from "../src/ipamd/introspection.ts";
import assert from "node:assert/strict";
import { labStatus, type TestLab, withLab } from "./helpers/lab.ts";
import { rootOnly } from "./helpers/root.ts";
import { podAdd, podDel } from "../src/sim/runtime_pod.ts";
import { listPodRecords, type PodRecord } from "../src/sim/lab_state.ts";
import { describeEnis, ipamdCall, settle, waitIpamdReady } from "./reliability/invariants.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type EnisView = ReturnType<typeof flattenEnis>;

/** GET on node i's loopback (introspection or metrics), with curl inside the node namespace. */
async function curlNode(lab: TestLab, node: number, url: string): Promise<string> {
  const r = await lab.inNode(node, ["curl", "-sS", "--max-time", "5", url]);
  if (r.code !== 0) throw new Error(`curl ${url} on node ${node}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Node i's introspection `/v1/enis` (upstream's shape), flattened. */
const enisOf = async (lab: TestLab, node: number): Promise<EnisView> =>
  flattenEnis(JSON.parse(await curlNode(lab, node, "http://127.0.0.1:61679/v1/enis")));

/** The unlabelled `awscni_*` gauges and counters of node i's `/metrics`. */
async function metricsOf(lab: TestLab, node: number): Promise<Record<string, number>> {
  const text = await curlNode(lab, node, "http://127.0.0.1:61678/metrics");
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(awscni_[a-z_]+) (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** Polls fn until it returns a value (not undefined) or timeoutMs passes; the error names the last state. */
async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = "";
  while (true) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > end) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what} ${last}`);
    await sleep(everyMs);
  }
}

/** Pool shape through introspection: ENIs, total, assigned. */
const shape = (v: EnisView) => ({
  enis: Object.keys(v.enis).length,
  total: v.totalIPs,
  assigned: v.assignedIPs,
});

/** Runs fn over items, at most `n` at a time. */
async function pooled<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

async function ping(lab: TestLab, from: PodRecord, to: PodRecord): Promise<void> {
  const r = await lab.inNetns(from.netns, ["busybox", "ping", "-c1", "-W3", to.podIp!]);
  assert.equal(
    r.code,
    0,
    `ping ${from.name} (${from.podIp}, node ${from.node}) -> ${to.name} (${to.podIp}, node ${to.node}): ` +
      r.stdout + r.stderr,
  );
}

Deno.test({
  name: "ipamd e2e: 2×m5.large, realistic latency: warm 2 ENIs/18 IPs, 25 pods grow to 3 ENIs, " +
    "secondary-ENI pods reach pods on the other node and the primary ENI, delete shrinks back to 2, no leak",
  ...rootOnly,
}, async () => {
  await withLab({ nodes: 2, instanceType: "m5.large", latency: "realistic" }, async (lab) => {
    const { names } = lab;
    const nodes = lab.status.nodes.map((n, index) => ({ index, instanceId: n.instanceId }));
    await waitIpamdReady(names, 0, 90_000);
    await waitIpamdReady(names, 1, 90_000);

    // Warm pool: WARM_ENI_TARGET=1 on m5.large (3 ENIs × 10 IPv4, 9 usable each) → 2 ENIs, 18 IPs.
    const warm = await until("2 ENIs / 18 IPs on node 0", async () => {
      const v = await enisOf(lab, 0);
      return v.totalIPs === 18 && Object.keys(v.enis).length === 2 ? v : undefined;
    }, 60_000);
    assert.deepEqual(shape(warm), { enis: 2, total: 18, assigned: 0 });
    assert.deepEqual(Object.values(warm.enis).map((e) => e.deviceNumber).sort(), [0, 1]);
    for (const e of Object.values(warm.enis)) {
      assert.equal(e.ips.length, 9, `${e.id} holds 9 secondary IPs`);
    }
    const m0 = await until("metrics: 2 ENIs, 18 IPs", async () => {
      const m = await metricsOf(lab, 0);
      return m.awscni_eni_allocated === 2 && m.awscni_total_ip_addresses === 18 ? m : undefined;
    }, 30_000);
    assert.equal(m0.awscni_assigned_ip_addresses, 0);
    assert.equal(m0.awscni_eni_max, 3);

    // 25 pods on node 0 through aws-cni (m5.large: max-pods 29), 5 at a time; one pod on node 1.
    const t0 = performance.now();
    const recs = await pooled(
      Array.from({ length: 25 }, (_, i) => `a${i}`),
      5,
      (name) => podAdd(names, name, { node: 0 }),
    );
    const addS = (performance.now() - t0) / 1000;
    const remote = await podAdd(names, "b0", { node: 1 });
    assert.ok(remote.podIp);
    const ips = recs.map((r) => r.podIp);
    assert.ok(ips.every((ip) => ip), "every pod got an IP");
    assert.equal(new Set(ips).size, 25, "25 distinct IPs");

    const grown = await until("3 ENIs / 25 assigned", async () => {
      const v = await enisOf(lab, 0);
      return Object.keys(v.enis).length === 3 && v.assignedIPs === 25 ? v : undefined;
    }, 30_000);
    assert.deepEqual(Object.values(grown.enis).map((e) => e.deviceNumber).sort(), [0, 1, 2]);
    assert.equal(grown.totalIPs, 27, "3 ENIs × 9 usable IPs");
    const m1 = await until("metrics: 3 ENIs, 25 assigned", async () => {
      const m = await metricsOf(lab, 0);
      return m.awscni_eni_allocated === 3 && m.awscni_assigned_ip_addresses === 25 ? m : undefined;
    }, 30_000);
    assert.equal(m1.awscni_total_ip_addresses, 27);

    // Which pod sits on which device, according to introspection (by container ID).
    const byCid = new Map(recs.map((r) => [r.containerId, r]));
    const onDevice = (d: number): PodRecord => {
      const eni = Object.values(grown.enis).find((e) => e.deviceNumber === d)!;
      const a = eni.ips.find((ip) => ip.containerId && byCid.has(ip.containerId));
      assert.ok(a, `a pod on device ${d}`);
      const rec = byCid.get(a.containerId!)!;
      assert.equal(rec.podIp, a.address, `introspection and the pod agree on ${rec.name}'s IP`);
      return rec;
    };
    const [p0, p1, p2] = [0, 1, 2].map(onDevice);
    for (const p of [p1, p2]) {
      await ping(lab, p, remote);
      await ping(lab, remote, p);
      await ping(lab, p, p0);
      await ping(lab, p0, p);
    }

    // Delete every pod on node 0 through aws-cni; the pool shrinks back to 2 ENIs once the third ENI is
    // a minute old, its IPs are cooled (30 s) and the shrink interval allows it.
    await pooled(recs, 5, (r) => podDel(names, r.name));
    const td = performance.now();
    const shrunk = await until(
      "node 0 back to 2 ENIs",
      async () => {
        const v = await enisOf(lab, 0);
        return Object.keys(v.enis).length === 2 && v.assignedIPs === 0 ? v : undefined;
      },
      150_000,
      1000,
    );
    const shrinkS = (performance.now() - td) / 1000;
    assert.deepEqual(Object.values(shrunk.enis).map((e) => e.deviceNumber).sort(), [0, 1]);
    const m2 = await until("metrics: 2 ENIs", async () => {
      const m = await metricsOf(lab, 0);
      return m.awscni_eni_allocated === 2 ? m : undefined;
    }, 30_000);
    assert.equal(m2.awscni_assigned_ip_addresses, 0);

    // No ENI leaked: EC2 holds no `available` ENI with our description/tags, and every attachment matches
    // ipamd's pools (the remote pod still holds its address).
    const leaked = (await describeEnis(names)).filter((e) =>
      e.status === "available" &&
      (e.description.startsWith("aws-K8S-") || "node.k8s.amazonaws.com/instance_id" in e.tags)
    );
    assert.deepEqual(leaked.map((e) => e.eniId), []);
    assert.deepEqual(await settle(names, nodes, 90_000), []);
    await podDel(names, "b0");
    console.log(
      `e2e: 25 adds in ${addS.toFixed(1)} s; pool back to 2 ENIs ${shrinkS.toFixed(1)} s after the deletes`,
    );
  });
});

Deno.test({
  name:
    "ipamd e2e: SIGKILL ipamd mid-churn of aws-cni adds/deletes; restarted, it holds every live pod's IP, " +
    "none twice, no ENI leaked (an ENI orphaned in create → attach is deleted at start-up)",
  ...rootOnly,
}, async () => {
  // An ADD whose answer the SIGKILL cut off, or a DEL run while ipamd was down (aws-cni then tears down the
  // host side and succeeds), leaves an IP assigned to a pod that is gone: the pod watch releases it once the
  // pod has been gone for POD_LEAK_GRACE_PERIOD (600 s by default; 5 s here).
  const ipamdEnv = { POD_LEAK_GRACE_PERIOD: "5" };
  await withLab({ nodes: 1, instanceType: "m5.large", latency: "realistic", ipamdEnv }, async (lab) => {
    const { names } = lab;
    const nodes = [{ index: 0, instanceId: lab.status.nodes[0].instanceId }];
    await waitIpamdReady(names, 0, 90_000);
    // 12 pods up front, so deletes and adds overlap the kill.
    for (
      const r of await pooled(Array.from({ length: 12 }, (_, i) => `s${i}`), 4, (n) => podAdd(names, n))
    ) {
      assert.ok(r.podIp, `${r.name} has an IP`);
    }
    const before = (await labStatus(lab.stateDir)).nodes[0];
    const stats = { adds: 0, dels: 0, addErrors: 0, delErrors: 0 };
    const failedDel: string[] = [];
    let failedAdds = 0;
    let seq = 0;
    let killed = false;
    let killedAt = 0;
    const live = listPodRecords(names).map((r) => r.name);
    // Four workers alternate deletes and adds; the kill lands while they run.
    const worker = async (w: number) => {
      for (let k = 0; k < 6; k++) {
        if (k % 2 === 0 && live.length) {
          const name = live.splice((w * 7 + k) % live.length, 1)[0];
          await podDel(names, name).then(() => stats.dels++, () => {
            stats.delErrors++;
            failedDel.push(name);
          });
        } else {
          const name = `n${seq++}`;
          await podAdd(names, name).then(() => {
            stats.adds++;
            live.push(name);
          }, () => {
            stats.addErrors++;
            failedAdds++;
          });
        }
        if (killed && k >= 3) await sleep(200);
      }
    };
    const killer = async () => {
      // Mid-churn by condition: two operations done, about twenty to go.
      const done = () => stats.adds + stats.dels + stats.addErrors + stats.delErrors;
      await until("two churn operations", () => Promise.resolve(done() >= 2 ? true : undefined), 120_000);
      Deno.kill(before.ipamdPid!, "SIGKILL");
      killedAt = Date.now();
      killed = true;
    };
    await Promise.all([killer(), ...[0, 1, 2, 3].map(worker)]);
    const after = await until("ipamd restarted", async () => {
      const s = (await labStatus(lab.stateDir)).nodes[0];
      return s.ipamdRestarts > before.ipamdRestarts && s.ipamdPid && s.ipamdPid !== before.ipamdPid
        ? s
        : undefined;
    }, 60_000);
    assert.ok(after.ipamdPid);
    await waitIpamdReady(names, 0, 90_000);
    // A DEL that failed while ipamd was down is retried (as kubelet would).
    for (const name of failedDel) await podDel(names, name);
    // And so is an ADD that failed (kubelet makes a new sandbox).
    for (let i = 0; i < failedAdds; i++) await podAdd(names, `retry${i}`);
    // More churn on the restarted ipamd.
    for (let i = 0; i < 3; i++) {
      const r = await podAdd(names, `r${i}`);
      assert.ok(r.podIp);
    }

    // Every live pod (the lab's records) holds its IP in ipamd's /v1/pods (introspection), none twice.
    const records = listPodRecords(names);
    // 12 − 12 deleted + 12 added (some on retry) + 3.
    assert.equal(records.length, 15, `${records.length} live pods`);
    // Leaked IPs (see ipamdEnv) are released by the pod watch: wait until ipamd holds one per live pod.
    const introspected = await until("ipamd to hold exactly the live pods' IPs", async () => {
      const v = JSON.parse(await curlNode(lab, 0, "http://127.0.0.1:61679/v1/pods")) as Record<
        string,
        { ipv4: string; containerId: string; name?: string }
      >;
      return Object.keys(v).length === records.length ? v : undefined;
    }, 120_000).catch(async (e) => {
      throw new Error(
        `${(e as Error).message}; ipamd holds ${await curlNode(lab, 0, "http://127.0.0.1:61679/v1/pods")}`,
      );
    });
    const pods = (await ipamdCall(names.ipamdSocket(0), "/v1/pool")).body.pods as {
      ip: string;
      containerId: string;
    }[];
    const held = new Map(Object.values(introspected).map((p) => [p.containerId, p.ipv4]));
    for (const r of records) assert.equal(held.get(r.containerId), r.podIp, `pod ${r.name}`);
    assert.equal(held.size, records.length, "ipamd holds nothing for a pod that is gone");
    const ips = Object.values(introspected).map((p) => p.ipv4);
    assert.equal(new Set(ips).size, ips.length, "no IP held twice");
    assert.equal(pods.length, records.length);
    // The shared invariants: accounting, checkpoint, pods ↔ pool, EC2 ↔ pool, and no available ENI of ours.
    // An ENI the killed ipamd had created but not yet attached (SIGKILL inside its create → attach window)
    // is deleted by the restarted ipamd's start-up sweep, before it is ready: none may be left.
    assert.deepEqual(await settle(names, nodes, 90_000), []);
    // What the sweep deleted (the restarted ipamd's counter; its GC deletes only ENIs 5 minutes old).
    const sweptLine = (await curlNode(lab, 0, "http://127.0.0.1:61678/metrics"))
      .split("\n").find((l) => l.startsWith("awscni_force_removed_enis"));
    const swept = Number(sweptLine?.split(" ").pop() ?? 0);
    console.log(
      `restart: ${stats.adds} adds (${stats.addErrors} failed), ${stats.dels} dels (${stats.delErrors} ` +
        `retried) around the kill; ${records.length} live pods all held; ENIs orphaned by the kill and ` +
        `deleted at start-up: ${swept}; left: 0 (killed ${new Date(killedAt).toISOString()})`,
    );
  });
});
