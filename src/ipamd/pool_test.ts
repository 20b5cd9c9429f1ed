import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { loadConfig } from "./config.ts";
import { Datastore } from "./datastore.ts";
import {
  ENI_MIN_AGE_MS,
  isGrowAction,
  planPool,
  type PoolAction,
  type PoolEni,
  poolEnis,
  type PoolInput,
  type PoolPlan,
  SHRINK_INTERVAL_MS,
} from "./pool.ts";

const COOLDOWN = 30_000;
type Cfg = PoolInput["config"];
const cfg = (env: Record<string, string> = {}): Cfg => loadConfig(env);

/** A simulated node: the real Datastore, plus an EC2 that carries out plans. */
class Node {
  readonly ds = new Datastore({ cooldownMs: COOLDOWN });
  now = 1_000_000;
  lastShrinkAt = 0;
  pods = 0;
  #podSeq = 0;
  #live: number[] = [];
  #nextHost = new Map<number, number>();
  #nextPrefix = new Map<number, number>();
  plans: PoolPlan[] = [];

  constructor(
    readonly limits: { maxEnis: number; ipv4PerEni: number },
    readonly config: Cfg,
    opts: { primaryIps?: number; customNetworking?: boolean } = {},
  ) {
    this.customNetworking = opts.customNetworking ?? false;
    this.#addEni(0, this.now - 10 * ENI_MIN_AGE_MS);
    const n = opts.primaryIps ??
      (this.customNetworking || config.enablePrefixDelegation ? 0 : limits.ipv4PerEni - 1);
    this.#addIps(0, n);
  }
  readonly customNetworking: boolean;

  input(extra: Partial<PoolInput> = {}): PoolInput {
    const now = extra.now ?? this.now;
    return {
      now,
      enis: poolEnis(this.ds, now),
      limits: this.limits,
      config: this.config,
      pendingEnis: 0,
      lastShrinkAt: this.lastShrinkAt,
      customNetworking: this.customNetworking,
      ...extra,
    };
  }

  plan(extra: Partial<PoolInput> = {}): PoolPlan {
    const input = this.input(extra);
    const p = planPool(input);
    checkPlan(input, p);
    this.plans.push(p);
    return p;
  }

  apply(p: PoolPlan): void {
    let shrank = false;
    for (const a of p.actions) {
      switch (a.kind) {
        case "create-enis":
          for (let i = 0; i < a.count; i++) {
            const d = this.#freeDevice();
            this.#addEni(d, this.now);
            if (a.prefixesPerEni) this.#addPrefixes(d, a.prefixesPerEni);
            this.#addIps(d, a.ipsPerEni);
          }
          break;
        case "assign-ips":
          this.#addIps(this.#dev(a.eniId), a.count);
          break;
        case "assign-prefixes":
          this.#addPrefixes(this.#dev(a.eniId), a.count);
          break;
        case "unassign-ips":
          for (const ip of a.ips) assert.equal(this.ds.ipState(ip, this.now), "free", `unassign ${ip}`);
          this.ds.removeIps(a.eniId, a.ips);
          shrank = true;
          break;
        case "unassign-prefixes":
          this.ds.removePrefixes(a.eniId, a.prefixes);
          shrank = true;
          break;
        case "delete-eni": {
          const st = this.ds.eniStats(a.eniId, this.now);
          assert.equal(st.assigned + st.cooling, 0, `delete ${a.eniId} with busy IPs`);
          this.ds.removeEni(a.eniId);
          shrank = true;
          break;
        }
      }
      const e = this.ds.enis();
      assert.ok(e.length <= this.limits.maxEnis, "never more ENIs than the instance allows");
      for (const r of e) {
        const slots = r.prefixes.length + (r.ips.length - r.prefixes.length * 16);
        assert.ok(slots <= this.limits.ipv4PerEni - 1, `${r.eniId} over its address limit: ${slots}`);
      }
    }
    if (shrank) this.lastShrinkAt = this.now;
  }

  /** Plans and applies until a plan has no actions; returns the number of rounds that had actions. */
  converge(maxRounds = 12, stepMs = SHRINK_INTERVAL_MS + 1_000): number {
    for (let r = 0; r < maxRounds; r++) {
      const p = this.plan();
      if (!p.actions.length) {
        // A fixed point must survive time passing (cooldowns ending, ENIs ageing, the shrink interval).
        const later = planPool(this.input({ now: this.now + 2 * ENI_MIN_AGE_MS }));
        if (!later.actions.length) return r;
      } else this.apply(p);
      this.now += stepMs;
    }
    throw new Error(`no fixed point after ${maxRounds} rounds: ${JSON.stringify(this.plans.slice(-3))}`);
  }

  addPod(): boolean {
    try {
      this.ds.assign({ netName: "n", containerId: `c${++this.#podSeq}`, ifName: "eth0" }, {}, this.now);
    } catch {
      return false;
    }
    this.#live.push(this.#podSeq);
    this.pods++;
    return true;
  }

  removePod(i = 0): void {
    const [id] = this.#live.splice(i % this.#live.length, 1);
    if (id === undefined) return;
    this.ds.release({ netName: "n", containerId: `c${id}`, ifName: "eth0" }, this.now);
    this.pods--;
  }

