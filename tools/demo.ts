/**
 * `deno task demo`: the whole system on the lab in about two minutes. As root: installs the Debian packages
 * it needs, brings up a 2-node lab (m5.large, realistic EC2 latency) in its own state dir, adds pods (more than
 * the warm pool holds, so the pool grows), draws each node's ENIs, IPs and pods, runs three real checks (ping
 * matrix, SNAT to the internet, metrics + introspection), deletes the pods, waits for the pool to shrink and
 * tears everything down. Exit 0 only when every check passed.
 *
 *   deno task demo [--pods N] [--latency none|realistic] [--state-dir DIR] [--keep] [--no-shrink]
 *   deno task demo --ipv6 [--pods N] [--latency …] [--state-dir DIR] [--keep]   an IPv6 cluster (demo_ipv6.ts)
 *   (dev) --break route|rule   delete one pod's host route or its `from` rule before the checks
 *
 * The logic is {@linkcode runDemo}, a sequence of named steps (demo_steps.ts, demo_checks.ts, demo_draw.ts);
 * `tests/demo_test.ts` runs it small, broken and unbroken.
 * @module
 */
import { parseArgs } from "node:util";
import { lookupInstanceType } from "../src/aws/instance_types.ts";
import { labDown } from "../src/sim/daemon_launch.ts";
import { LabNames } from "../src/sim/naming.ts";
import { breakWiring, metricsAndIntrospection, pingMatrix, snatToInternet } from "./demo_checks.ts";
import type { CheckResult, DemoContext, DemoPod } from "./demo_context.ts";
import { drawPools } from "./demo_draw.ts";
import { bringUpIpv6, ipv6Body } from "./demo_ipv6.ts";
import { addPods, bringUp, deletePods, type DemoLab, printKeep, waitForShrink } from "./demo_steps.ts";
import { ensureDebianPackages, isRoot, LAB_PACKAGES } from "./deps.ts";

export interface DemoOptions {
  pods?: number;
  latency?: "none" | "realistic";
  stateDir?: string;
  keep?: boolean;
  /** Wait for the pool to shrink after the pods are deleted (default true). */
  shrink?: boolean;
  /** Dev: break one pod's wiring before the checks. */
  breakWhat?: "route" | "rule";
  /** Install missing Debian packages (default true). */
  deps?: boolean;
  /** Output (default console.log). */
  log?: (line: string) => void;
  /** Set by the CLI: called with the teardown, so a signal can run it. */
  onTeardown?: (fn: () => Promise<void>) => void;
  /**
   * An IPv6 cluster instead (tools/demo_ipv6.ts): a dual-stack lab, 6 pods by default, its own checks;
   * `breakWhat` may only be `route`, `shrink` does not apply.
   */
  ipv6?: boolean;
}

export interface DemoResult {
  ok: boolean;
  checks: CheckResult[];
  stateDir: string;
}

/** The lab the demo asks for: 2 × m5.large. */
function demoLab(opts: DemoOptions): DemoLab {
  const stateDir = opts.stateDir ?? "/run/vpc-cni-demo";
  const instanceType = "m5.large";
  const it = lookupInstanceType(instanceType)!;
  return {
    names: new LabNames(stateDir),
    stateDir,
    instanceType,
    latency: opts.latency ?? "realistic",
    pods: opts.pods ?? (opts.ipv6 ? 6 : 12),
    maxEnis: it.maxEnis,
    usable: it.ipv4PerEni - 1,
  };
}

/** Checks the Debian packages (installing what is missing); false when apt could not. */
function ensureDeps(log: (l: string) => void): boolean {
  log(`deps: checking Debian packages (tools/deps.ts ensureDebianPackages): ${LAB_PACKAGES.join(" ")}`);
  if (!ensureDebianPackages(LAB_PACKAGES)) return false;
  log("deps: all present");
  return true;
}

/** The pods, the picture, the checks; then (unless kept) the pods deleted and the shrink awaited. */
async function demoBody(ctx: DemoContext, lab: DemoLab, opts: DemoOptions): Promise<void> {
  await addPods(ctx, lab.pods);
  const podByContainer = new Map(ctx.pods.map((p) => [p.rec.containerId, p.rec.name]));
  await drawPools(ctx, "the pool now", podByContainer);
  const broken: DemoPod | undefined = opts.breakWhat ? await breakWiring(ctx, opts.breakWhat) : undefined;
  await pingMatrix(ctx, broken);
  await snatToInternet(ctx, broken);
  await metricsAndIntrospection(ctx);
  if (opts.keep) return printKeep(ctx);
  await deletePods(ctx);
  if (opts.shrink === false) return;
  await waitForShrink(ctx);
  await drawPools(ctx, "the pool after the pods left", new Map());
}

