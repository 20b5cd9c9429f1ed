/** A tiny Prometheus registry (counters, gauges, summaries, histograms with labels) rendering the text format 0.0.4. */

type Labels = Record<string, string>;
type Kind = "counter" | "gauge" | "summary" | "histogram";

/** Prometheus client_golang's default histogram buckets (upstream's histograms use them). */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const key = (l: Labels) =>
  Object.keys(l).sort().map((k) =>
    `${k}="${String(l[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  )
    .join(",");

interface Slot {
  labels: string;
  value: number;
  sum: number;
  count: number;
  /** Histogram: observations ≤ each bucket's bound (not cumulative). */
  buckets: number[];
}

/** One metric family: a value (or a sum/count pair, or buckets) per label set. */
export class Metric {
  readonly #values = new Map<string, Slot>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: Kind,
    readonly buckets: readonly number[] = [],
  ) {}
  #slot(l: Labels): Slot {
    const k = key(l);
    let s = this.#values.get(k);
    if (!s) {
      this.#values.set(
        k,
        s = {
          labels: k,
          value: 0,
          sum: 0,
          count: 0,
          buckets: this.buckets.map(() => 0),
        },
      );
    }
    return s;
  }
  /** Creates the label set's series at zero (upstream pre-creates some, so they render before any event). */
  touch(l: Labels = {}): void {
    this.#slot(l);
  }
  /** Counter/gauge: add `by` (default 1). */
  inc(l: Labels = {}, by = 1): void {
    this.#slot(l).value += by;
  }
  /** Gauge: subtract `by`. */
  dec(l: Labels = {}, by = 1): void {
    this.#slot(l).value -= by;
  }
  /** Gauge: set the value. */
  set(v: number, l: Labels = {}): void {
    this.#slot(l).value = v;
  }
  /** Summary/histogram: record one observation. */
  observe(v: number, l: Labels = {}): void {
    const s = this.#slot(l);
    s.sum += v;
    s.count++;
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) s.buckets[i]++;
  }
  /** Drops every label set (a gauge re-filled from scratch). */
  clear(): void {
    this.#values.clear();
  }
  /** Summary/histogram: the sum of observations for a label set. */
  sum(l: Labels = {}): number {
    return this.#values.get(key(l))?.sum ?? 0;
  }
  /** Current value for a label set (counter/gauge), or the count (summary/histogram). */
  get(l: Labels = {}): number {
    const s = this.#values.get(key(l));
    return !s ? 0 : this.#observed ? s.count : s.value;
  }
  get #observed(): boolean {
    return this.kind === "summary" || this.kind === "histogram";
  }
  /** Text exposition lines. */
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`];
    const br = (l: string) => (l ? `{${l}}` : "");
    const le = (l: string, bound: string) => `{${l ? `${l},` : ""}le="${bound}"}`;
    if (this.#values.size === 0 && !this.#observed) out.push(`${this.name} 0`);
    for (const s of this.#values.values()) {
      if (this.kind === "histogram") {
        let below = 0;
        this.buckets.forEach((b, i) =>
          out.push(`${this.name}_bucket${le(s.labels, String(b))} ${below += s.buckets[i]}`)
        );
        out.push(`${this.name}_bucket${le(s.labels, "+Inf")} ${s.count}`);
      }
      if (this.#observed) {
        out.push(`${this.name}_sum${br(s.labels)} ${s.sum}`, `${this.name}_count${br(s.labels)} ${s.count}`);
      } else out.push(`${this.name}${br(s.labels)} ${s.value}`);
    }
    return out;
  }
}