  get livePods(): number {
    return this.#live.length;
  }

  enis(): number {
    return this.ds.enis().length;
  }

  ips(): number {
    return this.ds.stats(this.now).total;
  }

  #dev(eniId: string): number {
    return this.ds.eni(eniId)!.deviceNumber;
  }

  #freeDevice(): number {
    const used = new Set(this.ds.enis().map((e) => e.deviceNumber));
    let d = 1;
    while (used.has(d)) d++;
    return d;
  }

  #addEni(d: number, createdAt: number): void {
    this.ds.addEni({
      eniId: `eni-${d}-${createdAt}`,
      deviceNumber: d,
      subnetId: "subnet-1",
      subnetCidr: "10.0.0.0/8",
      primaryIp: `10.${d}.0.4`,
      mac: `02:00:00:00:00:${d.toString(16).padStart(2, "0")}`,
      createdAt,
    });
    this.#nextHost.set(d, 5);
    this.#nextPrefix.set(d, 1);
  }

  #eniId(d: number): string {
    return this.ds.enis().find((e) => e.deviceNumber === d)!.eniId;
  }

  #addIps(d: number, n: number): void {
    const ips: string[] = [];
    for (let i = 0; i < n; i++) {
      const h = this.#nextHost.get(d)!;
      this.#nextHost.set(d, h + 1);
      ips.push(`10.${d}.${h >> 8}.${h & 255}`);
    }
    this.ds.addIps(this.#eniId(d), ips);
  }

  #addPrefixes(d: number, n: number): void {
    const ps: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.#nextPrefix.get(d)!;
      this.#nextPrefix.set(d, k + 1);
      ps.push(`10.${d}.${100 + (k >> 4)}.${(k & 15) * 16}/28`);
    }
    this.ds.addPrefixes(this.#eniId(d), ps);
  }
}

/** Invariants every plan must satisfy. */
function checkPlan(input: PoolInput, p: PoolPlan): void {
  const maxEnis = Math.min(input.limits.maxEnis, input.config.maxEni ?? Infinity);
  const grows = p.actions.some(isGrowAction);
  const shrinks = p.actions.some((a) => !isGrowAction(a));
  assert.ok(!(grows && shrinks), `a plan never both grows and shrinks: ${JSON.stringify(p.actions)}`);
  const created = p.actions.reduce((n, a) => n + (a.kind === "create-enis" ? a.count : 0), 0);
  const existing = input.enis.length + input.pendingEnis;
  assert.ok(
    created === 0 || existing + created <= maxEnis,
    `the plan exceeds maxEnis: ${existing} + ${created} > ${maxEnis}`,
  );
  assert.ok(p.targetEnis <= Math.max(maxEnis, existing));
  if (input.growthPausedUntil !== undefined && input.now < input.growthPausedUntil) assert.ok(!grows);
  if (shrinks) assert.ok(input.now - input.lastShrinkAt >= SHRINK_INTERVAL_MS, "shrink inside the interval");
  const byId = new Map(input.enis.map((e) => [e.eniId, e]));
  for (const a of p.actions) {
    if (a.kind === "create-enis") {
      assert.ok(a.count > 0 && (a.ipsPerEni > 0 || (a.prefixesPerEni ?? 0) > 0));
      assert.ok(a.ipsPerEni <= input.limits.ipv4PerEni - 1);
    }
    if (a.kind === "delete-eni") {
      const e = byId.get(a.eniId)!;
      assert.ok(!e.primary && e.deviceNumber !== 0, "never the primary ENI");
      assert.equal(e.stats.assigned + e.stats.cooling, 0, "never an ENI with assigned/cooling IPs");
      assert.ok(input.now - e.createdAt >= ENI_MIN_AGE_MS, "never a young ENI");
    }
    if (a.kind === "unassign-ips") {
      const e = byId.get(a.eniId)!;
      for (const ip of a.ips) assert.ok(e.freeIps.includes(ip), `unassign only free IPs (${ip})`);
    }
    if (a.kind === "unassign-prefixes") {
      const e = byId.get(a.eniId)!;
      for (const x of a.prefixes) {
        assert.ok(e.freePrefixes?.includes(x), `unassign only free prefixes (${x})`);
      }
    }
    if (a.kind === "assign-ips" || a.kind === "assign-prefixes") assert.ok(a.count > 0 && byId.has(a.eniId));
  }
}

function limitsOf(name: string) {
  const t = lookupInstanceType(name)!;
  return { maxEnis: t.maxEnis, ipv4PerEni: t.ipv4PerEni };
}

/** Brings a node to `pods` pods, converging after each, and returns it. */
function nodeWith(name: string, env: Record<string, string>, pods: number, opts = {}): Node {
  const n = new Node(limitsOf(name), cfg(env), opts);
  n.converge();
  for (let i = 0; i < pods; i++) {
    assert.ok(n.addPod(), `pod ${i + 1} got an IP`);
    n.converge();
  }
  return n;
}

// ---- warm ENI mode ----

