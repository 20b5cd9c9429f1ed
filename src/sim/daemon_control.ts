/**
 * The daemon's `lab.sock` API: the EC2, IMDS and Kubernetes handlers under `/ec2`, `/imds/<node>`, `/k8s`,
 * plus the lab's control routes under `/lab` (status, faults, pods, a node's ipamd, Kubernetes history
 * compaction, shutdown).
 */
import type { KubeStore } from "./k8s_store.ts";
import { KubeStatusError } from "./k8s_status.ts";

/** A Deno.serve handler. */
export type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** What the control API needs from the daemon. */
export interface ControlDeps {
  ec2: Handler;
  kube: Handler;
  /** IMDS as seen from a node (by 0-based index or name); undefined when there is no such node. */
  imdsFor(node: string): Handler | undefined;
  store: KubeStore;
  status(): unknown;
  getFaults(): unknown;
  /** Replaces the fault settings from `--faults` text; throws RangeError on bad text. */
  setFaults(text: string): unknown;
  nodeName(node: string): string | undefined;
  /**
   * Stops a node's ipamd (as when its aws-node pod is gone) or starts it again. Resolves to the new state, or
   * undefined when there is no such node or the lab runs no ipamd.
   */
  setIpamdRunning(node: string, running: boolean): Promise<unknown | undefined>;
  /** Adds a pod as a kubelet + runtime would (daemon_pods.ts `runPod`): the answer's status and body. */
  runPod(body: unknown): Promise<{ status: number; body: unknown }>;
  /** Ends every open Kubernetes watch (the clients re-watch), as an API server restart does. */
  endWatches(): void;
  shutdown(): void;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** A JSON error body the CLI prints verbatim. */
export function errorResponse(status: number, message: string): Response {
  return json({ error: message }, status);
}

/** Strips `prefix` from the request's path, keeping method, headers, body and query. */
export function rebase(req: Request, prefix: string): Request {
  const u = new URL(req.url);
  u.pathname = u.pathname.slice(prefix.length) || "/";
  return new Request(u, req);
}

/** Builds the lab.sock handler. */
export function controlHandler(deps: ControlDeps): Handler {
  return async (req, info) => {
    const path = new URL(req.url).pathname;
    try {
      if (path === "/ec2" || path.startsWith("/ec2/")) return await deps.ec2(rebase(req, "/ec2"), info);
      if (path === "/k8s" || path.startsWith("/k8s/")) return await deps.kube(rebase(req, "/k8s"), info);
      const im = path.match(/^\/imds\/([^/]+)(\/.*)?$/);
      if (im) {
        const h = deps.imdsFor(decodeURIComponent(im[1]));
        if (!h) return errorResponse(404, `no node ${im[1]}`);
        return await h(rebase(req, `/imds/${im[1]}`), info);
      }
      if (path === "/lab/status" && req.method === "GET") return json(deps.status());
      if (path === "/lab/faults") {
        if (req.method === "GET") return json(deps.getFaults());
        if (req.method === "PUT" || req.method === "POST") {
          const body = await req.json() as { faults?: string };
          try {
            return json(deps.setFaults(String(body.faults ?? "")));
          } catch (e) {
            if (e instanceof RangeError || e instanceof SyntaxError) return errorResponse(400, e.message);
            throw e;
          }
        }
      }
      if (path === "/lab/k8s/compact" && req.method === "POST") {
        const b = await req.json().catch(() => ({})) as { endWatches?: boolean };
        deps.store.compact();
        if (b.endWatches) deps.endWatches();
        return json({ compactedResourceVersion: deps.store.oldestResumableResourceVersion });
      }
      if (path === "/lab/shutdown" && req.method === "POST") {
        setTimeout(() => deps.shutdown(), 10);
        return json({ stopping: true });
      }
      if (path === "/lab/pods" && req.method === "POST") {
        const b = await req.json() as { namespace?: string; name?: string; node?: string };
        const nodeName = deps.nodeName(String(b.node ?? "0"));
        if (!b.name || !nodeName) return errorResponse(400, "pods: need name and an existing node");
        return json(
          deps.store.createPod({ namespace: b.namespace ?? "default", name: b.name, nodeName }),
          201,
        );
      }
      if (path === "/lab/pods/run" && req.method === "POST") {
        const r = await deps.runPod(await req.json());
        return json(r.body, r.status);
      }
      const im2 = path.match(/^\/lab\/nodes\/([^/]+)\/ipamd$/);
      if (im2 && req.method === "PUT") {
        const b = await req.json() as { running?: unknown };
        if (typeof b.running !== "boolean") return errorResponse(400, 'ipamd: need {"running": true|false}');
        const r = await deps.setIpamdRunning(decodeURIComponent(im2[1]), b.running);
        return r === undefined ? errorResponse(404, `no node ${im2[1]} with a supervised ipamd`) : json(r);
      }
      const pm = path.match(/^\/lab\/pods\/([^/]+)\/([^/]+)(\/ip)?$/);
      if (pm) {
        const [ns, name] = [decodeURIComponent(pm[1]), decodeURIComponent(pm[2])];
        if (pm[3] && req.method === "PUT") {
          const b = await req.json() as { ip?: string; phase?: string };
          return json(deps.store.setPodIp(ns, name, b.ip || undefined, b.phase));
        }
        if (!pm[3] && req.method === "DELETE") return json(deps.store.deletePod(ns, name));
        if (!pm[3] && req.method === "GET") return json(deps.store.mustGet("pods", ns, name));
      }
      return errorResponse(404, `no route ${req.method} ${path}`);
    } catch (e) {
      if (e instanceof KubeStatusError) return json(e.toStatus(), e.code);
      return errorResponse(500, (e as Error).stack ?? String(e));
    }
  };
}
