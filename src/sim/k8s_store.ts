/**
 * The lab's Kubernetes object store: nodes, pods, ENIConfigs and events under one monotonically increasing
 * resourceVersion, with selector-filtered watchers and a bounded event history (a watch from an old
 * resourceVersion replays; one older than the history fails with 410 Gone). Pure: no I/O.
 */

import {
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from "./k8s_store_selector.ts";

/** The collections the store keeps. */
export type Collection = "nodes" | "pods" | "eniconfigs" | "events";

/** Object metadata as the API server returns it. */
export interface ObjectMeta {
  name: string;
  generateName?: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  [k: string]: unknown;
}

/** Any stored object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

/** What `create` accepts: any object whose metadata may lack the server-set fields. */
export interface NewObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Partial<ObjectMeta>;
  [k: string]: unknown;
}

/** A watch event as streamed by the API server. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
}

/** What a collection is: kind, apiVersion, scope and the field labels its selectors may use. */
export interface CollectionInfo {
  kind: string;
  listKind: string;
  apiVersion: string;
  namespaced: boolean;
  fieldLabels: readonly string[];
}

/** The collections' descriptions. */
export const COLLECTIONS: Readonly<Record<Collection, CollectionInfo>> = {
  nodes: {
    kind: "Node",
    listKind: "NodeList",
    apiVersion: "v1",
    namespaced: false,
    fieldLabels: ["metadata.name", "spec.unschedulable"],
  },
  pods: {
    kind: "Pod",
    listKind: "PodList",
    apiVersion: "v1",
    namespaced: true,
    fieldLabels: [
      "metadata.name",
      "metadata.namespace",
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  },
  eniconfigs: {
    kind: "ENIConfig",
    listKind: "ENIConfigList",
    apiVersion: "crd.k8s.amazonaws.com/v1alpha1",
    namespaced: false,
    fieldLabels: ["metadata.name", "metadata.namespace"],
  },
  events: {
    kind: "Event",
    listKind: "EventList",
    apiVersion: "v1",
    namespaced: true,
    fieldLabels: [
      "metadata.name",
      "metadata.namespace",
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type",
    ],
  },
};

/** A Kubernetes `Status` object (what the server answers on errors and some deletes). */
export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { message: string; field?: string }[] };
  code: number;
}

