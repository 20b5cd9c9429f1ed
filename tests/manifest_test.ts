/**
 * `manifests/aws-k8s-cni.yaml` against the code: the DaemonSet's shape, its commands parsed by `ipamd install`'s
 * own flags, RBAC derived from the Kubernetes calls in src/k8s/client.ts (nothing missing, nothing extra), the
 * env defaults, every env var the shipped code reads documented, and libcni loading the conflist that
 * `ipamd install` renders from the manifest's settings.
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../src/ipamd/config.ts";
import { configSettings } from "../src/ipamd/config_settings.ts";
import { UPSTREAM_VARIABLES } from "../src/ipamd/config_upstream.ts";
import { renderConflist } from "../src/ipamd/conflist.ts";
import { INSTALL_OPTIONS } from "../src/ipamd/install.ts";
import { CHAINED_PLUGINS, defaultSources, launcherScript } from "../src/ipamd/install_sources.ts";
import {
  CNI_PLUGIN_PACKAGES,
  CNI_PLUGINS_MODULE,
  CNI_PLUGINS_VERSION,
  ensureCniPlugins,
} from "../src/sim/cni_plugins.ts";
import { libcni } from "../harness/libcni.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// deno-lint-ignore no-explicit-any -- parsed YAML
type Obj = any;

const docs: Obj[] = parseAllDocuments(await Deno.readTextFile(`${ROOT}manifests/aws-k8s-cni.yaml`)).map(
  (d) => {
    assert.deepEqual(d.errors, [], "the manifest parses");
    return d.toJS();
  },
).filter((d) => d !== null);

function one(kind: string, name: string): Obj {
  const found = docs.filter((d) => d.kind === kind && d.metadata?.name === name);
  assert.equal(found.length, 1, `exactly one ${kind}/${name}`);
  return found[0];
}

const ds = one("DaemonSet", "aws-node");
const pod = ds.spec.template.spec;
const init = pod.initContainers.find((c: Obj) => c.name === "aws-vpc-cni-init");
const main = pod.containers.find((c: Obj) => c.name === "aws-node");

function envOf(c: Obj): Record<string, string> {
  return Object.fromEntries(
    (c.env ?? []).filter((e: Obj) => "value" in e).map((e: Obj) => [e.name, e.value]),
  );
}

/** The host path behind a container path, through the container's mounts and the pod's hostPath volumes. */
function hostPathOf(c: Obj, containerPath: string): string | undefined {
  const m = (c.volumeMounts ?? [])
    .filter((m: Obj) => containerPath === m.mountPath || containerPath.startsWith(`${m.mountPath}/`))
    .sort((a: Obj, b: Obj) => b.mountPath.length - a.mountPath.length)[0];
  if (!m) return undefined;
  const v = pod.volumes.find((v: Obj) => v.name === m.name);
  return v?.hostPath ? v.hostPath.path + containerPath.slice(m.mountPath.length) : undefined;
}

/** The container's `ipamd install` flags, with the CNI dirs as it resolves them (flag, else HOST_CNI_* env). */
function installArgs(c: Obj) {
  const cmd: string[] = [...c.command, ...(c.args ?? [])];
  assert.deepEqual(cmd.slice(0, 2), ["/app/ipamd", "install"], `${c.name} runs ipamd install`);
  const values = parseArgs({ args: cmd.slice(2), options: INSTALL_OPTIONS, strict: true }).values;
  const env = envOf(c);
  return {
    ...values,
    "cni-bin-dir": values["cni-bin-dir"] ?? env.HOST_CNI_BIN_PATH,
    "cni-conf-dir": values["cni-conf-dir"] ?? env.HOST_CNI_CONFDIR_PATH,
  };
}

Deno.test("DaemonSet: kube-system, hostNetwork, system-node-critical, tolerates everything, 10% rolling", () => {
  assert.equal(ds.metadata.namespace, "kube-system");
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.priorityClassName, "system-node-critical");
  assert.ok(pod.tolerations.some((t: Obj) => t.operator === "Exists" && !t.key && !t.effect));
  assert.equal(ds.spec.updateStrategy.type, "RollingUpdate");
  assert.equal(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, "10%");
  assert.deepEqual(ds.spec.selector.matchLabels, { "k8s-app": "aws-node" });
  assert.equal(ds.spec.template.metadata.labels["k8s-app"], "aws-node");
  assert.equal(pod.serviceAccountName, "aws-node");
  assert.equal(one("ServiceAccount", "aws-node").metadata.namespace, "kube-system");
});

