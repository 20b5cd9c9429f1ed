/**
 * Checks a manifest against the Kubernetes API schemas, three ways:
 *
 * - **kubernetes-models** (npm, pinned in deno.json): each document against the OpenAPI schema of its kind
 *   (types, enums, required fields), including the DaemonSet's probes, volumes and securityContext;
 * - **strict decoding** with apimachinery (the client-go program's `decode-strict`, k8s.io/api v0.35): what
 *   the API server does with `fieldValidation=Strict` (unknown and duplicate fields are errors);
 * - **pod-spec rules** the API server's validation adds to the schema: a probe has exactly one handler,
 *   names are unique, every mount names a volume, hostPath paths are absolute, the DaemonSet's selector
 *   matches its template, capabilities are known.
 *
 * Every function returns the problems found (empty when the manifest is valid).
 * @module
 */
import { parseAllDocuments } from "yaml";
import { ServiceAccount } from "kubernetes-models/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { buildClientGo } from "../harness/go_clients.ts";

// deno-lint-ignore no-explicit-any -- manifests are checked field by field
type Obj = any;

// deno-lint-ignore no-explicit-any -- each model class takes its own kind's shape
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  "v1/ServiceAccount": ServiceAccount,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
  "apps/v1/DaemonSet": DaemonSet,
};

/** The non-empty YAML documents of a manifest (YAML syntax errors are thrown). */
export function manifestDocuments(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new SyntaxError(d.errors.map((e) => e.message).join("; "));
    return d.toJS();
  }).filter((d) => d !== null && d !== undefined);
}

/** kubernetes-models: every document validates against its kind's schema. */
export function schemaProblems(docs: Obj[]): string[] {
  const out: string[] = [];
  for (const d of docs) {
    const key = `${d.apiVersion}/${d.kind}`;
    const Model = MODELS[key];
    if (!Model) {
      out.push(`${key} ${d.metadata?.name}: no schema for this kind`);
      continue;
    }
    try {
      new Model(d).validate();
    } catch (e) {
      out.push(`${key} ${d.metadata?.name}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** apimachinery's strict decoding of the manifest file (unknown/duplicate fields, wrong types). */
export async function strictDecodeProblems(path: string): Promise<{ kinds: string[]; problems: string[] }> {
  const { path: bin } = await buildClientGo();
  const out = await new Deno.Command(bin, { args: ["decode-strict", path], stdout: "piped", stderr: "piped" })
    .output();
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const result = lines.find((l) => l.result)?.result;
  if (!out.success || !result) {
    return {
      kinds: [],
      problems: [`decode-strict failed: ${JSON.stringify(lines)} ${new TextDecoder().decode(out.stderr)}`],
    };
  }
  return { kinds: lines.filter((l) => l.step === "decoded").map((l) => l.kind), problems: result.problems };
}

const PROBE_HANDLERS = ["exec", "httpGet", "tcpSocket", "grpc"];
const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"];
const HOST_PATH_TYPES = [
  "",
  "DirectoryOrCreate",
  "Directory",
  "FileOrCreate",
  "File",
  "Socket",
  "CharDevice",
  "BlockDevice",
];
const CAPABILITY = /^[A-Z_]+$/;

/** The API server's pod-spec rules beyond the schema, for every DaemonSet in `docs`. */
export function podSpecProblems(docs: Obj[]): string[] {
  const out: string[] = [];
  for (const ds of docs.filter((d) => d.kind === "DaemonSet")) {
    const at = `DaemonSet ${ds.metadata?.name}`;
    const labels = ds.spec?.template?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(ds.spec?.selector?.matchLabels ?? {})) {
      if (labels[k] !== v) out.push(`${at}: spec.selector does not match the template labels (${k})`);
    }
    out.push(...podProblems(at, ds.spec?.template?.spec ?? {}));
  }
  return out;
}

function podProblems(at: string, pod: Obj): string[] {
  const out: string[] = [];
  const volumes: Obj[] = pod.volumes ?? [];
  const volumeNames = new Set<string>();
  for (const v of volumes) {
    if (volumeNames.has(v.name)) out.push(`${at}: volume ${v.name} is defined twice`);
    volumeNames.add(v.name);
    if (v.hostPath) {
      if (!String(v.hostPath.path).startsWith("/")) {
        out.push(`${at}: volume ${v.name}: hostPath must be absolute`);
      }
      if (!HOST_PATH_TYPES.includes(v.hostPath.type ?? "")) {
        out.push(`${at}: volume ${v.name}: hostPath type ${v.hostPath.type} is not supported`);
      }
    }
  }
  const containers: Obj[] = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  const names = new Set<string>();
  for (const c of containers) {
    if (names.has(c.name)) out.push(`${at}: container name ${c.name} is used twice`);
    names.add(c.name);
    out.push(...containerProblems(`${at} container ${c.name}`, c, volumeNames));
  }
  return out;
}

function containerProblems(at: string, c: Obj, volumes: Set<string>): string[] {
  const out: string[] = [];
  for (const p of PROBES) {
    if (!c[p]) continue;
    const handlers = PROBE_HANDLERS.filter((h) => c[p][h] !== undefined);
    if (handlers.length !== 1) out.push(`${at}: ${p} must have exactly one handler, has ${handlers.length}`);
  }
  const mounts = new Set<string>();
  for (const m of c.volumeMounts ?? []) {
    if (!volumes.has(m.name)) out.push(`${at}: volumeMount ${m.name} names no volume`);
    if (mounts.has(m.mountPath)) out.push(`${at}: mountPath ${m.mountPath} is mounted twice`);
    mounts.add(m.mountPath);
    if (!String(m.mountPath).startsWith("/")) out.push(`${at}: mountPath ${m.mountPath} must be absolute`);
  }
  const caps = c.securityContext?.capabilities ?? {};
  for (const cap of [...(caps.add ?? []), ...(caps.drop ?? [])]) {
    if (!CAPABILITY.test(cap)) out.push(`${at}: capability ${cap} is not a capability name`);
  }
  const envNames = new Set<string>();
  for (const e of c.env ?? []) {
    if (envNames.has(e.name)) out.push(`${at}: env ${e.name} is set twice`);
    envNames.add(e.name);
  }
  return out;
}
