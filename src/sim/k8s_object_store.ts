/**
 * The lab's generic Kubernetes object store: every collection under one monotonically increasing
 * resourceVersion, with get/list (paged)/create/update/patch/delete, selector-filtered watchers and a bounded
 * event history (a watch from an old resourceVersion replays; one older than the history fails with 410 Gone).
 * Pure: no I/O. `KubeStore` (k8s_store.ts) adds the lab's per-resource helpers.
 */

import {
  type Collection,
  COLLECTIONS,
  type KubeObject,
  type NewObject,
  type ObjectMeta,
  type WatchEvent,
} from "./k8s_collections.ts";
import { alreadyExists, badRequest, conflict, invalid, KubeStatusError, notFound } from "./k8s_status.ts";
import { validateName, validateObject } from "./k8s_validate.ts";
import { type Change, type Filter, matchesFilter, parseFilter, projectChange } from "./k8s_watch_filter.ts";
import {
  decodeContinue,
  deepEqual,
  encodeContinue,
  parseResourceVersion,
  randomNameSuffix,
} from "./k8s_store_util.ts";

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
  /** Watch-list (`sendInitialEvents`): true sends the current objects, false none; see `watch`. */
  sendInitialEvents?: boolean;
}

/** A registered watcher. */
export interface StoreWatcher {
  /** The resourceVersion the watch started at: its initial events show the store as of this version. */
  readonly startResourceVersion: string;
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

interface HistoryEntry extends Change {
  rv: number;
  collection: Collection;
}

interface WatcherRec {
  filter: Filter;
  onEvent: (e: WatchEvent) => void;
  open: boolean;
}

/** The generic object store. */
export class KubeObjectStore {
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
    const filter = parseFilter(collection, opts);
    const all = [...this.#objects.get(collection)!.entries()]
      .filter(([, o]) => matchesFilter(o, filter))
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
  create(collection: Collection, input: NewObject, opts: { uid?: string } = {}): KubeObject {
    const info = COLLECTIONS[collection];
    const obj = structuredClone(input) as KubeObject;
    const meta = { ...(obj.metadata ?? {}) } as ObjectMeta;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomNameSuffix();
    if (!meta.name) throw invalid(info.kind, "", "metadata.name", "name or generateName is required");
    validateName(info.kind, meta.name);
    if (info.namespaced) {
      if (!meta.namespace) throw invalid(info.kind, meta.name, "metadata.namespace", "namespace is required");
    } else delete meta.namespace;
    if (this.#objects.get(collection)!.has(keyOf(collection, meta.namespace, meta.name))) {
      throw alreadyExists(collection, meta.name);
    }
    meta.uid = opts.uid ?? this.#uid();
    meta.creationTimestamp = this.timestamp();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    obj.apiVersion = info.apiVersion;
    obj.kind = info.kind;
    obj.metadata = meta;
    validateObject(collection, obj);
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
      throw conflict(
        collection,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    }
    const next = opts.subresource === "status"
      ? withStatusOf(cur, input)
      : replacement(collection, cur, input);
    next.apiVersion = info.apiVersion;
    next.kind = info.kind;
    validateObject(collection, next);
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
      throw badRequest("patch must produce an object");
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
      throw conflict(collection, name, "precondition failed");
    }
    if (opts.graceful) {
      if (cur.metadata.deletionTimestamp) return { object: structuredClone(cur), removed: false };
      const next = structuredClone(cur);
      next.metadata.deletionTimestamp = this.timestamp();
      next.metadata.deletionGracePeriodSeconds = opts.gracePeriodSeconds ?? 30;
      return { object: this.#commit(collection, "MODIFIED", next, cur), removed: false };
    }
    const gone = structuredClone(cur);
    return { object: this.#commit(collection, "DELETED", gone, cur), removed: true };
  }

  /**
   * Watches a collection. Without `sendInitialEvents`: replays history after `resourceVersion` (410 Gone when
   * it is older than the history, 400 when not a number); unset or "0" first sends ADDED for every current
   * object. With `sendInitialEvents: true` (watch-list): ADDED for every current object whatever the
   * resourceVersion ("not older than" it; a resourceVersion newer than the store's is 504 Timeout, as the
   * API server answers after waiting for it in vain). With `sendInitialEvents: false`: no initial objects,
   * history after a nonzero `resourceVersion`. With selectors, an object that starts matching arrives as
   * ADDED and one that stops matching as DELETED. `onEvent` is called synchronously (during this call for the
   * initial events); it must not mutate the object.
   */
  watch(collection: Collection, opts: WatchOptions, onEvent: (e: WatchEvent) => void): StoreWatcher {
    const filter = parseFilter(collection, opts);
    const rec: WatcherRec = { filter, onEvent, open: true };
    const rvText = opts.resourceVersion ?? "";
    const from = rvText === "" ? 0 : parseResourceVersion(rvText);
    if (opts.sendInitialEvents === true) {
      if (from > this.#rv) throw tooLargeResourceVersion(from, this.#rv);
      for (const o of this.list(collection, opts).items) onEvent({ type: "ADDED", object: o });
    } else if (from === 0) {
      if (opts.sendInitialEvents === undefined) {
        for (const o of this.list(collection, opts).items) onEvent({ type: "ADDED", object: o });
      }
    } else {
      this.#replay(collection, from, rec);
    }
    const set = this.#watchers.get(collection)!;
    set.add(rec);
    return {
      startResourceVersion: this.resourceVersion,
      close: () => {
        rec.open = false;
        set.delete(rec);
      },
    };
  }

  #replay(collection: Collection, from: number, rec: WatcherRec): void {
    if (from < this.#compactedRv) {
      throw new KubeStatusError(
        410,
        "Expired",
        `too old resource version: ${from} (${this.#compactedRv + 1})`,
      );
    }
    for (const h of this.#history) {
      if (h.rv <= from || h.collection !== collection) continue;
      const e = projectChange(h, rec.filter);
      if (e) rec.onEvent(e);
      if (!rec.open) break;
    }
  }

  /**
   * Compacts the history as etcd compaction does: a watch from any resourceVersion older than the newest one
   * gets 410 Gone afterwards. Open watches go on.
   */
  compact(): void {
    this.#history = [];
    this.#compactedRv = this.#rv;
  }

  /** How many watchers are registered (all collections, or one). */
  watcherCount(collection?: Collection): number {
    if (collection) return this.#watchers.get(collection)!.size;
    let n = 0;
    for (const s of this.#watchers.values()) n += s.size;
    return n;
  }

  /** Now as the API server writes timestamps (RFC 3339, whole seconds). */
  protected timestamp(): string {
    return this.#now().toISOString().replace(/\.\d+Z$/, "Z");
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
      const e = projectChange(entry, w.filter);
      if (!e) continue;
      try {
        w.onEvent(e);
      } catch {
        // A failing watcher must not break the write.
      }
    }
    return structuredClone(obj);
  }
}

/** `cur` with only its status taken from `input` (the status subresource). */
function withStatusOf(cur: KubeObject, input: KubeObject): KubeObject {
  const next = structuredClone(cur);
  if (input.status === undefined) delete next.status;
  else next.status = structuredClone(input.status);
  return next;
}

/** `input` as a replacement for `cur`: server-set metadata kept, pods' and nodes' status kept. */
function replacement(collection: Collection, cur: KubeObject, input: KubeObject): KubeObject {
  const next = structuredClone(input);
  next.metadata = {
    ...structuredClone(input.metadata),
    name: cur.metadata.name,
    uid: cur.metadata.uid,
    creationTimestamp: cur.metadata.creationTimestamp,
    resourceVersion: cur.metadata.resourceVersion,
  };
  if (COLLECTIONS[collection].namespaced) next.metadata.namespace = cur.metadata.namespace;
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
  return next;
}

function tooLargeResourceVersion(want: number, have: number): KubeStatusError {
  return new KubeStatusError(504, "Timeout", `Too large resource version: ${want}, current: ${have}`, {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  });
}

function keyOf(collection: Collection, namespace: string | undefined, name: string): string {
  return COLLECTIONS[collection].namespaced ? `${namespace ?? ""}/${name}` : name;
}