/** A set of metric families. */
export class Registry {
  readonly #metrics = new Map<string, Metric>();
  readonly #collectors = new Map<string, () => void>();
  #add(name: string, help: string, kind: Kind, buckets?: readonly number[]): Metric {
    if (this.#metrics.has(name)) throw new RangeError(`metric ${name} registered twice`);
    const m = new Metric(name, help, kind, buckets);
    this.#metrics.set(name, m);
    return m;
  }
  counter(name: string, help: string): Metric {
    return this.#add(name, help, "counter");
  }
  gauge(name: string, help: string): Metric {
    return this.#add(name, help, "gauge");
  }
  summary(name: string, help: string): Metric {
    return this.#add(name, help, "summary");
  }
  histogram(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS): Metric {
    return this.#add(name, help, "histogram", buckets);
  }
  /** Runs `fn` before every render, so gauges it sets are current at scrape time; a later `name` replaces it. */
  collect(name: string, fn: () => void): void {
    this.#collectors.set(name, fn);
  }
  /** The Prometheus text format. */
  render(): string {
    for (const fn of this.#collectors.values()) fn();
    return [...this.#metrics.values()].flatMap((m) => m.render()).join("\n") + "\n";
  }
}

/**
 * ipamd's metrics under upstream's `awscni_` names, kinds and labels (utils/prometheusmetrics upstream), plus
 * `awscni_build_info` and `awscni_ec2api_throttled_count` (daemon_host.ts).
 */
export class IpamdMetrics {
  readonly registry = new Registry();
  readonly eniAllocated = this.registry.gauge("awscni_eni_allocated", "The number of ENIs allocated");
  readonly eniMax = this.registry.gauge("awscni_eni_max", "The maximum number of ENIs that can be attached");
  readonly ipMax = this.registry.gauge(
    "awscni_ip_max",
    "The maximum number of IP addresses that can be allocated",
  );
  readonly totalIps = this.registry.gauge("awscni_total_ip_addresses", "The total number of IP addresses");
  readonly assignedIps = this.registry.gauge(
    "awscni_assigned_ip_addresses",
    "The number of IP addresses assigned to pods",
  );
  readonly addIpReq = this.registry.counter(
    "awscni_add_ip_req_count",
    "The number of add IP address requests",
  );
  /** `{reason}`: PodDeleted (a CNI DEL), or ipamd's own releases (gc, podGone). */
  readonly delIpReq = this.registry.counter(
    "awscni_del_ip_req_count",
    "The number of delete IP address requests",
  );
  readonly ec2Req = this.registry.counter(
    "awscni_ec2api_req_count",
    "The number of requests made to EC2 APIs",
  );
  readonly ec2Err = this.registry.counter(
    "awscni_ec2api_error_count",
    "The number of failed EC2 API requests",
  );
  /** `{api, error: "true"|"false", status: "200" or the error code}`. */
  readonly awsLatency = this.registry.summary("awscni_aws_api_latency_ms", "AWS API call latency in ms");
  readonly awsErr = this.registry.counter("awscni_aws_api_error_count", "The number of AWS API errors");
  /** Upstream's `{fn, error}`: failures of AWS helper calls (IMDS reads) that ipamd carried on after. */
  readonly awsUtilsErr = this.registry.counter(
    "awscni_aws_utils_error_count",
    "The number of errors not handled in awsutils library",
  );
  readonly ipamdErr = this.registry.counter(
    "awscni_ipamd_error_count",
    "The number of errors encountered in ipamd",
  );
  readonly actionInProgress = this.registry.gauge(
    "awscni_ipamd_action_inprogress",
    "The number of ipamd actions in progress",
  );
  readonly noAvailableIp = this.registry.counter(
    "awscni_no_available_ip_addresses",
    "The number of pod IP assignments that failed for lack of a free IP",
  );
  readonly reconcileCount = this.registry.counter(
    "awscni_reconcile_count",
    "The number of times ipamd reconciled ENIs and IPs with EC2",
  );
  readonly forceRemovedEnis = this.registry.counter(
    "awscni_force_removed_enis",
    "The number of ENIs force removed",
  );
  readonly forceRemovedIps = this.registry.counter(
    "awscni_force_removed_ips",
    "The number of IPs force removed",
  );
  readonly totalPrefixes = this.registry.gauge(
    "awscni_total_ipv4_prefixes",
    "The total number of IPv4 prefixes",
  );
  readonly assignedPerCidr = this.registry.gauge(
    "awscni_assigned_ip_per_cidr",
    "The number of IPs assigned per CIDR",
  );
  /** The eni label: assigned IPs per ENI of the pool. */
  readonly assignedPerEni = this.registry.gauge(
    "awscni_assigned_ip_per_eni",
    "The number of allocated ips partitioned by eni",
  );
  /** `{fn}`; ipamd refuses ENABLE_POD_ENI=true, so this stays empty (registered for dashboards). */
  readonly podEniErr = this.registry.counter(
    "awscni_pod_eni_error_count",
    "The number of errors encountered for pod ENIs",
  );
  readonly unrecoveredCheckpoint = this.registry.counter(
    "awscni_unrecovered_checkpoint_entries",
    "The number of checkpointed pod allocations that could not be matched to the ENI pool during ipam state recovery",
  );
  /** `{success, with_api_server, failure_reason}`: process start to serving CNI requests. */
  readonly startupSeconds = this.registry.histogram(
    "awscni_ipamd_startup_duration_seconds",
    "The duration of IPAMD startup from process start to ready to serve CNI requests",
  );
  /** `{success}`: the node's part of start-up (ENIs, host rules, restore), after the Kubernetes API answered. */
  readonly nodeInitSeconds = this.registry.histogram(
    "awscni_ipamd_node_initialization_duration_seconds",
    "The duration of node initialization during IPAMD startup",
  );
  /** `{backend: "iptables"|"nftables"}`: the iptables backend holding our connmark rules is set to 1. */
  readonly connmarkBackend = this.registry.gauge(
    "awscni_connmark_backend",
    "The connmark backend in use; the active backend's series is set to 1",
  );
  /** `{result: "success"|"error"}`, both series present from the start as upstream's. */
  readonly connmarkReconcile = this.registry.counter(
    "awscni_connmark_reconcile_total",
    "The number of connmark Setup/Cleanup reconciliations by result",
  );
  readonly buildInfo = this.registry.gauge("awscni_build_info", "VPC CNI build information");

  constructor() {
    this.connmarkReconcile.touch({ result: "success" });
    this.connmarkReconcile.touch({ result: "error" });
  }
}
