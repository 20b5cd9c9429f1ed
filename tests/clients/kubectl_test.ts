/**
 * Debian's kubectl 1.20 (package kubernetes-client) against the lab's kubeconfig, from inside a lab node:
 * `get nodes/pods/eniconfigs -o json` and `get pods --watch-only` while pods come and go.
 */
import assert from "node:assert/strict";
import { type TestLab, withLab } from "../helpers/lab.ts";
import { until } from "../../harness/poll.ts";
import { rootOnly } from "../helpers/root.ts";
import { ensureKubectl } from "./kubectl.ts";

// deno-lint-ignore no-explicit-any -- kubectl's JSON is checked field by field
type Json = any;

function kubectlCommand(lab: TestLab, kubectl: string, cacheDir: string, args: string[]): Deno.Command {
  return new Deno.Command("nsenter", {
    args: [
      `--net=/run/netns/${lab.status.nodes[0].netns}`,
      "--",
      kubectl,
      `--kubeconfig=${lab.status.kubeconfig}`,
      `--cache-dir=${cacheDir}`,
      "--request-timeout=60s",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Splits a stream of concatenated (pretty-printed) JSON values, as kubectl writes them, into values. */
class JsonStream {
  #buf = "";
  push(text: string): Json[] {
    this.#buf += text;
    const out: Json[] = [];
    let depth = 0, inString = false, escaped = false, start = -1;
    for (let i = 0; i < this.#buf.length; i++) {
      const c = this.#buf[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{") {
        if (depth++ === 0) start = i;
      } else if (c === "}" && --depth === 0) {
        out.push(JSON.parse(this.#buf.slice(start, i + 1)));
        this.#buf = this.#buf.slice(i + 1);
        i = -1;
      }
    }
    return out;
  }
}

async function labPost(lab: TestLab, path: string, body: unknown, method = "POST"): Promise<Json> {
  const r = await lab.fetch(path, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

Deno.test({
  name: "kubectl 1.20 (Debian kubernetes-client): get -o json, and --watch-only while pods come and go",
  ...rootOnly,
}, async (t) => {
  const kubectl = await ensureKubectl();
  const cacheDir = await Deno.makeTempDir({ prefix: "kubectl-cache-" });
  try {
    await withLab({ nodes: 2, instanceType: "m5.large", ipamd: false }, async (lab) => {
      const get = async (...args: string[]): Promise<Json> => {
        const out = await kubectlCommand(lab, kubectl, cacheDir, ["get", ...args, "-o", "json"]).output();
        const dec = new TextDecoder();
        assert.ok(out.success, `kubectl get ${args.join(" ")}: ${dec.decode(out.stderr)}`);
        return JSON.parse(dec.decode(out.stdout));
      };
      await labPost(lab, "/k8s/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs", {
        apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
        kind: "ENIConfig",
        metadata: { name: "us-west-2a" },
        spec: { subnet: (lab.status.subnetIds as string[])[1], securityGroups: [lab.status.securityGroupId] },
      });
      await labPost(lab, "/lab/pods", { name: "web", node: "node-0" });
      await labPost(lab, "/lab/pods/default/web/ip", { ip: "10.0.0.77" }, "PUT");

      await t.step("get nodes -o json", async () => {
        const nodes = await get("nodes");
        assert.equal(nodes.kind, "List");
        assert.deepEqual(nodes.items.map((n: Json) => n.metadata.name), ["node-0", "node-1"]);
        const n0 = nodes.items[0];
        assert.equal(n0.kind, "Node");
        assert.equal(n0.status.capacity.pods, "29");
        assert.equal(n0.status.allocatable.pods, "29");
        assert.equal(n0.status.addresses[0].address, lab.status.nodes[0].primaryIp);
      });
      await t.step("get pods -A -o json", async () => {
        const pods = await get("pods", "-A");
        const web = pods.items.find((p: Json) => p.metadata.name === "web");
        assert.equal(web.spec.nodeName, "node-0");
        assert.equal(web.status.podIP, "10.0.0.77");
        assert.equal(web.status.phase, "Running");
      });
      await t.step("get eniconfigs -o json (found through discovery)", async () => {
        const list = await get("eniconfigs");
        assert.equal(list.items.length, 1);
        assert.equal(list.items[0].kind, "ENIConfig");
        assert.equal(list.items[0].apiVersion, "crd.k8s.amazonaws.com/v1alpha1");
        assert.equal(list.items[0].spec.subnet, (lab.status.subnetIds as string[])[1]);
        const one = await get("eniconfig", "us-west-2a");
        assert.deepEqual(one.spec.securityGroups, [lab.status.securityGroupId]);
      });
      await t.step("get pods --watch-only while pods come and go", async () => {
        await watchOnly(lab, kubectl, cacheDir);
      });
    });
  } finally {
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
  }
});

/** Runs `kubectl get pods --watch-only` and checks it prints the changes in order. */
async function watchOnly(lab: TestLab, kubectl: string, cacheDir: string): Promise<void> {
  const ns = "churn";
  const child = kubectlCommand(lab, kubectl, cacheDir, [
    "get",
    "pods",
    "-n",
    ns,
    "--watch-only",
    "--output-watch-events",
    "-o",
    "json",
  ]).spawn();
  const stderr = new Response(child.stderr).text();
  const events: Json[] = [];
  const reading = (async () => {
    const parser = new JsonStream();
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      events.push(...parser.push(chunk));
    }
  })();
  try {
    // kubectl lists, then watches from the list's resourceVersion: add probe pods until one is printed.
    let probes = 0;
    await until(
      "kubectl to print a probe pod",
      async () => {
        await labPost(lab, "/lab/pods", { namespace: ns, name: `probe-${probes++}`, node: "node-1" });
        return events.length > 0;
      },
      60_000,
      250,
    );
    const mark = events.length;
    await labPost(lab, "/lab/pods", { namespace: ns, name: "come-and-go", node: "node-0" });
    await labPost(lab, `/lab/pods/${ns}/come-and-go/ip`, { ip: "10.0.0.99" }, "PUT");
    const del = await lab.fetch(`/lab/pods/${ns}/come-and-go`, { method: "DELETE" });
    assert.equal(del.status, 200, await del.text());
    // A probe posted while kubectl's first event was on its way may be printed after the mark: look only at
    // come-and-go's events.
    const seenOf = () =>
      events.slice(mark).filter((e) => e.object.metadata.name === "come-and-go").map((e) =>
        `${e.type} ${e.object.metadata.name} ${e.object.status?.podIP ?? "-"}`
      );
    await until("kubectl to print ADDED, MODIFIED and DELETED", () => seenOf().length >= 3, 60_000);
    const seen = seenOf();
    assert.deepEqual(seen.slice(0, 3), [
      "ADDED come-and-go -",
      "MODIFIED come-and-go 10.0.0.99",
      "DELETED come-and-go 10.0.0.99",
    ]);
    for (const e of events) {
      assert.equal(e.object.kind, "Pod");
      assert.ok(Number(e.object.metadata.resourceVersion) > 0);
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await reading.catch(() => {});
    const err = await stderr;
    assert.equal(err.replaceAll(/^W\d{4}.*\n?/gm, ""), "", `kubectl stderr: ${err}`);
  }
}
