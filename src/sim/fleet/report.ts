/**
 * Figures from a fleet run: pod-ready percentiles, a text histogram, EC2 calls by action and class, the
 * bucket that bound the run, the goals met or missed; as text and as one JSON line per policy.
 */
import { type ActionClass, actionClass, EC2_BUCKETS } from "../../aws/rate_limit_bucket.ts";
import type { RunResult } from "./scenario.ts";

/** The goals for the 1,000 × 30 burst. */
export const GOALS = { p99Seconds: 60, failedPods: 0, wallSeconds: 60 } as const;

/** The value at quantile q (0..1) of sorted values (nearest rank); NaN when empty. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** One class's account bucket against what the run asked of it. */
export interface BucketLoad {
  cls: ActionClass;
  calls: number;
  throttled: number;
  /** The least time EC2's bucket needs to admit the calls that got through: (ok − capacity) / refill. */
  minSeconds: number;
}

/** The figures of one run. */
export interface Summary {
  policy: string;
  nodes: number;
  podsPerNode: number;
  seed: number;
  /** Pod-ready latency, seconds. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  readyPods: number;
  /** Pods not networked when the run ended. */
  failedPods: number;
  /** Pods that got a "do not retry" refusal before they were networked (kubelet retried them). */
  refusedPods: number;
  /** The most frequent such refusal. */
  refusal?: string;
  /** add-network requests per pod (kubelet's retries included). */
  addsPerPod: number;
  ec2Calls: number;
  throttled: number;
  callsPerNode: number;
  ec2ByAction: Record<string, { calls: number; throttled: number }>;
  buckets: BucketLoad[];
  /** The class whose bucket needed the longest, when it needed longer than the p99 goal. */
  boundBy?: string;
  nodeRestarts: number;
  simSeconds: number;
  steadySeconds: number;
  wallSeconds: number;
  latencies: number[];
}

/** Reduces a run to its figures. */
export function summarize(r: RunResult): Summary {
  const ready = r.pods.filter((p) => p.readyAt !== undefined);
  const latencies = ready.map((p) => (p.readyAt! - p.arrivedAt) / 1000).sort((a, b) => a - b);
  const total = r.scenario.nodes * r.scenario.podsPerNode;
  const ec2ByAction: Summary["ec2ByAction"] = {};
  const perClass = new Map<ActionClass, { calls: number; throttled: number }>();
  for (const [action, s] of Object.entries(r.ec2).sort()) {
    ec2ByAction[action] = { calls: s.calls, throttled: s.throttles };
    const c = perClass.get(actionClass(action)) ?? { calls: 0, throttled: 0 };
    c.calls += s.calls;
    c.throttled += s.throttles;
    perClass.set(actionClass(action), c);
  }
  const buckets = [...perClass].map(([cls, c]) => {
    const b = EC2_BUCKETS[cls];
    const ok = c.calls - c.throttled;
    return { cls, ...c, minSeconds: Math.max(0, (ok - b.capacity) / b.refillPerSec) };
  }).sort((a, b) => b.minSeconds - a.minSeconds);
  const ec2Calls = buckets.reduce((n, b) => n + b.calls, 0);
  const throttled = buckets.reduce((n, b) => n + b.throttled, 0);
  const p99 = quantile(latencies, 0.99);
  const worst = buckets[0];
  const missed = !(p99 <= GOALS.p99Seconds) || ready.length < total;
  return {
    policy: r.scenario.policy,
    nodes: r.scenario.nodes,
    podsPerNode: r.scenario.podsPerNode,
    seed: r.scenario.seed,
    p50: quantile(latencies, 0.5),
    p95: quantile(latencies, 0.95),
    p99,
    max: latencies.at(-1) ?? NaN,
    readyPods: ready.length,
    failedPods: total - ready.length,
    ...refusals(r),
    addsPerPod: r.pods.reduce((n, p) => n + p.attempts, 0) / Math.max(1, r.pods.length),
    ec2Calls,
    throttled,
    callsPerNode: ec2Calls / r.scenario.nodes,
    ec2ByAction,
    buckets,
    boundBy: missed && worst && worst.minSeconds > GOALS.p99Seconds ? worst.cls : undefined,
    nodeRestarts: r.nodeRestarts.length,
    simSeconds: r.simSeconds,
    steadySeconds: r.steadySeconds,
    wallSeconds: r.wallSeconds,
    latencies,
  };
}

function refusals(r: RunResult): { refusedPods: number; refusal?: string } {
  const counts = new Map<string, number>();
  for (const p of r.pods) {
    if (!p.finalRefusal) continue;
    const k = p.finalRefusal.replace(/\b(i|eni)-[0-9a-f]+\b/g, "$1-…");
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1])[0];
  return { refusedPods: [...counts.values()].reduce((a, b) => a + b, 0), refusal: top?.[0] };
}