Deno.test("DaemonSet: the init container installs the binaries into the host's /opt/cni/bin, privileged", () => {
  const a = installArgs(init);
  assert.equal(a.init, true);
  assert.equal(a["conflist-only"], false);
  assert.equal(hostPathOf(init, a["cni-bin-dir"]!), "/opt/cni/bin");
  assert.equal(init.securityContext.privileged, true, "writes /proc/sys");
  assert.equal(init.image, main.image, "one image");
});

Deno.test("DaemonSet: aws-node runs ipamd and writes the conflist into the host's /etc/cni/net.d", () => {
  const a = installArgs(main);
  assert.equal(a["conflist-only"], true);
  assert.equal(a.run, true);
  assert.equal(a.init, false);
  assert.equal(hostPathOf(main, a["cni-conf-dir"]!), "/etc/cni/net.d");
  assert.equal(hostPathOf(main, a["cni-bin-dir"]!), "/opt/cni/bin", "portmap presence is checked there");
  assert.deepEqual([...main.securityContext.capabilities.add].sort(), ["NET_ADMIN", "NET_RAW"]);
  assert.notEqual(main.securityContext.privileged, true);
  const env = envOf(main);
  for (const probe of [main.readinessProbe, main.livenessProbe]) {
    // `ipamd health` over the socket: the probes do not depend on introspection or metrics.
    const cmd: string[] = probe.exec.command;
    assert.deepEqual(cmd.slice(0, 2), ["/app/ipamd", "health"]);
    const timeout = Number(cmd[cmd.indexOf("--timeout") + 1]);
    assert.ok(timeout > 0 && timeout < probe.timeoutSeconds, "ipamd health gives up before the kubelet does");
    assert.equal(probe.httpGet, undefined);
  }
  assert.equal(main.ports.find((p: Obj) => p.name === "metrics").containerPort, Number(env.METRICS_PORT));
  const node = main.env.find((e: Obj) => e.name === "MY_NODE_NAME");
  assert.equal(node.valueFrom.fieldRef.fieldPath, "spec.nodeName");
});

Deno.test("DaemonSet: hostPath volumes, and every path the plugin shares with ipamd is the same on the host", () => {
  assert.deepEqual(
    pod.volumes.map((v: Obj) => v.hostPath?.path).sort(),
    ["/etc/cni/net.d", "/opt/cni/bin", "/run/xtables.lock", "/var/log/aws-routed-eni", "/var/run/aws-node"],
  );
  assert.equal(hostPathOf(main, "/run/xtables.lock"), "/run/xtables.lock", "iptables shares the host's lock");
  assert.equal(
    pod.volumes.find((v: Obj) => v.hostPath?.path === "/run/xtables.lock").hostPath.type,
    "FileOrCreate",
  );
  const env = envOf(main);
  // The plugin runs on the host and reads these paths from the conflist: they must mean the same file.
  assert.equal(hostPathOf(main, env.IPAMD_SOCKET), env.IPAMD_SOCKET);
  assert.equal(hostPathOf(main, env.AWS_VPC_K8S_CNI_BACKING_STORE), env.AWS_VPC_K8S_CNI_BACKING_STORE);
  assert.equal(hostPathOf(main, env.AWS_VPC_K8S_CNI_LOG_FILE), "/var/log/aws-routed-eni/ipamd.log");
  const pluginLog = env.AWS_VPC_K8S_PLUGIN_LOG_FILE;
  assert.equal(pluginLog, "/var/log/aws-routed-eni/plugin.log");
  assert.ok(
    pod.volumes.some((v: Obj) => v.hostPath?.path === pluginLog.slice(0, pluginLog.lastIndexOf("/"))),
  );
});

