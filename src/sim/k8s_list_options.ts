/**
 * A list or watch request's query parameters (`ListOptions`), read and checked as the API server does:
 * `resourceVersionMatch` and `sendInitialEvents` (watch-list, KEP-3157) are validated like apimachinery's
 * `ValidateListOptions`, and a failure is 422 Invalid on `ListOptions.meta.k8s.io`.
 */

import { badRequest, KubeStatusError } from "./k8s_status.ts";

/** The parsed options. */
export interface ListQuery {
  watch: boolean;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  /** Present only when the client sent it. */
  sendInitialEvents?: boolean;
  allowWatchBookmarks: boolean;
  /** Seconds; undefined when absent or 0. */
  timeoutSeconds?: number;
  limit?: number;
  continue?: string;
  fieldSelector?: string;
  labelSelector?: string;
}

/** The annotation on the BOOKMARK that ends a watch-list's initial events. */
export const INITIAL_EVENTS_END = "k8s.io/initial-events-end";

const NOT_OLDER_THAN = "NotOlderThan";
const EXACT = "Exact";

/** Reads and validates the options; `watchPath` is the `/watch/` path form. */
export function parseListQuery(q: URLSearchParams, watchPath: boolean): ListQuery {
  const out: ListQuery = {
    watch: watchPath || flag(q.get("watch")),
    allowWatchBookmarks: flag(q.get("allowWatchBookmarks")),
  };
  const text = (k: string) => {
    const v = q.get(k);
    return v === null || v === "" ? undefined : v;
  };
  out.resourceVersion = text("resourceVersion");
  out.resourceVersionMatch = text("resourceVersionMatch");
  out.continue = text("continue");
  out.fieldSelector = text("fieldSelector");
  out.labelSelector = text("labelSelector");
  const sie = q.get("sendInitialEvents");
  if (sie !== null) out.sendInitialEvents = flag(sie);
  if (out.resourceVersion !== undefined && !/^\d+$/.test(out.resourceVersion)) {
    throw badRequest(`invalid resource version: ${out.resourceVersion}`);
  }
  const limit = text("limit");
  if (limit !== undefined) {
    out.limit = Number(limit);
    if (!Number.isInteger(out.limit) || out.limit < 0) throw badRequest(`invalid limit: ${limit}`);
  }
  const timeout = text("timeoutSeconds");
  if (timeout !== undefined) {
    const n = Number(timeout);
    if (!Number.isFinite(n) || n < 0) throw badRequest(`invalid timeoutSeconds: ${timeout}`);
    if (n > 0) out.timeoutSeconds = n;
  }
  const problems = out.watch ? watchProblems(out) : listProblems(out);
  if (problems.length) throw invalidListOptions(problems);
  return out;
}

interface Problem {
  field: string;
  detail: string;
  reason: "FieldValueForbidden" | "FieldValueNotSupported";
}

function listProblems(o: ListQuery): Problem[] {
  const out: Problem[] = [];
  const match = o.resourceVersionMatch;
  if (match !== undefined) {
    if (o.resourceVersion === undefined) {
      out.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
      );
    }
    if (o.continue !== undefined) {
      out.push(
        forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"),
      );
    }
    if (match !== EXACT && match !== NOT_OLDER_THAN) {
      out.push(notSupported(match, [EXACT, NOT_OLDER_THAN, ""]));
    }
    if (match === EXACT && o.resourceVersion === "0") {
      out.push(
        forbidden(
          "resourceVersionMatch",
          `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`,
        ),
      );
    }
  }
  if (o.sendInitialEvents !== undefined) {
    out.push(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
  }
  return out;
}

function watchProblems(o: ListQuery): Problem[] {
  const out: Problem[] = [];
  const match = o.resourceVersionMatch;
  if (o.sendInitialEvents !== undefined && match !== NOT_OLDER_THAN) {
    out.push(
      forbidden(
        "resourceVersionMatch",
        `sendInitialEvents requires setting resourceVersionMatch to ${NOT_OLDER_THAN}`,
      ),
    );
  }
  if (match !== undefined) {
    if (o.sendInitialEvents === undefined) {
      out.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
      );
    }
    if (match !== NOT_OLDER_THAN) out.push(notSupported(match, [NOT_OLDER_THAN]));
    if (o.continue !== undefined) {
      out.push(
        forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"),
      );
    }
  }
  return out;
}

function forbidden(field: string, detail: string): Problem {
  return { field, detail: `Forbidden: ${detail}`, reason: "FieldValueForbidden" };
}

function notSupported(value: string, supported: string[]): Problem {
  const list = supported.map((s) => JSON.stringify(s)).join(", ");
  return {
    field: "resourceVersionMatch",
    detail: `Unsupported value: ${JSON.stringify(value)}: supported values: ${list}`,
    reason: "FieldValueNotSupported",
  };
}

function invalidListOptions(problems: Problem[]): KubeStatusError {
  const text = problems.map((p) => `${p.field}: ${p.detail}`);
  const message = `ListOptions.meta.k8s.io "" is invalid: ${
    text.length === 1 ? text[0] : `[${text.join(", ")}]`
  }`;
  return new KubeStatusError(422, "Invalid", message, {
    group: "meta.k8s.io",
    kind: "ListOptions",
    causes: problems.map((p) => ({ reason: p.reason, message: p.detail, field: p.field })),
  });
}

function flag(v: string | null): boolean {
  return v === "true" || v === "1";
}