Deno.test("pool/warm ENI: m4.4xlarge has 2 ENIs (58 IPs) for 0–29 pods and 3 (87 IPs) for 30–58", () => {
  const n = new Node(limitsOf("m4.4xlarge"), cfg());
  n.converge();
  for (let pods = 0; pods <= 58; pods++) {
    if (pods > 0) assert.ok(n.addPod());
    n.converge();
    const [enis, ips] = pods <= 29 ? [2, 58] : [3, 87];
    assert.equal(n.enis(), enis, `${pods} pods`);
    assert.equal(n.ips(), ips, `${pods} pods`);
  }
});

Deno.test("pool/warm ENI: m5.large: no pods → 2 ENIs, 18 IPs; 25 pods → 3 ENIs (capped)", () => {
  const n = nodeWith("m5.large", {}, 0);
  assert.deepEqual([n.enis(), n.ips()], [2, 18]);
  const p = planPool({
    now: 0,
    enis: [],
    limits: limitsOf("m5.large"),
    config: cfg(),
    pendingEnis: 0,
    lastShrinkAt: 0,
  });
  assert.equal(p.targetEnis, 2);
  const n25 = nodeWith("m5.large", {}, 25);
  assert.deepEqual([n25.enis(), n25.ips()], [3, 27]);
  const last = n25.plan();
  assert.match(last.reason, /wanted 4, capped at 3/);
});

Deno.test("pool/warm ENI: target formula, table-driven", () => {
  const cases: [string, Record<string, string>, number, number][] = [
    // instance, env, used IPs, expected target ENIs
    ["m5.xlarge", {}, 0, 2],
    ["m5.xlarge", {}, 14, 2],
    ["m5.xlarge", {}, 15, 3],
    ["m5.xlarge", { WARM_ENI_TARGET: "0" }, 0, 1],
    ["m5.xlarge", { WARM_ENI_TARGET: "0" }, 15, 2],
    ["m5.xlarge", { WARM_ENI_TARGET: "2" }, 0, 3],
    ["m5.xlarge", { WARM_ENI_TARGET: "2" }, 29, 4],
    ["m5.xlarge", { WARM_ENI_TARGET: "2", MAX_ENI: "2" }, 0, 2],
    ["c5.18xlarge", { WARM_ENI_TARGET: "3" }, 100, 6],
  ];
  for (const [name, env, used, target] of cases) {
    const l = limitsOf(name);
    const cap = l.ipv4PerEni - 1;
    // One primary ENI holding `used` assigned IPs spread over enough ENIs.
    const enis: PoolEni[] = [];
    for (let d = 0, left = used; d === 0 || left > 0; d++) {
      const a = Math.min(cap, left);
      left -= a;
      enis.push({
        eniId: `eni-${d}`,
        deviceNumber: d,
        createdAt: 0,
        primary: d === 0,
        stats: { total: cap, assigned: a, cooling: 0, free: cap - a },
        freeIps: [],
        prefixes: 0,
      });
    }
    const p = planPool({ now: 1e9, enis, limits: l, config: cfg(env), pendingEnis: 0, lastShrinkAt: 0 });
    assert.equal(p.targetEnis, Math.max(target, enis.length), `${name} ${JSON.stringify(env)} used ${used}`);
    const create = p.actions.find((a) => a.kind === "create-enis");
    assert.equal(create?.count ?? 0, Math.max(0, target - enis.length));
  }
});

Deno.test("pool/warm ENI: creates several ENIs in one plan; pending ENIs count", () => {
  const n = new Node(limitsOf("c5.18xlarge"), cfg({ WARM_ENI_TARGET: "4" }));
  const p = n.plan();
  assert.deepEqual(p.actions, [{ kind: "create-enis", count: 4, ipsPerEni: 49 }]);
  assert.equal(p.targetEnis, 5);
  const q = n.plan({ pendingEnis: 3 });
  assert.deepEqual(q.actions, [{ kind: "create-enis", count: 1, ipsPerEni: 49 }]);
  assert.deepEqual(n.plan({ pendingEnis: 4 }).actions, []);
});

Deno.test("pool/warm ENI: shrink hysteresis (age, busy, interval, primary)", () => {
  const n = nodeWith("m5.large", {}, 12); // 3 ENIs
  assert.equal(n.enis(), 3);
  for (let i = 0; i < 12; i++) n.removePod(0);
  // Released IPs cool: the ENI holding them cannot go, and used still counts them.
  assert.deepEqual(n.plan().actions, []);
  n.now += COOLDOWN;
  // Shrink interval: a shrink just happened.
  n.lastShrinkAt = n.now - 1000;
  const deferred = n.plan();
  assert.deepEqual(deferred.actions, []);
  assert.match(deferred.reason, /deferred/);
  n.lastShrinkAt = 0;
  const p = n.plan();
  assert.equal(p.actions.length, 1);
  assert.equal(p.actions[0].kind, "delete-eni");
  assert.match((p.actions[0] as { eniId: string }).eniId, /^eni-2-/, "the newest (highest device) ENI goes");
  // A young surplus ENI is kept.
  const young = new Node(limitsOf("m5.large"), cfg({ WARM_ENI_TARGET: "0" }));
  young.apply({
    actions: [{ kind: "create-enis", count: 1, ipsPerEni: 9 }],
    reason: "",
    short: 0,
    over: 0,
    targetEnis: 2,
  });
  const yp = young.plan();
  assert.deepEqual(yp.actions, []);
  assert.match(yp.reason, /none deletable/);
  young.now += ENI_MIN_AGE_MS;
  assert.equal(young.plan().actions[0]?.kind, "delete-eni");
  // The primary ENI is never deleted, even if all else says so.
  const only = new Node(limitsOf("m5.large"), cfg({ WARM_ENI_TARGET: "0" }));
  const op = only.plan({ limits: { maxEnis: 0, ipv4PerEni: 10 } });
  assert.ok(!op.actions.some((a) => a.kind === "delete-eni"));
});