Deno.test("DaemonSet: env values are valid and spell out upstream's defaults", () => {
  const env = envOf(main);
  const fromManifest = configSettings(loadConfig({ ...env, MY_NODE_NAME: "n" }));
  const defaults = configSettings(loadConfig({ MY_NODE_NAME: "n" }));
  // Differences on purpose: the log file is reached through the container's /host mount, and upstream's
  // manifest sets WARM_PREFIX_TARGET=1 (the pool treats unset as 1 too).
  const expectedDiff = ["AWS_VPC_K8S_CNI_LOG_FILE", "WARM_PREFIX_TARGET"];
  for (const [k, v] of Object.entries(defaults)) {
    if (expectedDiff.includes(k)) continue;
    assert.equal(fromManifest[k], v, `${k}: the manifest's value differs from the default`);
  }
  assert.equal(fromManifest.WARM_PREFIX_TARGET, "1");
  for (const k of Object.keys(defaults)) {
    if (["AWS_EC2_ENDPOINT", "MY_NODE_NAME"].includes(k)) continue;
    assert.ok(k in env, `the manifest spells out ${k}`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// RBAC derived from the code

type Grant = `${string}/${string}:${string}`; // group/resource:verb

/** Each `this.#call(` in `src`, from its opening parenthesis to the matching close. */
function callTexts(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/this\.#call(?:<[^>]*>)?\(/g)) {
    let depth = 1, i = m.index! + m[0].length;
    for (; i < src.length && depth > 0; i++) depth += src[i] === "(" ? 1 : src[i] === ")" ? -1 : 0;
    out.push(src.slice(m.index! + m[0].length, i - 1));
  }
  return out;
}

/**
 * The grant one REST call needs, from its path and method: `/api/v1/...` is the core group,
 * `/apis/<group>/<version>/...` a named one; a path ending at an object's name is get (or the method's verb),
 * a collection list (or create for POST). `/version` needs none (system:public-info-viewer grants it).
 */
function grantOf(path: string, method: string): Grant | undefined {
  const segs = path.replace(/\$\{[^}]*\}/g, "{}").split("/").filter(Boolean);
  if (segs[0] === "version") return undefined;
  assert.ok(segs[0] === "api" || segs[0] === "apis", `an API path: ${path}`);
  const group = segs[0] === "api" ? "" : segs[1];
  let rest = segs.slice(segs[0] === "api" ? 2 : 3);
  if (rest[0] === "namespaces" && rest.length > 2) rest = rest.slice(2);
  const named = rest.length === 2 && rest[1] === "{}";
  assert.ok(rest.length === (named ? 2 : 1) && rest[0] !== "{}", `a resource path: ${path}`);
  const verb =
    { GET: named ? "get" : "list", POST: "create", PATCH: "patch", PUT: "update", DELETE: "delete" }[
      method
    ];
  assert.ok(verb, `a method this test knows: ${method}`);
  return `${group}/${rest[0]}:${verb}`;
}

async function codeGrants(): Promise<Set<Grant>> {
  const src = await Deno.readTextFile(`${ROOT}src/k8s/client.ts`);
  // Path constants (`const ENICONFIGS = "/apis/..."`) are substituted into the calls that use them.
  const consts = new Map([...src.matchAll(/^const (\w+) = "(\/apis?\/[^"]*)";/gm)].map((m) => [m[1], m[2]]));
  const grants = new Set<Grant>();
  const calls = callTexts(src);
  assert.ok(calls.length >= 6, "the scan finds the API calls");
  const paths = new Map([...src.matchAll(/const (\w+) = `(\/api[^`]*)`;/g)].map((m) => [m[1], m[2]]));
  for (const text of calls) {
    const first = text.match(/^\s*(?:"([^"]*)"|`([^`]*)`|(\w+))/);
    assert.ok(first, `a path as the call's first argument: ${text}`);
    let path = first[1] ?? first[2] ?? paths.get(first[3]);
    assert.ok(path !== undefined, `the call's path is a literal or a path constant in the method: ${text}`);
    for (const [name, value] of consts) path = path.replaceAll(`\${${name}}`, value);
    const method = text.match(/method:\s*"(\w+)"/)?.[1] ?? "GET";
    const g = grantOf(path, method);
    if (g) grants.add(g);
  }
  const watches = [...src.matchAll(/listAndWatch\(\s*"\/api\/v1\/(\w+)"/g)];
  assert.ok(watches.length >= 2, "the scan finds the watches");
  for (const [, resource] of watches) grants.add(`/${resource}:watch`);
  // No other module talks to the API server.
  for await (const f of walk(`${ROOT}src`)) {
    if (f.includes("/sim/") || f.endsWith("_test.ts") || f.endsWith("/k8s/client.ts")) continue;
    const text = await Deno.readTextFile(f);
    assert.doesNotMatch(
      text,
      /new (CoreV1Api|CustomObjectsApi|Watch)\b|makeApiClient|kubeRequest\(/,
      `${f} calls the API`,
    );
  }
  return grants;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* walk(`${dir}/${e.name}`);
    else if (e.name.endsWith(".ts")) yield `${dir}/${e.name}`;
  }
}

function manifestGrants(): Set<Grant> {
  const role = one("ClusterRole", "aws-node");
  const out = new Set<Grant>();
  for (const r of role.rules) {
    assert.equal(r.nonResourceURLs, undefined);
    assert.equal(r.resourceNames, undefined);
    for (const g of r.apiGroups) {
      for (const res of r.resources) for (const v of r.verbs) out.add(`${g}/${res}:${v}`);
    }
  }
  return out;
}

Deno.test("RBAC: the ClusterRole grants exactly the calls src/k8s/client.ts makes", async () => {
  const need = await codeGrants();
  for (const g of ["/nodes:get", "/pods:list", "/pods:watch", "/events:create"] as Grant[]) {
    assert.ok(need.has(g), `the scan must find ${g}`);
  }
  const have = manifestGrants();
  assert.deepEqual([...need].filter((g) => !have.has(g)).sort(), [], "missing from the ClusterRole");
  assert.deepEqual([...have].filter((g) => !need.has(g)).sort(), [], "granted but never used");
  const binding = one("ClusterRoleBinding", "aws-node");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "aws-node",
  });
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "aws-node",
    namespace: "kube-system",
  }]);
});