/** Runs the demo; never throws for a failed check (see `ok`), always tears down unless `keep`. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const lab = demoLab(opts);
  const checks: CheckResult[] = [];
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s]`;
  const head = (s: string) => log(`\n${stamp()} ── ${s} ${"─".repeat(Math.max(0, 90 - s.length))}`);
  if (opts.deps !== false && !ensureDeps(log)) {
    return {
      ok: false,
      checks: [{ name: "deps", ok: false, detail: "apt-get could not install" }],
      stateDir: lab.stateDir,
    };
  }
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    const r = await labDown(lab.stateDir);
    log(`${stamp()} lab down: ${r.namespaces.length} namespaces removed, ${r.killed} processes ended`);
  };
  opts.onTeardown?.(teardown);
  let result: DemoResult;
  try {
    const status = opts.ipv6
      ? await bringUpIpv6(lab, log, head, stamp)
      : await bringUp(lab, log, head, stamp);
    const ctx: DemoContext = {
      log,
      stamp,
      head,
      names: lab.names,
      stateDir: lab.stateDir,
      status,
      pods: [],
      checks,
      usable: lab.usable,
    };
    await (opts.ipv6 ? ipv6Body(ctx, lab, opts) : demoBody(ctx, lab, opts));
  } catch (e) {
    log(`demo: ${(e as Error).message}`);
    checks.push({ name: "demo ran", ok: false, detail: (e as Error).message.split("\n")[0] });
  } finally {
    // The result first, then the teardown and the total (as before the split).
    result = summarize(log, checks, lab.stateDir);
    if (!opts.keep) await teardown();
    log(`${stamp()} total`);
  }
  return result;
}

function summarize(log: (l: string) => void, checks: CheckResult[], stateDir: string): DemoResult {
  log(`\n── result ${"─".repeat(90)}`);
  for (const c of checks) log(`  ${c.ok ? "PASS" : "FAIL"}  ${c.name.padEnd(30)} ${c.detail}`);
  const ok = checks.length > 0 && checks.every((c) => c.ok);
  log(ok ? "every check passed" : `${checks.filter((c) => !c.ok).length} check(s) failed`);
  return { ok, checks, stateDir };
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      pods: { type: "string" },
      latency: { type: "string", default: "realistic" },
      "state-dir": { type: "string", default: "/run/vpc-cni-demo" },
      keep: { type: "boolean", default: false },
      "no-shrink": { type: "boolean", default: false },
      break: { type: "string" },
      ipv6: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (v.help) {
    console.log(
      "usage: deno task demo [--ipv6] [--pods N] [--latency none|realistic] [--state-dir DIR] [--keep] [--no-shrink]",
    );
    Deno.exit(0);
  }
  if (!isRoot()) {
    console.error(
      "demo: needs root (it makes network namespaces, veths, routes and iptables rules, and installs " +
        "Debian packages). Run: sudo npx -y deno@2.9.6 task demo",
    );
    Deno.exit(1);
  }
  const pods = Number(v.pods ?? (v.ipv6 ? 6 : 12));
  if (!Number.isInteger(pods) || pods < 2 || pods > 40) {
    console.error(`demo: --pods needs an integer 2..40, got "${v.pods}"`);
    Deno.exit(2);
  }
  if (v.latency !== "none" && v.latency !== "realistic") {
    console.error(`demo: --latency needs none or realistic`);
    Deno.exit(2);
  }
  if (v.break !== undefined && v.break !== "route" && (v.ipv6 || v.break !== "rule")) {
    console.error(`demo: --break needs route${v.ipv6 ? "" : " or rule"}`);
    Deno.exit(2);
  }
  let teardown: (() => Promise<void>) | undefined;
  let interrupted = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      if (interrupted) return;
      interrupted = true;
      console.log(`\ndemo: ${sig}: tearing the lab down`);
      (teardown ? teardown() : Promise.resolve()).finally(() => Deno.exit(130));
    });
  }
  const r = await runDemo({
    pods,
    latency: v.latency,
    stateDir: v["state-dir"],
    keep: v.keep,
    shrink: !v["no-shrink"],
    breakWhat: v.break as "route" | "rule" | undefined,
    ipv6: v.ipv6,
    onTeardown: (fn) => teardown = fn,
  });
  Deno.exit(r.ok ? 0 : 1);
}
