/**
 * `KubeAccess`: where the API server is and how to reach it (TLS material, credentials), read the way
 * `@kubernetes/client-node`'s `KubeConfig` reads it, from client-node's own light modules: `config_types.js`
 * (clusters, users and contexts, validated), `exec_auth.js` and `file_auth.js` (exec plugins; the in-cluster
 * service-account token, re-read every minute). client-node's `dist/config.js` itself is not loaded: it
 * imports the whole generated API (2,556 model modules, ~55 MiB of ipamd's RSS). What only some configs need
 * is loaded when one does: the oidc/azure/gcp auth providers, and for a `proxy-url` the full `KubeConfig`
 * (whose proxy agents need it).
 *
 * `applyToFetchOptions` answers as `KubeConfig`'s does (an http(s) agent and headers), so client-node's
 * `Watch` runs on it unchanged, and so do our requests (kube_request.ts).
 * @module
 */
import http from "node:http";
import https from "node:https";
import { isIPv6 } from "node:net";
import {
  type Cluster,
  type Context,
  newClusters,
  newContexts,
  newUsers,
  type User,
} from "@kubernetes/client-node/dist/config_types.js";
import { ExecAuth } from "@kubernetes/client-node/dist/exec_auth.js";
import { FileAuth } from "@kubernetes/client-node/dist/file_auth.js";

/** The in-cluster service account's files (client-node's and client-go's paths). */
export const SERVICEACCOUNT_ROOT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** node-fetch / node:https request options, as `KubeConfig.applyToFetchOptions` returns them. */
export interface FetchOptions {
  agent?: http.Agent;
  headers: Record<string, string>;
  method?: string;
}

/** One auth provider (client-node's `Authenticator`). */
interface Authenticator {
  isAuthProvider(user: User): unknown;
  applyAuthentication(user: User, opts: { headers: Record<string, string> }): Promise<void>;
}

/** client-node's auth providers that need more than the light modules, loaded when a user names one. */
const LAZY_AUTH: Record<string, () => Promise<Authenticator>> = {
  azure: async () => new (await import("@kubernetes/client-node/dist/azure_auth.js")).AzureAuth(),
  gcp: async () => new (await import("@kubernetes/client-node/dist/gcp_auth.js")).GoogleCloudPlatformAuth(),
  oidc: async () => new (await import("@kubernetes/client-node/dist/oidc_auth.js")).OpenIDConnectAuth(),
};

function fileOrData(file: string | undefined, data: string | undefined): string | undefined {
  if (file) return Deno.readTextFileSync(file);
  if (data) return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  return undefined;
}

/** A kubeconfig's current cluster and user, and how to reach the cluster. */
export class KubeAccess {
  readonly cluster: Cluster;
  readonly user: User;
  readonly #auth: Authenticator[] = [new ExecAuth() as Authenticator, new FileAuth() as Authenticator];
  #agent?: http.Agent;

  constructor(cluster: Cluster, user: User) {
    this.cluster = cluster;
    this.user = user;
  }

  /** The API server URL. */
  get server(): string {
    return this.cluster.server;
  }

  /** The same credentials against another API server address (CLUSTER_ENDPOINT). */
  withServer(server: string): KubeAccess {
    return new KubeAccess({ ...this.cluster, server }, this.user);
  }

  /** From a kubeconfig's text (YAML or JSON); relative file paths are taken from `dir`. */
  static async fromText(text: string, dir = "."): Promise<KubeAccess> {
    let obj;
    try {
      obj = JSON.parse(text);
    } catch {
      obj = (await import("yaml")).parse(text);
    }
    const clusters = newClusters(obj?.clusters),
      users = newUsers(obj?.users),
      contexts = newContexts(obj?.contexts);
    const ctx = contexts.find((c: Context) => c.name === obj?.["current-context"]);
    const cluster = ctx && clusters.find((c: Cluster) => c.name === ctx.cluster);
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const user = users.find((u: User) => u.name === ctx.user) ?? { name: ctx.user };
    const abs = (f?: string) => f && !f.startsWith("/") ? `${dir}/${f}` : f;
    return new KubeAccess(
      { ...cluster, caFile: abs(cluster.caFile) },
      { ...user, certFile: abs(user.certFile), keyFile: abs(user.keyFile) },
    );
  }