Deno.test("CRD: ENIConfig matches what the client reads", async () => {
  const src = await Deno.readTextFile(`${ROOT}src/k8s/client.ts`);
  // The client's path: /apis/<group>/<version>/<plural> (no namespace: a cluster-scoped resource).
  const [, group, version, plural] = src.match(/^const ENICONFIGS = "\/apis\/([^/]+)\/([^/]+)\/([^/"]+)";/m)!;
  const crd = one("CustomResourceDefinition", `${plural}.${group}`);
  assert.equal(crd.spec.group, group);
  assert.equal(crd.spec.names.plural, plural);
  assert.equal(crd.spec.names.kind, "ENIConfig");
  assert.equal(crd.spec.scope, "Cluster", "the client reads ENIConfigs without a namespace");
  const v = crd.spec.versions.find((x: Obj) => x.name === version);
  assert.ok(v?.served && v?.storage);
  const props = v.schema.openAPIV3Schema.properties.spec.properties;
  assert.equal(props.subnet.type, "string");
  assert.equal(props.securityGroups.items.type, "string");
});

// ---------------------------------------------------------------------------------------------------------
// Environment variables

/** Local modules in the two shipped programs' module graphs (dynamic imports included). */
async function shippedModules(): Promise<string[]> {
  const files = new Set<string>();
  for (const entry of ["src/cni/main.ts", "src/ipamd/main.ts"]) {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `${ROOT}${entry}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    for (const m of JSON.parse(new TextDecoder().decode(o.stdout)).modules) {
      if (m.specifier.startsWith("file://")) files.add(new URL(m.specifier).pathname);
    }
  }
  return [...files];
}

async function envVarsRead(): Promise<Set<string>> {
  const patterns = [
    /Deno\.env\.get\(\s*"([A-Za-z0-9_]+)"/g,
    /\benv\(\s*"([A-Za-z0-9_]+)"/g,
    /\benv\.([A-Z][A-Za-z0-9_]+)\b/g,
    /\benv\[\s*"([A-Za-z0-9_]+)"\s*\]/g,
    /\(\s*env\s*,\s*"([A-Z][A-Za-z0-9_]+)"/g,
    /"(AWS_[A-Z0-9_]+)"/g,
    /\b\w+\(\s*"([A-Z][A-Z0-9]*(?:_[A-Za-z0-9]+)+)"/g, // helpers like secs("LEAKED_ENI_CLEANUP_DELAY", ..)
  ];
  // checkUpstreamEnv reads every upstream variable it accepts or refuses by name.
  const out = new Set<string>(UPSTREAM_VARIABLES.map((v) => v.name));
  for (const f of await shippedModules()) {
    const text = await Deno.readTextFile(f);
    for (const p of patterns) for (const m of text.matchAll(p)) out.add(m[1]);
  }
  return out;
}

/** README.md's "Environment variables" table: variable → its "here" cell. The one place they are listed. */
async function envTable(): Promise<Map<string, string>> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const section = readme.slice(readme.indexOf("## Environment variables"));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\|\s*`([A-Za-z0-9_]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|/gm)) {
    assert.ok(!rows.has(m[1]), `${m[1]} is listed once`);
    rows.set(m[1], m[2]);
  }
  return rows;
}

