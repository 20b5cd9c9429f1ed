/**
 * Writes a kubeconfig for one API server, readable by `@kubernetes/client-node` and kubectl. A plain-http
 * server gets `insecure-skip-tls-verify: true`, without which client-node refuses http.
 */

/** What the kubeconfig points at. */
export interface KubeconfigOptions {
  /** API server URL, e.g. `http://10.0.255.253:6443`. */
  server: string;
  /** Bearer token (optional: the lab accepts any). */
  token?: string;
  /** Default namespace of the context. */
  namespace?: string;
  /** Cluster/context/user name (default "vpc-cni-lab"). */
  name?: string;
}

/** Renders the kubeconfig YAML (every scalar JSON-quoted, which YAML reads as a double-quoted string). */
export function renderKubeconfig(o: KubeconfigOptions): string {
  const url = new URL(o.server); // throws TypeError on a malformed server
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`kubeconfig server must be http(s): ${o.server}`);
  }
  const name = o.name ?? "vpc-cni-lab";
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    "apiVersion: v1",
    "kind: Config",
    "preferences: {}",
    "clusters:",
    `- name: ${q(name)}`,
    "  cluster:",
    `    server: ${q(o.server)}`,
  ];
  // client-node refuses a plain-http server unless TLS verification is (vacuously) off.
  if (url.protocol === "http:") lines.push("    insecure-skip-tls-verify: true");
  lines.push(
    "contexts:",
    `- name: ${q(name)}`,
    "  context:",
    `    cluster: ${q(name)}`,
    `    user: ${q(name)}`,
  );
  if (o.namespace) lines.push(`    namespace: ${q(o.namespace)}`);
  lines.push(`current-context: ${q(name)}`, "users:", `- name: ${q(name)}`);
  if (o.token) lines.push("  user:", `    token: ${q(o.token)}`);
  else lines.push("  user: {}");
  return lines.join("\n") + "\n";
}

/** Writes the kubeconfig to `path` (mode 0600, atomically via a temporary file and rename). */
export async function writeKubeconfig(path: string, o: KubeconfigOptions): Promise<void> {
  const text = renderKubeconfig(o);
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
