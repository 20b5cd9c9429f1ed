/**
 * `deno task fleet`: the fleet simulation's command line. Runs one scenario per policy and prints the report
 * (or, with `--json`, one JSON line per policy).
 */
import { parseArgs } from "node:util";
import { lookupInstanceType } from "../../aws/instance_types.ts";
import { parseFaults } from "../realism.ts";
import type { Policy } from "./node.ts";
import { jsonLine, summarize, textReport } from "./report.ts";
import { DEFAULT_SCENARIO, runScenario, type Scenario } from "./scenario.ts";
import { markdownTable, replaceBetweenMarkers, runTable, TABLE_NODES } from "./table.ts";

const D = DEFAULT_SCENARIO;
const USAGE = `usage: deno task fleet [options]
  --nodes N               nodes joining (default ${D.nodes})
  --pods-per-node P       pods per node (default ${D.podsPerNode})
  --join-seconds S        nodes join evenly over S seconds (default ${D.joinSeconds})
  --policy P              ours | upstream-like | both (default both)
  --instance-type T       (default ${D.instanceType})
  --arrival A             burst (all pods once the node's ipamd is ready) | steady (default ${D.arrival})
  --pod-rate R            pods per second per node with --arrival steady (default ${D.podRate})
  --pod-delay S           the first pod arrives S s after its node's ipamd is ready (default ${D.podDelaySeconds})
  --burst-spread S        a burst's ADDs reach ipamd spread evenly over S s (default ${D.burstSpreadSeconds})
  --warm-eni-target N, --warm-ip-target N, --minimum-ip-target N, --warm-prefix-target N
  --prefix-delegation     ENABLE_PREFIX_DELEGATION=true
  --ipamd-env K=V         any other ipamd variable (repeatable)
  --faults SPEC           the lab's faults: throttle=0.05,5xx=0.01,attach-fail=0.01,imds-lag=1s
                          (default "${D.faults}")
  --latency L             realistic | none (default ${D.latency})
  --seed N                (default ${D.seed})
  --max-sim-seconds S     stop after S simulated seconds (default ${D.maxSimSeconds})
  --quiet-seconds S       steady = every pod settled and no mutating EC2 call for S s (default ${D.quietSeconds})
  --json                  one JSON line per policy
  --table                 the scaling table instead: both policies at --table-nodes (default ${TABLE_NODES})
  --write-readme          with --table: put the table into README.md (between the fleet-table markers)`;

/** A bad command line. */
export class UsageError extends Error {}

const OPTIONS = {
  nodes: { type: "string" },
  "pods-per-node": { type: "string" },
  "join-seconds": { type: "string" },
  policy: { type: "string" },
  "instance-type": { type: "string" },
  arrival: { type: "string" },
  "pod-rate": { type: "string" },
  "pod-delay": { type: "string" },
  "burst-spread": { type: "string" },
  "warm-eni-target": { type: "string" },
  "warm-ip-target": { type: "string" },
  "minimum-ip-target": { type: "string" },
  "warm-prefix-target": { type: "string" },
  "prefix-delegation": { type: "boolean" },
  "ipamd-env": { type: "string", multiple: true },
  faults: { type: "string" },
  latency: { type: "string" },
  seed: { type: "string" },
  "max-sim-seconds": { type: "string" },
  "quiet-seconds": { type: "string" },
  json: { type: "boolean" },
  table: { type: "boolean" },
  "table-nodes": { type: "string" },
  "write-readme": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function num(v: string | undefined, name: string, dflt: number, o: { int?: boolean; min?: number } = {}) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || (o.int && !Number.isInteger(n)) || n < (o.min ?? 0)) {
    throw new UsageError(`--${name} needs a${o.int ? " whole" : ""} number ≥ ${o.min ?? 0}, got "${v}"`);
  }
  return n;
}