/** The `--json` line (seconds, rounded to ms). */
export function jsonLine(s: Summary): string {
  const { latencies: _, buckets, ...rest } = s;
  const round = (x: number) => Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) out[k] = typeof v === "number" ? round(v) : v;
  out.buckets = Object.fromEntries(
    buckets.map((b) => [b.cls, { calls: b.calls, throttled: b.throttled, minSeconds: round(b.minSeconds) }]),
  );
  return JSON.stringify(out);
}

const EDGES = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/** A text histogram of pod-ready latencies. */
export function histogram(latencies: number[], width = 40): string[] {
  const counts = new Array(EDGES.length + 1).fill(0);
  for (const l of latencies) {
    const i = EDGES.findIndex((e) => l < e);
    counts[i < 0 ? EDGES.length : i]++;
  }
  const most = Math.max(1, ...counts);
  const last = counts.findLastIndex((n) => n > 0);
  return counts.slice(0, Math.max(1, last + 1)).map((n, i) => {
    const lo = i === 0 ? 0 : EDGES[i - 1];
    const label = i < EDGES.length ? `${lo}–${EDGES[i]} s` : `≥ ${lo} s`;
    const bar = "█".repeat(Math.round((n / most) * width));
    return `  ${label.padStart(10)} │${bar} ${n}`;
  });
}

const sec = (x: number) => Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} s` : "—";

/** The text report of one run. */
export function textReport(s: Summary, r: RunResult): string[] {
  const sc = r.scenario;
  const total = sc.nodes * sc.podsPerNode;
  const out = [
    `== policy ${s.policy}${s.policy === "upstream-like" ? UPSTREAM_NOTE : ""}`,
    `pods       ${s.readyPods} of ${total} ready, ${s.failedPods} failed; ${
      s.addsPerPod.toFixed(2)
    } add-network` +
    ` requests per pod; ${s.nodeRestarts} ipamd restarts`,
    `pod-ready  p50 ${sec(s.p50)}  p95 ${sec(s.p95)}  p99 ${sec(s.p99)}  max ${sec(s.max)}`,
    ...histogram(s.latencies),
    `EC2        ${s.ec2Calls} calls (${s.callsPerNode.toFixed(1)} per node), ${s.throttled} throttled`,
    ...Object.entries(s.ec2ByAction).map(([a, c]) =>
      `  ${a.padEnd(34)} ${String(c.calls).padStart(8)} calls ${String(c.throttled).padStart(8)} throttled`
    ),
    "buckets    (account-wide, EC2's capacity + refill; least time to admit the calls that got through)",
    ...s.buckets.map((b) => {
      const shape = EC2_BUCKETS[b.cls];
      return `  ${b.cls.padEnd(9)} ${shape.capacity} + ${shape.refillPerSec}/s ${
        String(b.calls).padStart(8)
      } calls ${String(b.throttled).padStart(8)} throttled  ≥ ${sec(b.minSeconds)}`;
    }),
    `time       steady after ${sec(s.steadySeconds)} (simulated ${sec(s.simSeconds)}) in ${
      sec(s.wallSeconds)
    } of wall time`,
  ];
  return [...out, ...goalLines(s)];
}

const UPSTREAM_NOTE =
  " (a model of upstream's documented constants — 5 s pool loop, one pool action per pass, " +
  "10 s after each attach — running our planner; not upstream itself)";

/** Goals met or missed, and the bucket that bound a miss. */
export function goalLines(s: Summary): string[] {
  const total = s.readyPods + s.failedPods;
  const ok = (b: boolean) => b ? "met" : "MISSED";
  const lines = [
    `goals      every pod networked: ${ok(s.failedPods === 0)} (${s.readyPods}/${total}); ` +
    `p99 ≤ ${GOALS.p99Seconds} s: ${ok(s.p99 <= GOALS.p99Seconds)} (${sec(s.p99)})`,
  ];
  if (s.boundBy) {
    const b = s.buckets.find((x) => x.cls === s.boundBy)!;
    const shape = EC2_BUCKETS[b.cls];
    lines.push(
      `bound by   the account's ${b.cls} bucket (${shape.capacity} + ${shape.refillPerSec}/s): ` +
        `${b.calls - b.throttled} calls got through, which EC2 admits in no less than ${sec(b.minSeconds)}`,
    );
  } else if (!(s.p99 <= GOALS.p99Seconds) || s.failedPods) {
    lines.push("bound by   no EC2 bucket: see the failures and restarts above");
  }
  return lines;
}