Deno.test("env: README's table says, for every upstream variable, what src/ipamd/config_upstream.ts does", async () => {
  const table = await envTable();
  for (const v of UPSTREAM_VARIABLES) {
    const here = table.get(v.name);
    assert.ok(here !== undefined, `${v.name} is in README.md's environment table`);
    assert.ok(here.startsWith(v.support), `${v.name}: README says "${here}", the code says ${v.support}`);
  }
  const install = await Deno.readTextFile(`${ROOT}docs/INSTALL.md`);
  assert.doesNotMatch(
    install,
    /^\|\s*`[A-Z][A-Z0-9_]+`\s*\|/m,
    "docs/INSTALL.md links to the table, no second one",
  );
});

Deno.test("env: every variable the shipped code reads is in the docs' table; every manifest variable is read", async () => {
  const read = await envVarsRead();
  for (
    const k of [
      "WARM_ENI_TARGET",
      "MY_NODE_NAME",
      "IPAMD_SOCKET",
      "VPC_CNI_LIBNL_DIR",
      "AWS_REGION",
      "CNI_COMMAND",
      "KUBECONFIG",
      "DISABLE_TCP_EARLY_DEMUX",
      "ENABLE_IPv6",
      "AWS_VPC_K8S_PLUGIN_LOG_FILE",
      "LEAKED_ENI_CLEANUP_DELAY",
    ]
  ) assert.ok(read.has(k), `the scan must find ${k}`);
  const table = await envTable();
  const missing = [...read].filter((k) => !table.has(k)).sort();
  assert.deepEqual(missing, [], "read by the code but not in README.md's environment table");
  for (const c of [init, main]) {
    for (const e of c.env ?? []) assert.ok(read.has(e.name), `${c.name} sets ${e.name}, which nothing reads`);
  }
});