Deno.test("pool/warm ENI: growth pause suppresses growth and says why", () => {
  const n = new Node(limitsOf("m5.large"), cfg());
  const p = n.plan({ growthPausedUntil: n.now + 120_000 });
  assert.deepEqual(p.actions, []);
  assert.match(p.reason, /growth paused until .*Z: warm ENI/);
  assert.equal(n.plan({ growthPausedUntil: n.now }).actions.length, 1);
});

Deno.test("pool/warm ENI: custom networking keeps pods off the primary ENI", () => {
  const n = nodeWith("m5.large", {}, 0, { customNetworking: true });
  const enis = n.ds.enis();
  assert.equal(enis.length, 2);
  assert.equal(enis[0].ips.length, 0, "primary carries no pod IPs");
  assert.equal(enis[1].ips.length, 9);
  const n10 = nodeWith("m5.large", {}, 10, { customNetworking: true });
  assert.equal(n10.enis(), 3);
  assert.equal(n10.ds.enis()[0].ips.length, 0);
});

// ---- WARM_IP_TARGET / MINIMUM_IP_TARGET ----

Deno.test("pool/IP target: short and over formulas, table-driven", () => {
  // [warm, minimum, total, free] → [short, over]
  const cases: [number | undefined, number | undefined, number, number, number, number][] = [
    [5, undefined, 0, 0, 5, 0],
    [5, undefined, 9, 9, 0, 4],
    [5, undefined, 7, 3, 2, 0],
    [5, undefined, 9, 5, 0, 0],
    [2, 10, 0, 0, 10, 0],
    [2, 10, 10, 10, 0, 0],
    [2, 10, 12, 12, 0, 2],
    [2, 10, 14, 2, 0, 0],
    [2, 10, 14, 5, 0, 3],
    [2, 10, 14, 0, 2, 0],
    [undefined, 10, 10, 0, 1, 0], // warm is at least 1: a full node still grows
    [undefined, 10, 12, 3, 0, 2],
  ];
  for (const [warm, min, total, free, short, over] of cases) {
    const assigned = total - free;
    const enis: PoolEni[] = [{
      eniId: "eni-0",
      deviceNumber: 0,
      createdAt: 0,
      primary: true,
      stats: { total, assigned, cooling: 0, free },
      freeIps: Array.from({ length: free }, (_, i) => `10.0.0.${i + 100}`),
      prefixes: 0,
    }];
    const config = { ...cfg(), warmIpTarget: warm, minimumIpTarget: min };
    const p = planPool({
      now: 1e9,
      enis,
      limits: { maxEnis: 4, ipv4PerEni: 50 },
      config,
      pendingEnis: 0,
      lastShrinkAt: 0,
    });
    const label = `warm ${warm} min ${min} total ${total} free ${free}`;
    assert.equal(p.short, short, label);
    assert.equal(p.over, over, label);
    const added = p.actions.reduce((n, a) => n + (a.kind === "assign-ips" ? a.count : 0), 0);
    const removed = p.actions.reduce((n, a) => n + (a.kind === "unassign-ips" ? a.ips.length : 0), 0);
    assert.equal(added, short, label);
    assert.equal(removed, over, label);
  }
});

Deno.test("pool/IP target: WARM_IP_TARGET=5 with no pods → 5 IPs on one ENI, no second ENI", () => {
  for (const primaryIps of [0, 9, 3]) {
    const n = nodeWith("m5.large", { WARM_IP_TARGET: "5" }, 0, { primaryIps });
    assert.deepEqual([n.enis(), n.ips()], [1, 5], `primary started with ${primaryIps}`);
  }
});

Deno.test("pool/IP target: with pods, available stays at WARM_IP_TARGET", () => {
  const n = nodeWith("m5.xlarge", { WARM_IP_TARGET: "5" }, 0);
  for (let pods = 1; pods <= 30; pods++) {
    assert.ok(n.addPod());
    n.converge();
    const st = n.ds.stats(n.now);
    assert.equal(st.free, 5, `${pods} pods`);
    assert.equal(st.total, pods + 5);
  }
  assert.equal(n.enis(), 3); // 35 IPs over 14-IP ENIs
  for (let i = 0; i < 30; i++) n.removePod(7);
  n.converge(20);
  assert.deepEqual([n.enis(), n.ips()], [1, 5], "drains back to one ENI and 5 IPs");
});

