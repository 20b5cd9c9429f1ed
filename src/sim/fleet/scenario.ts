/**
 * One fleet scenario on the virtual clock: nodes join over a window, each runs the real ipamd decision code
 * (node.ts) against the shared account (world.ts), pods arrive in a burst or at a steady rate once their
 * node's ipamd is ready, and the run ends when every pod is settled and EC2 has been quiet for a while.
 */
import { type IpamdConfig, loadConfig } from "../../ipamd/config.ts";
import { eniGcTimingFromEnv } from "../../ipamd/eni_gc.ts";
import { type ActionStats, isMutating, parseFaults } from "../realism.ts";
import { FleetNode, type Policy } from "./node.ts";
import { type PodOutcome, podRequest, runPod } from "./pods.ts";
import { VirtualClock } from "./virtual_clock.ts";
import { kubeletPodWorkerDelay } from "../kubelet_retry.ts";
import { Rng } from "../realism_rng.ts";
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
  /** `burst`: every pod of a node arrives at once; `steady`: `podRate` per node per s. */
  arrival: "burst" | "steady";
  podRate: number;
  /** The first pod arrives this long after its node's ipamd is ready (0: at once, the pool still empty). */
  podDelaySeconds: number;
  /** A burst's ADDs reach ipamd evenly spread over this window (kubelet and the CNI plugins are not instant). */
  burstSpreadSeconds: number;
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
  podDelaySeconds: 0,
  burstSpreadSeconds: 1,
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
export function runScenario(s: Scenario): Promise<RunResult> {
  return new FleetRun(s).run();
}

/** One run's state: the world, the nodes, the pods and when EC2 or a pod last moved. */
class FleetRun {
  readonly clock = new VirtualClock();
  readonly t0 = this.clock.now();
  readonly world: FleetWorld;
  readonly config: IpamdConfig;
  readonly pods: PodOutcome[] = [];
  readonly nodeRestarts: string[] = [];
  lastActivity = this.t0;
  /** kubelet's pod worker back-off (10–15 s), seeded. */
  readonly #kubeletDelay: () => number;
  settled = 0;

  constructor(readonly s: Scenario) {
    const rng = new Rng(s.seed ^ 0x5eed);
    this.#kubeletDelay = kubeletPodWorkerDelay(() => rng.next());
    this.world = new FleetWorld({
      clock: this.clock,
      seed: s.seed,
      nodes: s.nodes,
      faults: parseFaults(s.faults),
      latency: s.latency,
    });
    this.config = loadConfig({
      MY_NODE_NAME: "fleet-node",
      CLUSTER_NAME: "fleet",
      AWS_VPC_K8S_CNI_LOG_FILE: "stdout",
      ...s.env,
    });
  }

  async run(): Promise<RunResult> {
    const wall0 = performance.now();
    // ipamd's control flow throws errors (no free IP, throttled); their stack traces are most of the cost.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return await this.#run(wall0);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }

  async #run(wall0: number): Promise<RunResult> {
    const { s, clock, t0 } = this;
    for (let i = 0; i < s.nodes; i++) {
      clock.timer(Math.floor((i * s.joinSeconds * 1000) / s.nodes), () => void this.#startNode(i));
    }
    const total = s.nodes * s.podsPerNode;
    const quietMs = s.quietSeconds * 1000;
    await clock.run(
      t0 + s.maxSimSeconds * 1000,
      () => this.settled >= total && clock.now() - this.lastActivity >= quietMs,
    );
    // The nodes are left as they are: their timers live on the virtual clock, which stops here.
    return {
      scenario: s,
      pods: this.pods,
      ec2: this.world.realism.stats(),
      nodeRestarts: this.nodeRestarts,
      simSeconds: (clock.now() - t0) / 1000,
      steadySeconds: (this.lastActivity - t0) / 1000,
      wallSeconds: (performance.now() - wall0) / 1000,
      steps: clock.steps,
      timers: clock.fired,
    };
  }

  /** After each EC2 attempt of any node: a mutating call is activity (the fleet is not steady yet). */
  #onCall = (action: string) => {
    if (isMutating(action)) this.lastActivity = this.clock.now();
  };

  /** Starts node i; an ipamd that fails to start is restarted as kubelet restarts a crashing container. */
  async #startNode(i: number): Promise<void> {
    const { s, clock } = this;
    const instance = this.world.launch(i, s.instanceType);
    for (let restarts = 0;; restarts++) {
      const node = new FleetNode({
        clock,
        ec2: this.world.ec2,
        imds: this.world.imds(instance),
        config: this.config,
        policy: s.policy,
        eniGc: eniGcTimingFromEnv(s.env),
        seed: s.seed * 100_003 + i * 101 + restarts,
        onCall: this.#onCall,
      });
      try {
        await node.start();
        this.#addPods(i, node);
        return;
      } catch (e) {
        this.nodeRestarts.push(`node ${i}: ${(e as Error).message}`);
        await clock.sleep(Math.min(CRASHLOOP_MAX_MS, CRASHLOOP_FIRST_MS * 2 ** restarts));
      }
    }
  }

  /** Node i's pods: they arrive after the delay, in a burst or at the steady rate. */
  #addPods(i: number, node: FleetNode): void {
    const { s, clock } = this;
    for (let k = 0; k < s.podsPerNode; k++) {
      const gap = s.arrival === "burst" ? (s.burstSpreadSeconds * 1000) / s.podsPerNode : 1000 / s.podRate;
      const delay = Math.round(s.podDelaySeconds * 1000 + k * gap);
      const out: PodOutcome = { node: i, arrivedAt: 0, attempts: 0 };
      this.pods.push(out);
      clock.timer(delay, () => {
        out.arrivedAt = clock.now();
        const body = podRequest(i, k);
        void runPod(() => node.add(body), clock, out, this.#kubeletDelay).then(() => {
          this.settled++;
          if (out.readyAt !== undefined) this.lastActivity = Math.max(this.lastActivity, out.readyAt);
        });
      });
    }
  }
}
