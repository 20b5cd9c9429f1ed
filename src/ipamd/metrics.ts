/** A tiny Prometheus registry (counters, gauges, summaries with labels) rendering the text format 0.0.4. */

type Labels = Record<string, string>;
type Kind = "counter" | "gauge" | "summary";

const key = (l: Labels) =>
  Object.keys(l).sort().map((k) =>
    `${k}="${String(l[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  )
    .join(",");

/** One metric family: a value (or a sum/count pair) per label set. */
export class Metric {
  readonly #values = new Map<string, { labels: string; value: number; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly kind: Kind) {}
  #slot(l: Labels) {
    const k = key(l);
    let s = this.#values.get(k);
    if (!s) this.#values.set(k, s = { labels: k, value: 0, sum: 0, count: 0 });
    return s;
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
  /** Summary: record one observation. */
  observe(v: number, l: Labels = {}): void {
    const s = this.#slot(l);
    s.sum += v;
    s.count++;
  }
  /** Drops every label set (a gauge re-filled from scratch). */
  clear(): void {
    this.#values.clear();
  }
  /** Summary: the sum of observations for a label set. */
  sum(l: Labels = {}): number {
    return this.#values.get(key(l))?.sum ?? 0;
  }
  /** Current value for a label set (counter/gauge), or the count (summary). */
  get(l: Labels = {}): number {
    const s = this.#values.get(key(l));
    return !s ? 0 : this.kind === "summary" ? s.count : s.value;
  }
  /** Text exposition lines. */
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`];
    const br = (l: string) => (l ? `{${l}}` : "");
    if (this.#values.size === 0 && this.kind !== "summary") out.push(`${this.name} 0`);
    for (const s of this.#values.values()) {
      if (this.kind === "summary") {
        out.push(`${this.name}_sum${br(s.labels)} ${s.sum}`, `${this.name}_count${br(s.labels)} ${s.count}`);
      } else out.push(`${this.name}${br(s.labels)} ${s.value}`);
    }
    return out;
  }
}

/** A set of metric families. */
export class Registry {
  readonly #metrics = new Map<string, Metric>();
  #add(name: string, help: string, kind: Kind): Metric {
    if (this.#metrics.has(name)) throw new RangeError(`metric ${name} registered twice`);
    const m = new Metric(name, help, kind);
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
  /** The Prometheus text format. */
  render(): string {
    return [...this.#metrics.values()].flatMap((m) => m.render()).join("\n") + "\n";
  }
}

/** ipamd's metrics under upstream's `awscni_` names. */
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
  readonly startupSeconds = this.registry.gauge(
    "awscni_ipamd_startup_duration_seconds",
    "Time ipamd took to become ready",
  );
  readonly buildInfo = this.registry.gauge("awscni_build_info", "VPC CNI build information");
}