Deno.test("libcni loads the conflist ipamd install renders from the manifest's settings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-manifest-" });
  try {
    const env = envOf(main);
    const conf = renderConflist(loadConfig({ ...env, MY_NODE_NAME: "n" }), { withPortmap: true, env });
    assert.equal((conf.plugins as Obj[])[0].mtu, env.POD_MTU);
    assert.equal((conf.plugins as Obj[])[0].vethPrefix, env.AWS_VPC_K8S_CNI_VETHPREFIX);
    assert.equal((conf.plugins as Obj[])[0].pluginLogFile, env.AWS_VPC_K8S_PLUGIN_LOG_FILE);
    await Deno.writeTextFile(`${dir}/10-aws.conflist`, JSON.stringify(conf));
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(
      `${dir}/bin/aws-cni`,
      launcherScript(Deno.execPath(), ROOT.replace(/\/$/, ""), `${dir}/bin`),
      {
        mode: 0o755,
      },
    );
    await Deno.symlink(`${(await ensureCniPlugins()).dir}/portmap`, `${dir}/bin/portmap`);
    const v = await libcni<{ plugins: Record<string, unknown> }>("version", {
      conflist: `${dir}/10-aws.conflist`,
      binDir: `${dir}/bin`,
    });
    assert.ok((v.plugins["aws-cni"] as string[]).includes("0.4.0"), JSON.stringify(v.plugins));
    assert.ok(Array.isArray(v.plugins.portmap), JSON.stringify(v.plugins));
    // libcni refuses a broken list: the check above is not vacuous.
    await Deno.writeTextFile(`${dir}/bad.conflist`, JSON.stringify({ ...conf, plugins: [] }));
    await assert.rejects(libcni("version", { conflist: `${dir}/bad.conflist`, binDir: `${dir}/bin` }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image: the Containerfile lays out /app as the manifest and ipamd install's defaults expect", async () => {
  const cf = await Deno.readTextFile(`${ROOT}Containerfile`);
  assert.match(cf, /^FROM \S*debian:bookworm-slim$/m);
  assert.match(cf, /^COPY dist\/ipamd dist\/aws-cni dist\/egress-cni \/app\/$/m);
  for (const pkg of ["iptables", "libnl-3-200", "libnl-route-3-200"]) {
    assert.match(cf, new RegExp(`install[^\\n]*(\\n[^\\n]*)*\\b${pkg}\\b`), `installs ${pkg}`);
  }
  // portmap and bandwidth: the reference plugins the tests and the lab run, built in a Go stage with the same
  // version and packages (src/sim/cni_plugins.ts), not Debian's containernetworking-plugins 1.1.1.
  const instructions = cf.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  assert.doesNotMatch(instructions, /containernetworking-plugins|\/usr\/lib\/cni/);
  assert.match(cf, /^FROM \S*golang:1\.26\S* AS cni-plugins$/m);
  assert.match(
    cf,
    new RegExp(`^ARG CNI_PLUGINS_VERSION=${CNI_PLUGINS_VERSION.replaceAll(".", "\\.")}$`, "m"),
  );
  const build = cf.match(/^RUN CGO_ENABLED=0 GOBIN=\/out go install -trimpath (?:.*\\\n)*.*$/m)?.[0] ?? "";
  const built = [...build.matchAll(/ (\S+)@\$\{CNI_PLUGINS_VERSION\}/g)].map((m) => m[1]);
  assert.deepEqual(built, CHAINED_PLUGINS.map((p) => `${CNI_PLUGINS_MODULE}/${CNI_PLUGIN_PACKAGES[p]}`));
  assert.match(build, /buildversion\.BuildVersion=\$\{CNI_PLUGINS_VERSION\}/);
  assert.match(
    cf,
    new RegExp(`^COPY --from=cni-plugins ${CHAINED_PLUGINS.map((p) => `/out/${p}`).join(" ")} /app/$`, "m"),
  );
  assert.match(cf, /libnl-3\.so\.200 \S*libnl-route-3\.so\.200 \/app\/aws-cni-lib\//);
  for (const c of [init, main]) assert.equal(c.command[0], "/app/ipamd");
  // A compiled ipamd at <dir>/ipamd takes the plugin, portmap and libnl from beside itself.
  const dir = await Deno.makeTempDir({ prefix: "vpc-cni-app-" });
  try {
    await Deno.mkdir(`${dir}/aws-cni-lib`);
    for (
      const f of [
        "ipamd",
        "aws-cni",
        "egress-cni",
        "portmap",
        "bandwidth",
        "aws-cni-lib/libnl-3.so.200",
        "aws-cni-lib/libnl-route-3.so.200",
      ]
    ) {
      await Deno.writeTextFile(`${dir}/${f}`, "x");
    }
    assert.deepEqual(defaultSources("/opt/cni/bin", `${dir}/ipamd`), {
      plugin: { path: `${dir}/aws-cni` },
      egress: { path: `${dir}/egress-cni` },
      portmap: `${dir}/portmap`,
      bandwidth: `${dir}/bandwidth`,
      libnlFrom: `${dir}/aws-cni-lib`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