/** A failure the API server reports as a `Status` with `code` and `reason` (NotFound, AlreadyExists, ...). */
export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: KubeStatus["details"],
  ) {
    super(message);
    this.name = "KubeStatusError";
  }

  /** The `Status` object for this failure. */
  toStatus(): KubeStatus {
    const s: KubeStatus = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** List options (selectors as the query strings carry them). */
export interface ListOptions {
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  limit?: number;
  continue?: string;
}

/** A list answer. */
export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** Watch options. `resourceVersion` unset or "0": synthetic ADDED for every current object first. */
export interface WatchOptions {
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  resourceVersion?: string;
}

/** A registered watcher. */
export interface StoreWatcher {
  /** Stops delivery; idempotent. */
  close(): void;
}

/** Store construction options. */
export interface KubeStoreOptions {
  /** How many events the history keeps for watch resumption (default 1000). */
  historyLimit?: number;
  /** Clock for timestamps (default `new Date()`). */
  now?: () => Date;
  /** uid generator (default `crypto.randomUUID`). */
  uid?: () => string;
}

/** Label/annotation changes: a `null` value removes the key. */
export type MapPatch = Record<string, string | null>;

interface HistoryEntry {
  rv: number;
  collection: Collection;
  type: WatchEvent["type"];
  object: KubeObject;
  prev?: KubeObject;
}

interface Filter {
  namespace?: string;
  fields: FieldRequirement[];
  labels: LabelRequirement[];
}

interface WatcherRec {
  filter: Filter;
  onEvent: (e: WatchEvent) => void;
  open: boolean;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The object store. */
export class KubeStore {
  #rv = 0;
  #compactedRv = 0;
  #objects = new Map<Collection, Map<string, KubeObject>>();
  #history: HistoryEntry[] = [];
  #watchers = new Map<Collection, Set<WatcherRec>>();
  #historyLimit: number;
  #now: () => Date;
  #uid: () => string;

  constructor(opts: KubeStoreOptions = {}) {
    this.#historyLimit = Math.max(1, opts.historyLimit ?? 1000);
    this.#now = opts.now ?? (() => new Date());
    this.#uid = opts.uid ?? (() => crypto.randomUUID());
    for (const c of Object.keys(COLLECTIONS) as Collection[]) {
      this.#objects.set(c, new Map());
      this.#watchers.set(c, new Set());
    }
  }

  /** The newest resourceVersion (the one the last write produced). */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Events after this resourceVersion are still in the history (older watches get 410). */
  get oldestResumableResourceVersion(): string {
    return String(this.#compactedRv);
  }

  // ---- generic access (the HTTP handler uses these) ----

  /** One object, or undefined. */
  get(collection: Collection, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.#objects.get(collection)!.get(keyOf(collection, namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  /** One object, or `KubeStatusError` 404. */
  mustGet(collection: Collection, namespace: string | undefined, name: string): KubeObject {
    const o = this.get(collection, namespace, name);
    if (!o) throw notFound(collection, name);
    return o;
  }

  /** Lists objects (sorted by namespace/name), filtered by namespace and selectors, optionally paged. */
  list(collection: Collection, opts: ListOptions = {}): ListResult {
    const filter = this.#filter(collection, opts);
    const all = [...this.#objects.get(collection)!.entries()]
      .filter(([, o]) => matches(o, filter))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let start = 0;
    let rv = this.resourceVersion;
    if (opts.continue) {
      const tok = decodeContinue(opts.continue);
      rv = tok.rv;
      start = all.findIndex(([k]) => k > tok.key);
      if (start < 0) start = all.length;
    }
    let page = all.slice(start);
    let cont: string | undefined;
    let remaining: number | undefined;
    if (opts.limit !== undefined && opts.limit > 0 && page.length > opts.limit) {
      page = page.slice(0, opts.limit);
      remaining = all.length - start - page.length;
      cont = encodeContinue(page[page.length - 1][0], rv);
    }
    const out: ListResult = { items: page.map(([, o]) => structuredClone(o)), resourceVersion: rv };
    if (cont) {
      out.continue = cont;
      out.remainingItemCount = remaining;
    }
    return out;
  }

  /**
   * Creates an object. `metadata.generateName` is honoured; namespaced objects need `metadata.namespace`.
   * Fails with 409 AlreadyExists or 422 Invalid.
   */
  create(
    collection: Collection,
    input: NewObject,
    opts: { uid?: string } = {},
  ): KubeObject {
    const info = COLLECTIONS[collection];
    const obj = structuredClone(input) as KubeObject;
    const meta = { ...(obj.metadata ?? {}) } as ObjectMeta;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    if (!meta.name) throw invalid(info.kind, "", "metadata.name", "name or generateName is required");
    if (!NAME_RE.test(meta.name) || meta.name.length > 253) {
      throw invalid(info.kind, meta.name, "metadata.name", "a lowercase RFC 1123 subdomain must be used");
    }
    if (info.namespaced) {
      if (!meta.namespace) throw invalid(info.kind, meta.name, "metadata.namespace", "namespace is required");
    } else delete meta.namespace;
    const key = keyOf(collection, meta.namespace, meta.name);
    if (this.#objects.get(collection)!.has(key)) {
      throw new KubeStatusError(
        409,
        "AlreadyExists",
        `${plural(collection)} "${meta.name}" already exists`,
        { name: meta.name, group: groupOf(info), kind: collection },
      );
    }
    meta.uid = opts.uid ?? this.#uid();
    meta.creationTimestamp = this.#timestamp();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    obj.apiVersion = info.apiVersion;
    obj.kind = info.kind;
    obj.metadata = meta;
    this.#validate(collection, obj);
    return this.#commit(collection, "ADDED", obj, undefined);
  }

  /**
   * Replaces an object (PUT). A `metadata.resourceVersion` in `input` is a precondition (409 Conflict).
   * With `subresource: "status"` only `status` changes; otherwise pods' and nodes' `status` is kept.
   * A write that changes nothing produces no new resourceVersion and no event.
   */
  update(collection: Collection, input: KubeObject, opts: { subresource?: "status" } = {}): KubeObject {
    const info = COLLECTIONS[collection];
    const name = input?.metadata?.name;
    if (!name) throw invalid(info.kind, "", "metadata.name", "name is required");
    const namespace = info.namespaced ? input.metadata.namespace : undefined;
    const cur = this.#objects.get(collection)!.get(keyOf(collection, namespace, name));
    if (!cur) throw notFound(collection, name);
    const wantRv = input.metadata.resourceVersion;
    if (wantRv !== undefined && wantRv !== "" && wantRv !== cur.metadata.resourceVersion) {
      throw new KubeStatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${plural(collection)} "${name}": the object has been modified; ` +
          "please apply your changes to the latest version and try again",
        { name, group: groupOf(info), kind: collection },
      );
    }
    let next: KubeObject;
    if (opts.subresource === "status") {
      next = structuredClone(cur);
      if (input.status === undefined) delete next.status;
      else next.status = structuredClone(input.status);
    } else {
      next = structuredClone(input);
      next.metadata = {
        ...structuredClone(input.metadata),
        name: cur.metadata.name,
        uid: cur.metadata.uid,
        creationTimestamp: cur.metadata.creationTimestamp,
        resourceVersion: cur.metadata.resourceVersion,
      };
      if (info.namespaced) next.metadata.namespace = cur.metadata.namespace;
      else delete next.metadata.namespace;
      if (cur.metadata.generateName) next.metadata.generateName = cur.metadata.generateName;
      if (cur.metadata.deletionTimestamp) {
        next.metadata.deletionTimestamp = cur.metadata.deletionTimestamp;
        if (cur.metadata.deletionGracePeriodSeconds !== undefined) {
          next.metadata.deletionGracePeriodSeconds = cur.metadata.deletionGracePeriodSeconds;
        }
      } else {
        delete next.metadata.deletionTimestamp;
        delete next.metadata.deletionGracePeriodSeconds;
      }
      if (collection === "pods" || collection === "nodes") {
        if (cur.status === undefined) delete next.status;
        else next.status = structuredClone(cur.status);
      }
    }
    next.apiVersion = info.apiVersion;
    next.kind = info.kind;
    this.#validate(collection, next);
    if (deepEqual(next, cur)) return structuredClone(cur);
    return this.#commit(collection, "MODIFIED", next, cur);
  }

  /**
   * Read-modify-write: `fn` gets a copy of the current object and returns the new one (see `update`).
   * A resourceVersion `fn` leaves different from the current one is a precondition (409 Conflict).
   */
  patch(
    collection: Collection,
    namespace: string | undefined,
    name: string,
    fn: (cur: KubeObject) => KubeObject,
    opts: { subresource?: "status" } = {},
  ): KubeObject {
    const cur = this.mustGet(collection, namespace, name);
    const next = fn(structuredClone(cur));
    if (!next || typeof next !== "object" || Array.isArray(next)) {
      throw new KubeStatusError(400, "BadRequest", "patch must produce an object");
    }
    if (!next.metadata || typeof next.metadata !== "object") next.metadata = structuredClone(cur.metadata);
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw invalid(COLLECTIONS[collection].kind, name, "metadata.name", "field is immutable");
    }
    next.metadata.name = name;
    if (COLLECTIONS[collection].namespaced) next.metadata.namespace = namespace;
    if (next.metadata.resourceVersion === undefined) {
      next.metadata.resourceVersion = cur.metadata.resourceVersion;
    }
    return this.update(collection, next, opts);
  }

  /**
   * Deletes an object and returns its last state. With `graceful` (pods on a node), the first delete only
   * sets `deletionTimestamp` (MODIFIED) and a later non-graceful delete removes it (DELETED).
   */
  delete(
    collection: Collection,
    namespace: string | undefined,
    name: string,
    opts: { graceful?: boolean; gracePeriodSeconds?: number; uid?: string; resourceVersion?: string } = {},
  ): { object: KubeObject; removed: boolean } {
    const key = keyOf(collection, COLLECTIONS[collection].namespaced ? namespace : undefined, name);
    const cur = this.#objects.get(collection)!.get(key);
    if (!cur) throw notFound(collection, name);
    if (
      (opts.uid !== undefined && opts.uid !== cur.metadata.uid) ||
      (opts.resourceVersion !== undefined && opts.resourceVersion !== cur.metadata.resourceVersion)
    ) {
      throw new KubeStatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${plural(collection)} "${name}": precondition failed`,
        { name, kind: collection },
      );
    }
    if (opts.graceful) {
      if (cur.metadata.deletionTimestamp) return { object: structuredClone(cur), removed: false };
      const next = structuredClone(cur);
      next.metadata.deletionTimestamp = this.#timestamp();
      next.metadata.deletionGracePeriodSeconds = opts.gracePeriodSeconds ?? 30;
      return { object: this.#commit(collection, "MODIFIED", next, cur), removed: false };
    }
    const gone = structuredClone(cur);
    return { object: this.#commit(collection, "DELETED", gone, cur), removed: true };
  }

  /**
   * Watches a collection. Replays history after `resourceVersion` (410 Gone when it is older than the
   * history, 400 when not a number); unset or "0" first sends ADDED for every current object. With
   * selectors, an object that starts matching arrives as ADDED and one that stops matching as DELETED.
   * `onEvent` is called synchronously (during this call for the replay); it must not mutate the object.
   */
  watch(collection: Collection, opts: WatchOptions, onEvent: (e: WatchEvent) => void): StoreWatcher {
    const filter = this.#filter(collection, opts);
    const rec: WatcherRec = { filter, onEvent, open: true };
    const rvText = opts.resourceVersion ?? "";
    if (rvText === "" || rvText === "0") {
      for (const o of this.list(collection, opts).items) onEvent({ type: "ADDED", object: o });
    } else {
      const from = parseRv(rvText);
      if (from < this.#compactedRv) {
        throw new KubeStatusError(
          410,
          "Expired",
          `too old resource version: ${from} (${this.#compactedRv + 1})`,
        );
      }
      for (const h of this.#history) {
        if (h.rv <= from || h.collection !== collection) continue;
        const e = project(h, filter);
        if (e) onEvent(e);
        if (!rec.open) break;
      }
    }
    const set = this.#watchers.get(collection)!;
    set.add(rec);
    return {
      close: () => {
        rec.open = false;
        set.delete(rec);
      },
    };
  }

  /** How many watchers are registered (all collections, or one). */
  watcherCount(collection?: Collection): number {
    if (collection) return this.#watchers.get(collection)!.size;
    let n = 0;
    for (const s of this.#watchers.values()) n += s.size;
    return n;
  }

  // ---- lab helpers ----

  /** Adds a Ready node. */
  addNode(
    name: string,
    o: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      providerID?: string;
      internalIP?: string;
    } = {},
  ): KubeObject {
    const status: Record<string, unknown> = {
      conditions: [{
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "kubelet is posting ready status",
        lastHeartbeatTime: this.#timestamp(),
        lastTransitionTime: this.#timestamp(),
      }],
      nodeInfo: {
        architecture: "amd64",
        operatingSystem: "linux",
        kubeletVersion: "v1.31.0",
        kernelVersion: "",
        osImage: "vpc-cni lab",
        containerRuntimeVersion: "",
        kubeProxyVersion: "",
        machineID: "",
        systemUUID: "",
        bootID: "",
      },
    };
    if (o.internalIP) {
      status.addresses = [{ type: "InternalIP", address: o.internalIP }, { type: "Hostname", address: name }];
    }
    return this.create("nodes", {
      metadata: {
        name,
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...(o.labels ?? {}) },
        annotations: { ...(o.annotations ?? {}) },
      },
      spec: o.providerID ? { providerID: o.providerID } : {},
      status,
    });
  }

  /** Changes a node's labels/annotations (`null` removes a key). */
  patchNode(name: string, p: { labels?: MapPatch; annotations?: MapPatch }): KubeObject {
    return this.patch("nodes", undefined, name, (n) => {
      n.metadata.labels = applyMapPatch(n.metadata.labels, p.labels);
      n.metadata.annotations = applyMapPatch(n.metadata.annotations, p.annotations);
      return n;
    });
  }

  /** Removes a node. */
  deleteNode(name: string): KubeObject {
    return this.delete("nodes", undefined, name).object;
  }

  /** Creates a Pending pod scheduled on `nodeName`. */
  createPod(
    o: {
      namespace: string;
      name: string;
      nodeName: string;
      uid?: string;
      labels?: Record<string, string>;
      hostNetwork?: boolean;
    },
  ): KubeObject {
    return this.create("pods", {
      metadata: { name: o.name, namespace: o.namespace, labels: o.labels ?? {} },
      spec: {
        nodeName: o.nodeName,
        containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }],
        ...(o.hostNetwork ? { hostNetwork: true } : {}),
      },
      status: { phase: "Pending" },
    }, { uid: o.uid });
  }

  /** Sets (or clears, with undefined) a pod's IP and its phase (default Running when set, Pending when cleared). */
  setPodIp(namespace: string, name: string, ip: string | undefined, phase?: string): KubeObject {
    return this.patch("pods", namespace, name, (p) => {
      const st = { ...((p.status as Record<string, unknown>) ?? {}) };
      if (ip) {
        st.podIP = ip;
        st.podIPs = [{ ip }];
      } else {
        delete st.podIP;
        delete st.podIPs;
      }
      st.phase = phase ?? (ip ? "Running" : "Pending");
      p.status = st;
      return p;
    }, { subresource: "status" });
  }

  /** Deletes a pod; `graceful` only marks it (deletionTimestamp) as the API server does for a running pod. */
  deletePod(namespace: string, name: string, o: { graceful?: boolean } = {}): KubeObject {
    return this.delete("pods", namespace, name, { graceful: o.graceful }).object;
  }

  /** Creates or replaces an ENIConfig. */
  putEniConfig(name: string, spec: { subnet: string; securityGroups?: string[] }): KubeObject {
    const body = { subnet: spec.subnet, securityGroups: [...(spec.securityGroups ?? [])] };
    const cur = this.get("eniconfigs", undefined, name);
    if (!cur) return this.create("eniconfigs", { metadata: { name }, spec: body });
    return this.update("eniconfigs", { ...cur, spec: body });
  }

  /** Deletes an ENIConfig (404 if absent). */
  deleteEniConfig(name: string): KubeObject {
    return this.delete("eniconfigs", undefined, name).object;
  }

  /** Records a core/v1 Event. */
  createEvent(
    o: {
      namespace?: string;
      involvedObject: { kind: string; name: string; namespace?: string; uid?: string; apiVersion?: string };
      reason: string;
      message: string;
      type?: "Normal" | "Warning";
      source?: { component?: string; host?: string };
    },
  ): KubeObject {
    const ts = this.#timestamp();
    return this.create("events", {
      metadata: { generateName: `${o.involvedObject.name}.`, namespace: o.namespace ?? "default" },
      involvedObject: o.involvedObject,
      reason: o.reason,
      message: o.message,
      type: o.type ?? "Normal",
      source: o.source ?? {},
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
    });
  }

  /** A node, or undefined. */
  getNode(name: string): KubeObject | undefined {
    return this.get("nodes", undefined, name);
  }

  /** All nodes. */
  listNodes(): KubeObject[] {
    return this.list("nodes").items;
  }

  /** A pod, or undefined. */
  getPod(namespace: string, name: string): KubeObject | undefined {
    return this.get("pods", namespace, name);
  }

  /** Pods, optionally only those on a node and/or in a namespace. */
  listPods(o: { nodeName?: string; namespace?: string } = {}): KubeObject[] {
    return this.list("pods", {
      namespace: o.namespace,
      fieldSelector: o.nodeName !== undefined ? `spec.nodeName=${o.nodeName}` : undefined,
    }).items;
  }

  /** An ENIConfig, or undefined. */
  getEniConfig(name: string): KubeObject | undefined {
    return this.get("eniconfigs", undefined, name);
  }

  /** All ENIConfigs. */
  listEniConfigs(): KubeObject[] {
    return this.list("eniconfigs").items;
  }

  /** Events, optionally about one object and/or with one reason. */
  listEvents(o: { involvedName?: string; reason?: string; namespace?: string } = {}): KubeObject[] {
    const sel: string[] = [];
    if (o.involvedName !== undefined) sel.push(`involvedObject.name=${o.involvedName}`);
    if (o.reason !== undefined) sel.push(`reason=${o.reason}`);
    return this.list("events", { namespace: o.namespace, fieldSelector: sel.join(",") }).items;
  }

  // ---- internals ----

  #filter(
    collection: Collection,
    o: { namespace?: string; fieldSelector?: string; labelSelector?: string },
  ): Filter {
    try {
      return {
        namespace: COLLECTIONS[collection].namespaced && o.namespace ? o.namespace : undefined,
        fields: parseFieldSelector(o.fieldSelector, COLLECTIONS[collection].fieldLabels),
        labels: parseLabelSelector(o.labelSelector),
      };
    } catch (e) {
      if (e instanceof SelectorError) throw new KubeStatusError(400, "BadRequest", e.message);
      throw e;
    }
  }

  #validate(collection: Collection, obj: KubeObject): void {
    const kind = COLLECTIONS[collection].kind;
    const name = obj.metadata.name;
    for (const f of ["labels", "annotations"] as const) {
      const m = obj.metadata[f];
      if (m === undefined || m === null) {
        delete obj.metadata[f];
        continue;
      }
      if (typeof m !== "object" || Array.isArray(m) || Object.values(m).some((v) => typeof v !== "string")) {
        throw invalid(kind, name, `metadata.${f}`, "must be a map of strings");
      }
    }
    if (collection === "pods") {
      const spec = obj.spec as { containers?: unknown } | undefined;
      if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0) {
        throw invalid(kind, name, "spec.containers", "Required value");
      }
    }
    if (collection === "eniconfigs") {
      const spec = obj.spec as { subnet?: unknown; securityGroups?: unknown } | undefined;
      if (spec !== undefined && (typeof spec !== "object" || spec === null)) {
        throw invalid(kind, name, "spec", "must be an object");
      }
      if (spec?.subnet !== undefined && typeof spec.subnet !== "string") {
        throw invalid(kind, name, "spec.subnet", "must be of type string");
      }
      if (
        spec?.securityGroups !== undefined &&
        (!Array.isArray(spec.securityGroups) || spec.securityGroups.some((g) => typeof g !== "string"))
      ) {
        throw invalid(kind, name, "spec.securityGroups", "must be an array of strings");
      }
    }
  }

  #commit(collection: Collection, type: WatchEvent["type"], obj: KubeObject, prev: KubeObject | undefined) {
    this.#rv++;
    obj.metadata.resourceVersion = String(this.#rv);
    const map = this.#objects.get(collection)!;
    const key = keyOf(collection, obj.metadata.namespace, obj.metadata.name);
    if (type === "DELETED") map.delete(key);
    else map.set(key, obj);
    const entry: HistoryEntry = { rv: this.#rv, collection, type, object: structuredClone(obj), prev };
    this.#history.push(entry);
    while (this.#history.length > this.#historyLimit) this.#compactedRv = this.#history.shift()!.rv;
    for (const w of [...this.#watchers.get(collection)!]) {
      if (!w.open) continue;
      const e = project(entry, w.filter);
      if (!e) continue;
      try {
        w.onEvent(e);
      } catch {
        // A failing watcher must not break the write.
      }
    }
    return structuredClone(obj);
  }

  #timestamp(): string {
    return this.#now().toISOString().replace(/\.\d+Z$/, "Z");
  }
}

/** Applies a label/annotation patch (`null` removes). */
export function applyMapPatch(
  cur: Record<string, string> | undefined,
  p: MapPatch | undefined,
): Record<string, string> {
  const out = { ...(cur ?? {}) };
  for (const [k, v] of Object.entries(p ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function project(h: HistoryEntry, f: Filter): WatchEvent | undefined {
  const now = matches(h.object, f);
  if (h.type === "ADDED") return now ? { type: "ADDED", object: h.object } : undefined;
  if (h.type === "DELETED") return now ? { type: "DELETED", object: h.object } : undefined;
  const before = h.prev !== undefined && matches(h.prev, f);
  if (before && now) return { type: "MODIFIED", object: h.object };
  if (!before && now) return { type: "ADDED", object: h.object };
  if (before && !now) return { type: "DELETED", object: h.object };
  return undefined;
}

function matches(o: KubeObject, f: Filter): boolean {
  if (f.namespace !== undefined && o.metadata.namespace !== f.namespace) return false;
  return matchesFields(o, f.fields) && matchesLabels(o.metadata.labels, f.labels);
}

function keyOf(collection: Collection, namespace: string | undefined, name: string): string {
  return COLLECTIONS[collection].namespaced ? `${namespace ?? ""}/${name}` : name;
}

function parseRv(s: string): number {
  if (!/^\d+$/.test(s)) throw new KubeStatusError(400, "BadRequest", `invalid resource version: ${s}`);
  return Number(s);
}

function plural(c: Collection): string {
  return c === "eniconfigs" ? "eniconfigs.crd.k8s.amazonaws.com" : c;
}

function groupOf(info: CollectionInfo): string {
  return info.apiVersion.includes("/") ? info.apiVersion.split("/")[0] : "";
}

function notFound(collection: Collection, name: string): KubeStatusError {
  const info = COLLECTIONS[collection];
  return new KubeStatusError(404, "NotFound", `${plural(collection)} "${name}" not found`, {
    name,
    group: groupOf(info),
    kind: collection,
  });
}

function invalid(kind: string, name: string, field: string, message: string): KubeStatusError {
  return new KubeStatusError(422, "Invalid", `${kind} "${name}" is invalid: ${field}: ${message}`, {
    name,
    kind,
    causes: [{ field, message }],
  });
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

function encodeContinue(key: string, rv: string): string {
  return btoa(JSON.stringify({ k: key, rv }));
}

function decodeContinue(tok: string): { key: string; rv: string } {
  try {
    const o = JSON.parse(atob(tok));
    if (typeof o.k === "string" && typeof o.rv === "string") return { key: o.k, rv: o.rv };
  } catch {
    // fall through
  }
  throw new KubeStatusError(400, "BadRequest", "invalid continue token");
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}