function oneOf<T extends string>(v: string | undefined, name: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(", ")}`);
  return v as T;
}

/** The ipamd environment the flags ask for. */
function ipamdEnv(v: ReturnType<typeof parse>["values"]): Record<string, string> {
  const env: Record<string, string> = {};
  const targets = [
    ["warm-eni-target", "WARM_ENI_TARGET"],
    ["warm-ip-target", "WARM_IP_TARGET"],
    ["minimum-ip-target", "MINIMUM_IP_TARGET"],
    ["warm-prefix-target", "WARM_PREFIX_TARGET"],
  ] as const;
  for (const [flag, name] of targets) {
    if (v[flag] !== undefined) env[name] = String(num(v[flag], flag, 0, { int: true }));
  }
  if (v["prefix-delegation"]) env.ENABLE_PREFIX_DELEGATION = "true";
  for (const kv of v["ipamd-env"] ?? []) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(kv);
    if (!m) throw new UsageError(`--ipamd-env needs KEY=VALUE, got "${kv}"`);
    env[m[1]] = m[2];
  }
  return env;
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** What a command line asks for. */
export interface Command {
  scenarios: Scenario[];
  json: boolean;
  help: boolean;
  /** The fleet sizes of the scaling table, when `--table`. */
  table?: number[];
  writeReadme: boolean;
}

function tableNodes(v: string | undefined): number[] {
  if (v === undefined) return TABLE_NODES;
  return v.split(",").map((x) => num(x.trim(), "table-nodes", 0, { int: true, min: 1 }));
}

/** The scenarios (one per policy) a command line asks for. */
export function scenariosFromArgs(argv: string[]): Command {
  const { values: v } = parse(argv);
  const instanceType = v["instance-type"] ?? D.instanceType;
  if (!lookupInstanceType(instanceType)) throw new UsageError(`--instance-type ${instanceType} is not known`);
  const faults = v.faults ?? D.faults;
  try {
    parseFaults(faults);
  } catch (e) {
    throw new UsageError(`--faults: ${(e as Error).message}`);
  }
  const base: Scenario = {
    nodes: num(v.nodes, "nodes", D.nodes, { int: true, min: 1 }),
    podsPerNode: num(v["pods-per-node"], "pods-per-node", D.podsPerNode, { int: true }),
    joinSeconds: num(v["join-seconds"], "join-seconds", D.joinSeconds),
    policy: "ours",
    instanceType,
    arrival: oneOf(v.arrival, "arrival", ["burst", "steady"] as const, D.arrival),
    podRate: num(v["pod-rate"], "pod-rate", D.podRate, { min: 0.001 }),
    podDelaySeconds: num(v["pod-delay"], "pod-delay", D.podDelaySeconds),
    burstSpreadSeconds: num(v["burst-spread"], "burst-spread", D.burstSpreadSeconds),
    env: ipamdEnv(v),
    faults,
    latency: oneOf(v.latency, "latency", ["realistic", "none"] as const, D.latency),
    seed: num(v.seed, "seed", D.seed, { int: true }),
    maxSimSeconds: num(v["max-sim-seconds"], "max-sim-seconds", D.maxSimSeconds, { min: 1 }),
    quietSeconds: num(v["quiet-seconds"], "quiet-seconds", D.quietSeconds),
  };
  const policy = oneOf(v.policy, "policy", ["ours", "upstream-like", "both"] as const, "both");
  const policies: Policy[] = policy === "both" ? ["ours", "upstream-like"] : [policy];
  return {
    scenarios: policies.map((p) => ({ ...base, policy: p })),
    json: !!v.json,
    help: !!v.help,
    table: v.table ? tableNodes(v["table-nodes"]) : undefined,
    writeReadme: !!v["write-readme"],
  };
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = scenariosFromArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`fleet: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const first = parsed.scenarios[0];
  if (parsed.table) return await table(parsed, first);
  if (!parsed.json) {
    console.log(
      `fleet: ${first.nodes} × ${first.instanceType} joining over ${first.joinSeconds} s, ${first.podsPerNode} pods ` +
        `each (${
          first.arrival === "burst" ? "burst" : `${first.podRate}/s`
        }), latency ${first.latency}, faults ` +
        `"${first.faults}", env ${JSON.stringify(first.env)}, seed ${first.seed}`,
    );
  }
  for (const s of parsed.scenarios) {
    const r = await runScenario(s);
    const sum = summarize(r);
    console.log(parsed.json ? jsonLine(sum) : textReport(sum, r).join("\n"));
  }
  return 0;
}

/** `--table`: both policies at each size; one JSON line per run, then the Markdown table. */
async function table(c: Command, base: Scenario): Promise<number> {
  const rows = await runTable(base, c.table, (s) => console.log(jsonLine(s)));
  const md = markdownTable(rows);
  console.log(md);
  if (c.writeReadme) {
    const path = new URL("../../../README.md", import.meta.url);
    const args = `deno task fleet --table${c.table === TABLE_NODES ? "" : ` --table-nodes ${c.table}`}`;
    const note = `Printed by \`${args}\` (${new Date().toISOString().slice(0, 10)}, ${Deno.build.os}, ` +
      `${navigator.hardwareConcurrency} cores); every node ${base.instanceType}, ${base.podsPerNode} pods in a ` +
      `${base.burstSpreadSeconds} s burst once its ipamd is ready, nodes joining over ${base.joinSeconds} s.`;
    Deno.writeTextFileSync(path, replaceBetweenMarkers(Deno.readTextFileSync(path), `${note}\n\n${md}`));
    // The README stays as `deno fmt` wants it (the table's columns padded, the note wrapped).
    const fmt = await new Deno.Command(Deno.execPath(), {
      args: [
        "fmt",
        "--quiet",
        "--config",
        new URL("../../../deno.json", import.meta.url).pathname,
        path.pathname,
      ],
    }).output();
    if (!fmt.success) {
      console.error(`fleet: deno fmt README.md failed:\n${new TextDecoder().decode(fmt.stderr)}`);
    }
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
