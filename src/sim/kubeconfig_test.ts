import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { renderKubeconfig, writeKubeconfig } from "./kubeconfig.ts";

Deno.test("kubeconfig: valid YAML with server, token and namespace", () => {
  const text = renderKubeconfig({ server: "http://127.0.0.1:6443", token: 'to"k', namespace: "kube-system" });
  const doc = parse(text);
  assert.equal(doc.kind, "Config");
  assert.equal(doc["current-context"], "vpc-cni-lab");
  assert.equal(doc.clusters[0].cluster.server, "http://127.0.0.1:6443");
  assert.equal(doc.clusters[0].cluster["insecure-skip-tls-verify"], true);
  assert.equal(doc.contexts[0].context.namespace, "kube-system");
  assert.equal(doc.users[0].user.token, 'to"k');
});

Deno.test("kubeconfig: without a token the user is empty; bad server rejected", () => {
  const doc = parse(renderKubeconfig({ server: "http://10.0.255.253:6443" }));
  assert.deepEqual(doc.users[0].user, {});
  assert.equal(doc.contexts[0].context.namespace, undefined);
  assert.equal(
    parse(renderKubeconfig({ server: "https://x:6443" })).clusters[0].cluster["insecure-skip-tls-verify"],
    undefined,
  );
  assert.throws(() => renderKubeconfig({ server: "not a url" }), TypeError);
  assert.throws(() => renderKubeconfig({ server: "ftp://x" }), TypeError);
});

Deno.test("kubeconfig: written file loads in client-node", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/kubeconfig`;
    await writeKubeconfig(path, { server: "http://127.0.0.1:1234", token: "abc", namespace: "ns1" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    assert.equal(kc.getCurrentCluster()?.server, "http://127.0.0.1:1234");
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
    assert.equal(kc.getCurrentUser()?.token, "abc");
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, "ns1");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["kubeconfig"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