Deno.test("pool/IP target: MINIMUM_IP_TARGET=10 WARM_IP_TARGET=2 keeps total ≥ 10", () => {
  const n = nodeWith("m5.large", { MINIMUM_IP_TARGET: "10", WARM_IP_TARGET: "2" }, 0, { primaryIps: 0 });
  assert.deepEqual([n.enis(), n.ips()], [2, 10]);
  for (let pods = 1; pods <= 20; pods++) {
    assert.ok(n.addPod());
    n.converge();
    const st = n.ds.stats(n.now);
    assert.ok(st.total >= 10);
    assert.equal(st.free, Math.max(2, 10 - pods), `${pods} pods`);
  }
});

Deno.test("pool/IP target: a big shortfall creates the ENIs in one plan, without overshoot", () => {
  const n = new Node(limitsOf("c5.18xlarge"), cfg({ WARM_IP_TARGET: "120" }), { primaryIps: 0 });
  const p = n.plan();
  assert.deepEqual(p.actions, [
    { kind: "assign-ips", eniId: n.ds.enis()[0].eniId, count: 49 },
    { kind: "create-enis", count: 1, ipsPerEni: 49 },
    { kind: "create-enis", count: 1, ipsPerEni: 22 },
  ]);
  n.apply(p);
  assert.equal(n.ips(), 120);
  assert.equal(n.converge(), 0);
});

Deno.test("pool/IP target: pending ENIs cover the shortfall first", () => {
  const n = new Node(limitsOf("m5.large"), cfg({ WARM_IP_TARGET: "5" }), { primaryIps: 9 });
  for (let i = 0; i < 9; i++) assert.ok(n.addPod());
  assert.deepEqual(n.plan({ pendingEnis: 1, pendingIps: 5 }).actions, []);
  assert.deepEqual(n.plan({ pendingEnis: 1, pendingIps: 3 }).actions, [], "the pending ENI's room covers it");
  assert.match(
    n.plan({ pendingEnis: 1, pendingIps: 3 }).reason,
    /2 to fill pending ENIs' room once attached/,
  );
  // The room on pending ENIs is used before creating more; beyond it, new ENIs.
  const big = new Node(limitsOf("m5.large"), cfg({ WARM_IP_TARGET: "20" }), { primaryIps: 9 });
  for (let i = 0; i < 9; i++) assert.ok(big.addPod());
  const bp = big.plan({ pendingEnis: 1, pendingIps: 3 });
  assert.deepEqual(bp.actions, [{ kind: "create-enis", count: 1, ipsPerEni: 9 }], bp.reason);
  assert.match(
    bp.reason,
    /20 IP\(s\), 3 in flight, 6 to fill pending ENIs' room.*2 IP\(s\) cannot be placed/,
  );
  assert.deepEqual(n.plan({ pendingEnis: 1 }).actions, [], "a pending ENI without a count covers a full ENI");
  assert.match(n.plan({ pendingEnis: 1 }).reason, /covered by 1 pending ENI/);
});

Deno.test("pool/IP target: max ENIs reached is reported, not exceeded", () => {
  const n = new Node(limitsOf("m5.large"), cfg({ WARM_IP_TARGET: "50" }), { primaryIps: 9 });
  const p = n.plan();
  assert.deepEqual(p.actions, [{ kind: "create-enis", count: 2, ipsPerEni: 9 }]);
  assert.match(p.reason, /cannot be placed: max ENIs \(3\) reached/);
  n.apply(p);
  assert.match(n.plan().reason, /max ENIs/);
  const capped = new Node(limitsOf("m5.large"), cfg({ WARM_IP_TARGET: "50", MAX_ENI: "2" }), {
    primaryIps: 9,
  });
  assert.deepEqual(capped.plan().actions, [{ kind: "create-enis", count: 1, ipsPerEni: 9 }]);
});

Deno.test("pool/IP target: shrink drains the newest ENI and deletes it instead of unassigning", () => {
  const n = nodeWith("m5.large", { WARM_IP_TARGET: "2" }, 10); // 12 IPs: 9 + 3
  assert.deepEqual([n.enis(), n.ips()], [2, 12]);
  // Free the pod on the second ENI, let its IP cool down.
  n.removePod(9);
  assert.equal(n.livePods, 9);
  n.now += COOLDOWN + ENI_MIN_AGE_MS;
  n.lastShrinkAt = 0;
  const p = n.plan();
  assert.equal(p.over, 1, "3 free, warm 2");
  const eni1 = n.ds.enis()[1];
  assert.deepEqual(p.actions, [{ kind: "unassign-ips", eniId: eni1.eniId, ips: [eni1.ips[2]] }]);
  // When a whole surplus ENI is free and within `over`, it goes in one delete.
  const m = nodeWith("m5.large", { WARM_IP_TARGET: "1" }, 9); // 9 on primary + 1 on eni-1
  m.removePod(3); // frees an IP on the primary: over = 1 → the empty-able ENI (1 IP) is deleted
  m.now += COOLDOWN + ENI_MIN_AGE_MS;
  m.lastShrinkAt = 0;
  const q = m.plan();
  assert.deepEqual(q.actions.map((a) => a.kind), ["delete-eni"]);
});

// ---- prefix delegation ----