  /** From a kubeconfig file. */
  static async fromFile(path: string): Promise<KubeAccess> {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    return await KubeAccess.fromText(await Deno.readTextFile(path), dir);
  }

  /** The in-cluster service account (`$KUBERNETES_SERVICE_HOST`/`_PORT`), as `KubeConfig.loadFromCluster`. */
  static fromCluster(env: Record<string, string | undefined>, root = SERVICEACCOUNT_ROOT): KubeAccess {
    const host = env.KUBERNETES_SERVICE_HOST ?? "", port = env.KUBERNETES_SERVICE_PORT ?? "";
    const scheme = ["80", "8080", "8001"].includes(port) ? "http" : "https";
    const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
    return new KubeAccess(
      { name: "inCluster", caFile: `${root}/ca.crt`, server, skipTLSVerify: false },
      { name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: `${root}/token` } } },
    );
  }

  /**
   * From the environment, as `KubeConfig.loadFromDefault`: `$KUBECONFIG` (its first file), else the in-cluster
   * service account, else `~/.kube/config`, else `http://localhost:8080`.
   */
  static async fromEnv(env: Record<string, string | undefined>): Promise<KubeAccess> {
    if (env.KUBECONFIG) return await KubeAccess.fromFile(env.KUBECONFIG.split(":")[0]);
    if (env.KUBERNETES_SERVICE_HOST) return KubeAccess.fromCluster(env);
    const home = `${env.HOME ?? "/root"}/.kube/config`;
    if (await Deno.stat(home).then(() => true, () => false)) return await KubeAccess.fromFile(home);
    return new KubeAccess({ name: "cluster", server: "http://localhost:8080", skipTLSVerify: true }, {
      name: "user",
    });
  }

  /** `{server}`, for client-node's `Watch`. */
  getCurrentCluster(): Cluster {
    return this.cluster;
  }

  /** An agent and the headers for one request (`KubeConfig.applyToFetchOptions`). */
  async applyToFetchOptions(
    opts: { method?: string; headers?: Record<string, string> } = {},
  ): Promise<FetchOptions> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const u = this.user;
    if (u.impersonateUser) headers["Impersonate-User"] = u.impersonateUser;
    const auth = await this.#authenticator();
    if (auth) await auth.applyAuthentication(u, { headers });
    if (u.token) headers.Authorization = `Bearer ${u.token}`;
    if (u.username) headers.Authorization = `Basic ${btoa(`${u.username}:${u.password ?? ""}`)}`;
    return { agent: await this.#agentFor(), headers, method: opts.method };
  }

  async #authenticator(): Promise<Authenticator | undefined> {
    const found = this.#auth.find((a) => a.isAuthProvider(this.user));
    if (found) return found;
    const load = LAZY_AUTH[this.user.authProvider?.name];
    if (!load) return undefined;
    const a = await load();
    this.#auth.push(a);
    return a;
  }

  /** The agent (one per access, so connections are reused), as `KubeConfig.createAgent`. */
  async #agentFor(): Promise<http.Agent> {
    if (this.#agent) return this.#agent;
    const c = this.cluster, u = this.user;
    if (c.proxyUrl) {
      // The proxy agents come with client-node's full KubeConfig: load it only for a config that has a proxy.
      const { KubeConfig } = await import("@kubernetes/client-node");
      const kc = new KubeConfig();
      kc.loadFromClusterAndUser(c, u);
      const o = await kc.applyToFetchOptions({});
      return this.#agent = o.agent as http.Agent;
    }
    const tls = {
      ca: fileOrData(c.caFile, c.caData),
      cert: fileOrData(u.certFile, u.certData),
      key: fileOrData(u.keyFile, u.keyData),
      rejectUnauthorized: !c.skipTLSVerify,
      ...(c.tlsServerName ? { servername: c.tlsServerName } : {}),
      keepAlive: true,
    };
    if (c.server.startsWith("http:")) {
      if (!c.skipTLSVerify) {
        throw new Error("HTTP protocol is not allowed when skipTLSVerify is not set or false");
      }
      return this.#agent = new http.Agent({ keepAlive: true });
    }
    return this.#agent = new https.Agent(tls);
  }
}
