/**
 * One fleet scenario on the virtual clock: nodes join over a window, each runs the real ipamd decision code
 * (node.ts) against the shared account (world.ts), pods arrive in a burst or at a steady rate once their
 * node's ipamd is ready, and the run ends when every pod is settled and EC2 has been quiet for a while.
 */
import type { Instance } from "../../aws/ec2_port.ts";
import { type ActionClass, actionClass } from "../../aws/rate_limit_bucket.ts";
import { loadConfig } from "../../ipamd/config.ts";
import { type ActionStats, parseFaults } from "../realism.ts";
import { FleetNode, type Policy } from "./node.ts";
import { addNetwork, type PodOutcome, podRequest, runPod } from "./pods.ts";
import { VirtualClock } from "./virtual_clock.ts";
import { FleetWorld } from "./world.ts";

/** kubelet's CrashLoopBackOff: the first restart delay, doubling to the cap. */
const CRASHLOOP_FIRST_MS = 10_000;
const CRASHLOOP_MAX_MS = 300_000;

/** A scenario (the CLI's flags). */
export interface Scenario {
  nodes: number;
  podsPerNode: number;
  /** Nodes join evenly spread over this window. */
  joinSeconds: number;
  policy: Policy;
  instanceType: string;
  /** `burst`: every pod of a node arrives when its ipamd is ready; `steady`: `podRate` per node per s. */
  arrival: "burst" | "steady";
  podRate: number;
  /** ipamd environment (warm pool targets, ENABLE_PREFIX_DELEGATION, ...). */
  env: Record<string, string>;
  /** The lab's fault spec (`throttle=0.05,5xx=0.01,imds-lag=1s,attach-fail=0.01`). */
  faults: string;
  latency: "none" | "realistic";
  seed: number;
  /** The run ends after this much virtual time at the latest. */
  maxSimSeconds: number;
  /** The fleet is steady once every pod is settled and no mutating EC2 call happened for this long. */
  quietSeconds: number;
}

/** Defaults: 1,000 m5.xlarge nodes joining within 60 s, 30 pods each in a burst, realistic EC2. */
export const DEFAULT_SCENARIO: Scenario = {
  nodes: 1000,
  podsPerNode: 30,
  joinSeconds: 60,
  policy: "ours",
  instanceType: "m5.xlarge",
  arrival: "burst",
  podRate: 1,
  env: {},
  faults: "imds-lag=1s",
  latency: "realistic",
  seed: 1,
  maxSimSeconds: 3600,
  quietSeconds: 60,
};

/** What a run measured. Times are seconds of virtual time unless named `wall`. */
export interface RunResult {
  scenario: Scenario;
  pods: PodOutcome[];
  /** Server-side counters per EC2 action (calls, errors, throttles). */
  ec2: Record<string, ActionStats>;
  /** Per throttling class: calls, throttles, and the window (s) in which they were made. */
  classes: Record<ActionClass, { calls: number; throttles: number; firstAt: number; lastAt: number }>;
  nodesReady: number;
  /** Start-ups that failed (each followed by a restart after kubelet's back-off), with the reason. */
  nodeRestarts: string[];
  simSeconds: number;
  /** When the last pod got ready or the last mutating EC2 call ended, whichever is later. */
  steadySeconds: number;
  wallSeconds: number;
  /** Virtual instants stepped and timers fired (the simulator's own work). */
  steps: number;
  timers: number;
}

/** Runs one scenario. */
export async function runScenario(s: Scenario): Promise<RunResult> {
  const wall0 = performance.now();
  const clock = new VirtualClock();
  const t0 = clock.now();
  const world = new FleetWorld({
    clock,
    seed: s.seed,
    nodes: s.nodes,
    faults: parseFaults(s.faults),
    latency: s.latency,
  });
  const config = loadConfig({
    MY_NODE_NAME: "fleet-node",
    CLUSTER_NAME: "fleet",
    AWS_VPC_K8S_CNI_LOG_FILE: "stdout",
    ...s.env,
  });
  const pods: PodOutcome[] = [];
  const nodes: FleetNode[] = [];
  const nodeRestarts: string[] = [];
  const classes = {} as RunResult["classes"];
  let lastActivity = t0;
  let settled = 0;
  const onCall = (action: string, _ms: number, code?: string) => {
    const at = (clock.now() - t0) / 1000;
    const c = classes[actionClass(action)] ??= { calls: 0, throttles: 0, firstAt: at, lastAt: at };
    c.calls++;
    c.lastAt = at;
    if (code === "RequestLimitExceeded") c.throttles++;
    if (!action.startsWith("Describe")) lastActivity = clock.now();
  };
  const makeNode = (i: number, instance: Instance, restarts: number) =>
    new FleetNode({
      clock,
      ec2: world.ec2,
      imds: world.imds(instance),
      config,
      policy: s.policy,
      seed: s.seed * 100_003 + i * 101 + restarts,
      onCall,
    });
  const addPods = (i: number, node: FleetNode) => {
    for (let k = 0; k < s.podsPerNode; k++) {
      const delay = s.arrival === "burst" ? 0 : Math.round((k * 1000) / s.podRate);
      const out: PodOutcome = { node: i, arrivedAt: 0, attempts: 0 };
      pods.push(out);
      clock.timer(delay, () => {
        out.arrivedAt = clock.now();
        const body = podRequest(i, k);
        void runPod(() => addNetwork(node.api, body), clock, out).then(() => {
          settled++;
          if (out.readyAt !== undefined) lastActivity = Math.max(lastActivity, out.readyAt);
        });
      });
    }
  };
  // A node whose ipamd fails to start is restarted as kubelet restarts a crashing container (CrashLoopBackOff).
  const startNode = async (i: number) => {
    const instance = world.launch(i, s.instanceType);
    for (let restarts = 0;; restarts++) {
      const node = makeNode(i, instance, restarts);
      try {
        await node.start();
        nodes.push(node);
        addPods(i, node);
        return;
      } catch (e) {
        nodeRestarts.push(`node ${i}: ${(e as Error).message}`);
        await clock.sleep(Math.min(CRASHLOOP_MAX_MS, CRASHLOOP_FIRST_MS * 2 ** restarts));
      }
    }
  };
  for (let i = 0; i < s.nodes; i++) {
    clock.timer(Math.floor((i * s.joinSeconds * 1000) / s.nodes), () => void startNode(i));
  }
  const total = s.nodes * s.podsPerNode;
  const quietMs = s.quietSeconds * 1000;
  await clock.run(
    t0 + s.maxSimSeconds * 1000,
    () => settled >= total && clock.now() - lastActivity >= quietMs,
  );
  const simSeconds = (clock.now() - t0) / 1000;
  // The nodes are left as they are: their timers live on the virtual clock, which stops here.
  return {
    scenario: s,
    pods,
    ec2: world.realism.stats(),
    classes,
    nodesReady: nodes.filter((n) => n.readyAt !== undefined).length,
    nodeRestarts,
    simSeconds,
    steadySeconds: (lastActivity - t0) / 1000,
    wallSeconds: (performance.now() - wall0) / 1000,
    steps: clock.steps,
    timers: clock.fired,
  };
}