Deno.test("pool/prefix: WARM_PREFIX_TARGET (default 1) keeps one whole free /28", () => {
  const env = { ENABLE_PREFIX_DELEGATION: "true" };
  const n = nodeWith("m5.large", env, 0);
  assert.deepEqual([n.enis(), n.ds.enis()[0].prefixes.length, n.ips()], [1, 1, 16]);
  const checks: [number, number][] = [[1, 2], [15, 2], [16, 2], [17, 3], [32, 3], [33, 4]];
  let pods = 0;
  for (const [want, prefixes] of checks) {
    while (pods < want) assert.ok(n.addPod()), pods++;
    n.converge();
    const got = n.ds.enis().reduce((s, e) => s + e.prefixes.length, 0);
    assert.equal(got, prefixes, `${pods} pods`);
  }
  const two = nodeWith("m5.large", { ...env, WARM_PREFIX_TARGET: "2" }, 0);
  assert.equal(two.ips(), 32);
});

Deno.test("pool/prefix: IP targets count in prefixes", () => {
  const n = nodeWith("m5.large", { ENABLE_PREFIX_DELEGATION: "true", WARM_IP_TARGET: "5" }, 0);
  assert.equal(n.ips(), 16, "5 warm IPs need one prefix");
  for (let i = 0; i < 12; i++) assert.ok(n.addPod());
  n.converge();
  assert.equal(n.ips(), 32, "12 pods + 5 warm need two prefixes");
  const m = nodeWith("m5.large", {
    ENABLE_PREFIX_DELEGATION: "true",
    MINIMUM_IP_TARGET: "40",
    WARM_IP_TARGET: "1",
  }, 0);
  assert.equal(m.ips(), 48);
});

Deno.test("pool/prefix: fills the ENIs' prefix slots, then creates an ENI of prefixes; frees whole prefixes", () => {
  const n = new Node(
    { maxEnis: 2, ipv4PerEni: 3 },
    cfg({ ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "3" }),
  );
  const p = n.plan();
  assert.deepEqual(p.actions, [
    { kind: "assign-prefixes", eniId: n.ds.enis()[0].eniId, count: 2 },
    { kind: "create-enis", count: 1, ipsPerEni: 0, prefixesPerEni: 1 },
  ]);
  n.apply(p);
  assert.equal(n.converge(), 0);
  const shrink = new Node(
    { maxEnis: 2, ipv4PerEni: 3 },
    cfg({ ENABLE_PREFIX_DELEGATION: "true", WARM_PREFIX_TARGET: "1" }),
  );
  shrink.apply({
    actions: [{ kind: "assign-prefixes", eniId: shrink.ds.enis()[0].eniId, count: 2 }],
    reason: "",
    short: 0,
    over: 0,
    targetEnis: 1,
  });
  const q = shrink.plan();
  assert.equal(q.actions.length, 1);
  assert.equal(q.actions[0].kind, "unassign-prefixes");
  shrink.apply(q);
  assert.equal(shrink.ips(), 16);
});

// ---- properties ----

