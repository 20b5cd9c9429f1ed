import assert from "node:assert/strict";
import { KubeAccess } from "./kube_config.ts";

const yaml = (
  user: string,
  cluster = `server: "https://10.0.0.1:6443"\n    certificate-authority-data: ""`,
) => `
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    ${cluster}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
users:
- name: u
  user: ${user}
`;

Deno.test("kube access: a kubeconfig's current cluster and user; token, basic auth, impersonation headers", async () => {
  const a = await KubeAccess.fromText(yaml(`{token: "t0k", as: "someone"}`));
  assert.equal(a.server, "https://10.0.0.1:6443");
  const o = await a.applyToFetchOptions({ method: "GET", headers: { Accept: "application/json" } });
  assert.equal(o.headers.Authorization, "Bearer t0k");
  assert.equal(o.headers["Impersonate-User"], "someone");
  assert.equal(o.headers.Accept, "application/json");
  assert.ok(o.agent, "an https agent");
  const b = await KubeAccess.fromText(yaml(`{username: "ann", password: "pw"}`));
  assert.equal((await b.applyToFetchOptions()).headers.Authorization, `Basic ${btoa("ann:pw")}`);
});

Deno.test("kube access: plain http only with insecure-skip-tls-verify (as client-node); JSON kubeconfigs too", async () => {
  const ok = await KubeAccess.fromText(
    yaml("{}", `server: "http://10.0.0.1:8080"\n    insecure-skip-tls-verify: true`),
  );
  assert.ok((await ok.applyToFetchOptions()).agent);
  const bad = await KubeAccess.fromText(yaml("{}", `server: "http://10.0.0.1:8080"`));
  await assert.rejects(bad.applyToFetchOptions(), /HTTP protocol is not allowed/);
  const json = await KubeAccess.fromText(JSON.stringify({
    clusters: [{ name: "c", cluster: { server: "https://k:443" } }],
    users: [{ name: "u", user: { token: "j" } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  }));
  assert.equal((await json.applyToFetchOptions()).headers.Authorization, "Bearer j");
  await assert.rejects(
    KubeAccess.fromText(`{"clusters": [], "contexts": [], "users": []}`),
    /no current cluster/,
  );
});

Deno.test("kube access: in-cluster reads the service account token file (re-read by client-node's FileAuth)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, "sa-token");
    await Deno.writeTextFile(`${dir}/ca.crt`, "not checked until a connection");
    const a = KubeAccess.fromCluster(
      { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
      dir,
    );
    assert.equal(a.server, "https://[fd00::1]:443");
    assert.equal((await a.applyToFetchOptions()).headers.Authorization, "Bearer sa-token");
    const http = KubeAccess.fromCluster({
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "8080",
    }, dir);
    assert.equal(http.server, "http://10.96.0.1:8080");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
