/** The lab API server's discovery and health endpoints: /version, /healthz, /api, /apis and each group version. */

import { COLLECTIONS } from "./k8s_collections.ts";
import { RESOURCES, VERBS } from "./k8s_api_resources.ts";

/**
 * The discovery document at `path` (an object, or text for the health endpoints), or undefined when `path`
 * is not a discovery path.
 */
export function discoveryDoc(gitVersion: string, path: string, url: URL): unknown | string | undefined {
  switch (path) {
    case "/version":
      return {
        major: "1",
        minor: "31",
        gitVersion,
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2026-11-25T00:00:00Z",
        goVersion: "go1.23",
        compiler: "gc",
        platform: "linux/amd64",
      };
    case "/healthz":
    case "/livez":
    case "/readyz":
      return "ok";
    case "/api":
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: url.host }],
      };
    case "/apis":
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: ["crd.k8s.amazonaws.com/v1alpha1", "events.k8s.io/v1"].map((gv) => {
          const [name, version] = gv.split("/");
          const v = { groupVersion: gv, version };
          return { name, versions: [v], preferredVersion: v };
        }),
      };
  }
  const bases = [...new Set(RESOURCES.map((r) => r.base))];
  const base = bases.find((b) => b === path);
  if (base === undefined) return undefined;
  const groupVersion = base === "/api/v1" ? "v1" : base.slice("/apis/".length);
  const resources: unknown[] = [];
  for (const r of RESOURCES.filter((r) => r.base === base)) {
    const info = COLLECTIONS[r.collection];
    resources.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: VERBS,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    });
    if (r.collection === "pods" || r.collection === "nodes") {
      resources.push({
        name: `${r.plural}/status`,
        singularName: "",
        namespaced: info.namespaced,
        kind: info.kind,
        verbs: ["get", "patch", "update"],
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources };
}