let propertyRuns = 0;
/** Property runs; raise with PROPERTY_RUNS=5000 for a soak. */
const RUNS = Number(Deno.env.get("PROPERTY_RUNS") ?? 300);
const instanceArb = fc.constantFrom("t3.medium", "m5.large", "m5.xlarge", "m4.4xlarge", "c5.18xlarge");
const envArb = fc.oneof(
  fc.record({ WARM_ENI_TARGET: fc.integer({ min: 0, max: 3 }).map(String) }),
  fc.record({
    WARM_IP_TARGET: fc.integer({ min: 0, max: 40 }).map(String),
    MINIMUM_IP_TARGET: fc.integer({ min: 0, max: 60 }).map(String),
  }),
  fc.record({
    ENABLE_PREFIX_DELEGATION: fc.constant("true"),
    WARM_PREFIX_TARGET: fc.integer({ min: 0, max: 3 }).map(String),
  }),
  fc.record({
    ENABLE_PREFIX_DELEGATION: fc.constant("true"),
    WARM_IP_TARGET: fc.integer({ min: 0, max: 40 }).map(String),
    MINIMUM_IP_TARGET: fc.integer({ min: 0, max: 60 }).map(String),
  }),
).chain((env) =>
  fc.record({ MAX_ENI: fc.constantFrom("-1", "-1", "2", "3") }).map((m) =>
    ({ ...env, ...m }) as Record<string, string>
  )
);
const eventsArb = fc.array(
  fc.oneof(
    fc.record({ k: fc.constant("add" as const), n: fc.integer({ min: 1, max: 30 }) }),
    fc.record({ k: fc.constant("remove" as const), n: fc.integer({ min: 1, max: 30 }), at: fc.nat(100) }),
    fc.record({ k: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
    fc.record({ k: fc.constant("plan" as const), pending: fc.integer({ min: 0, max: 2 }) }),
  ),
  { maxLength: 25 },
);

Deno.test("pool: random workloads: plans are safe, and re-planning converges to a fixed point (property)", () => {
  fc.assert(
    fc.property(instanceArb, envArb, fc.boolean(), eventsArb, (name, env, custom, events) => {
      propertyRuns++;
      const l = limitsOf(name);
      const config = cfg(env);
      const n = new Node(l, config, { customNetworking: custom });
      for (const ev of events) {
        if (ev.k === "add") {
          for (let i = 0; i < ev.n; i++) {
            if (!n.addPod()) {
              // No IP: the pool must be growing, or be unable to.
              const p = n.plan();
              n.apply(p);
              if (!n.addPod() && !p.actions.some(isGrowAction)) {
                const maxEnis = Math.min(l.maxEnis, config.maxEni ?? Infinity);
                const full = n.enis() >= maxEnis || p.reason.includes("max ENIs");
                const cooling = n.ds.stats(n.now).cooling > 0;
                assert.ok(full || cooling, `stuck without IPs and not growing: ${p.reason}`);
              }
            }
            n.apply(n.plan());
          }
        } else if (ev.k === "remove") {
          for (let i = 0; i < ev.n && n.livePods > 0; i++) n.removePod(ev.at);
        } else if (ev.k === "wait") {
          n.now += ev.ms;
        } else {
          // A plan made while ENIs attach: must not create beyond maxEnis counting them.
          const p = n.plan({ pendingEnis: ev.pending });
          if (ev.pending === 0) n.apply(p);
        }
      }
      const rounds = n.converge(14);
      assert.ok(rounds <= 12);
      // At the fixed point the targets hold (unless capped by maxEnis).
      const st = n.ds.stats(n.now);
      const maxEnis = Math.min(l.maxEnis, config.maxEni ?? Infinity);
      const atMax = n.enis() >= maxEnis;
      if (!config.enablePrefixDelegation && (config.warmIpTarget || config.minimumIpTarget)) {
        if (!atMax) {
          assert.ok(st.free >= Math.max(config.warmIpTarget ?? 0, 1), "warm IPs available");
          assert.ok(st.total >= (config.minimumIpTarget ?? 0), "minimum IPs held");
        }
        if (config.warmIpTarget && st.total > (config.minimumIpTarget ?? 0)) {
          assert.ok(st.free <= Math.max(config.warmIpTarget, 1), "no surplus beyond the warm target");
        }
      } else if (!config.enablePrefixDelegation) {
        const cap = l.ipv4PerEni - 1;
        const need = Math.ceil((st.assigned + st.cooling) / cap);
        let podEnis = (custom ? need : Math.max(1, need)) + config.warmEniTarget;
        if (podEnis * cap <= st.assigned + st.cooling) podEnis++; // a full node still grows
        const want = (custom ? 1 : 0) + podEnis;
        const target = Math.min(maxEnis, want);
        assert.ok(n.enis() >= target, "ENI count reaches the target");
        if (n.enis() > target) {
          for (const e of n.ds.enis().slice(1)) {
            const es = n.ds.eniStats(e.eniId, n.now);
            assert.ok(es.assigned > 0, `surplus ENIs remain only while pods hold IPs on them (${e.eniId})`);
          }
        }
      } else if (!atMax) {
        assert.ok(st.free >= 1);
      }
    }),
    { numRuns: RUNS },
  );
  assert.equal(propertyRuns, RUNS);
});

Deno.test("pool: planPool is a pure function of its input (property)", () => {
  fc.assert(
    fc.property(instanceArb, envArb, fc.integer({ min: 0, max: 60 }), (name, env, pods) => {
      const n = new Node(limitsOf(name), cfg(env));
      n.converge();
      for (let i = 0; i < pods; i++) n.addPod();
      const input = n.input();
      const copy = structuredClone(input);
      const a = planPool(input), b = planPool(input);
      assert.deepEqual(a, b);
      assert.deepEqual(input, copy, "the input is not mutated");
      const kinds = new Set(a.actions.map((x: PoolAction) => x.kind));
      assert.ok(kinds.size <= 3);
    }),
    { numRuns: 100 },
  );
});

Deno.test("pool: arbitrary inputs give safe plans (property)", () => {
  const eniArb = (cap: number, d: number, now: number) =>
    fc.tuple(fc.nat(cap), fc.nat(cap), fc.nat(cap), fc.integer({ min: 0, max: 200_000 })).map(
      ([a, b, c, age]): PoolEni => {
        const total = Math.min(cap, a);
        const assigned = Math.min(total, b), cooling = Math.min(total - assigned, c);
        const free = total - assigned - cooling;
        return {
          eniId: `eni-${d}`,
          deviceNumber: d,
          createdAt: now - age,
          primary: d === 0,
          stats: { total, assigned, cooling, free },
          freeIps: Array.from({ length: free }, (_, i) => `10.${d}.0.${i + 5}`),
          prefixes: 0,
        };
      },
    );
  const inputArb = fc.record({
    name: instanceArb,
    env: envArb,
    n: fc.integer({ min: 1, max: 15 }),
    pending: fc.nat(3),
    sinceShrink: fc.nat(60_000),
    paused: fc.boolean(),
    custom: fc.boolean(),
  }).chain((r) => {
    const l = limitsOf(r.name);
    const now = 1e9;
    const count = Math.min(r.n, l.maxEnis);
    return fc.tuple(...Array.from({ length: count }, (_, d) => eniArb(l.ipv4PerEni - 1, d, now))).map(
      (enis): PoolInput => ({
        now,
        enis,
        limits: l,
        config: cfg({ ...r.env, ENABLE_PREFIX_DELEGATION: "false" }),
        pendingEnis: r.pending,
        lastShrinkAt: now - r.sinceShrink,
        growthPausedUntil: r.paused ? now + 1 : undefined,
        customNetworking: r.custom,
      }),
    );
  });
  fc.assert(
    fc.property(inputArb, (input) => {
      const p = planPool(input);
      checkPlan(input, p);
      assert.equal(typeof p.reason, "string");
      assert.ok(p.reason.length > 0);
      assert.ok(p.short >= 0 && p.over >= 0);
      if (input.customNetworking) {
        const primary = input.enis.find((e) => e.primary)!;
        for (const a of p.actions) {
          if ("eniId" in a) {
            assert.notEqual(a.eniId, primary.eniId, "custom networking leaves the primary alone");
          }
        }
      }
    }),
    { numRuns: RUNS * 3 },
  );
});

Deno.test("pool: waiting pods count as assigned, so a burst is planned at once (table)", () => {
  // m5.4xlarge: 8 ENIs × 29 usable IPs. `eniN` stands for the id of the ENI at index N.
  const cases: Array<{ env: Record<string, string>; fill: number; waiting: number; want: PoolAction[] }> = [
    // WARM_IP_TARGET=30: pool of 30 (29 + 1), all taken, 30 more waiting: 60 pods + 30 warm = 90 IPs.
    {
      env: { WARM_IP_TARGET: "30" },
      fill: 30,
      waiting: 30,
      want: [
        { kind: "assign-ips", eniId: "eni1", count: 28 },
        { kind: "create-enis", count: 1, ipsPerEni: 29 },
        { kind: "create-enis", count: 1, ipsPerEni: 3 },
      ],
    },
    // Warm ENI mode: 29 used + 40 waiting = 69 → 3 ENIs + 1 warm; the second ENI is full already.
    { env: {}, fill: 29, waiting: 40, want: [{ kind: "create-enis", count: 2, ipsPerEni: 29 }] },
    // MINIMUM_IP_TARGET only (the pool holds 10): 10 taken, 5 waiting: their 5 + the warm 1.
    {
      env: { MINIMUM_IP_TARGET: "10" },
      fill: 10,
      waiting: 5,
      want: [{ kind: "assign-ips", eniId: "eni0", count: 6 }],
    },
    // Waiting pods that free IPs already cover (a race) add nothing beyond the target.
    { env: { WARM_IP_TARGET: "30" }, fill: 0, waiting: 0, want: [] },
  ];
  for (const c of cases) {
    const n = new Node(limitsOf("m5.4xlarge"), cfg(c.env));
    n.converge();
    for (let i = 0; i < c.fill; i++) assert.ok(n.addPod(), `pod ${i}`);
    const p = n.plan({ waitingPods: c.waiting });
    const ids = poolEnis(n.ds, n.now).map((e) => e.eniId);
    const got = p.actions.map((a) => "eniId" in a ? { ...a, eniId: `eni${ids.indexOf(a.eniId)}` } : a);
    assert.deepEqual(got, c.want, `${JSON.stringify(c.env)}: ${p.reason}`);
    if (c.waiting) assert.match(p.reason, /waiting/);
    // Carried out, the plan leaves exactly the targets + demand: nothing more to do, nothing over.
    n.apply(p);
    const again = n.plan({ waitingPods: c.waiting });
    assert.deepEqual(again.actions, [], again.reason);
    assert.equal(again.over, 0, again.reason);
  }
});

Deno.test("pool: waiting pods and in-flight growth defer shrinking; in-flight assigns take an ENI's room", () => {
  const n = new Node(limitsOf("m5.4xlarge"), cfg({ WARM_IP_TARGET: "5" }));
  n.converge();
  for (let i = 0; i < 40; i++) {
    assert.ok(n.addPod());
    n.apply(n.plan());
  }
  for (let i = 0; i < 30; i++) n.removePod(0);
  n.now += 120_000;
  const shrink = n.plan();
  assert.ok(shrink.actions.length > 0, `over the warm target: shrinks (${shrink.reason})`);
  assert.deepEqual(n.plan({ waitingPods: 1 }).actions.filter((a) => !isGrowAction(a)), []);
  assert.deepEqual(n.plan({ pendingEnis: 1, pendingIps: 29 }).actions, []);
  // An ENI with 10 IPs being assigned has 10 less room.
  const m = new Node(limitsOf("m5.4xlarge"), cfg({ WARM_IP_TARGET: "30" }));
  m.converge();
  for (let i = 0; i < 30; i++) assert.ok(m.addPod());
  const enis = poolEnis(m.ds, m.now).map((e) => e.deviceNumber === 1 ? { ...e, pendingIps: 10 } : e);
  const p = m.plan({ enis, pendingIps: 10 });
  assert.deepEqual(p.actions, [
    { kind: "assign-ips", eniId: poolEnis(m.ds, m.now)[1].eniId, count: 18 },
    { kind: "create-enis", count: 1, ipsPerEni: 2 },
  ], p.reason);
});
