/**
 * The warm-pool policy's data: what it looks at ({@linkcode PoolInput}), the actions it plans, the plan, and
 * its two timing rules. See pool.ts for the policy itself.
 * @module
 */
import type { IpamdConfig } from "./config.ts";
import type { IpStats } from "./datastore.ts";

/** ENIs younger than this are never deleted (upstream: 1 minute). */
export const ENI_MIN_AGE_MS = 60_000;
/** Shrink actions at most this often (upstream: 30 s). */
export const SHRINK_INTERVAL_MS = 30_000;

/** One attached ENI as the pool sees it. */
export interface PoolEni {
  eniId: string;
  deviceNumber: number;
  createdAt: number;
  /** The instance's primary ENI (device 0): never deleted; carries no pods under custom networking. */
  primary: boolean;
  stats: IpStats;
  /** Free, cooled-down secondary IPs that may be unassigned (Datastore.freeIpsOn). */
  freeIps: string[];
  /** Number of /28 prefixes on the ENI. */
  prefixes: number;
  /** Prefixes with no assigned or cooling address (Datastore.freePrefixesOn). Without it, prefixes are never released. */
  freePrefixes?: string[];
  /** Addresses being assigned to this ENI right now (in-flight assign-ips/-prefixes); they take its room. */
  pendingIps?: number;
}

/** Everything the policy looks at. */
export interface PoolInput {
  now: number;
  enis: PoolEni[];
  /** Instance limits; maxEnis is min'd with config.maxEni here. */
  limits: { maxEnis: number; ipv4PerEni: number };
  config: Pick<
    IpamdConfig,
    | "warmEniTarget"
    | "warmIpTarget"
    | "minimumIpTarget"
    | "warmPrefixTarget"
    | "enablePrefixDelegation"
    | "maxEni"
  >;
  /** ENIs being created/attached right now; they count toward the target. */
  pendingEnis: number;
  /**
   * Addresses in flight: those the pending ENIs will bring plus those being assigned to attached ENIs
   * (`PoolEni.pendingIps`; prefix mode: 16 per prefix). Unset: each pending ENI is assumed to bring a full
   * ENI's worth. Set, the room left on pending ENIs (`pendingEnis × usable − their addresses`) is counted as
   * covering a shortfall (filled once they attach) before any further ENI is created.
   */
  pendingIps?: number;
  /**
   * Pod ADDs waiting for an IP right now (the socket API's demand): counted as already-assigned pods in every
   * mode, so a burst's growth is planned at once. While any wait, nothing shrinks.
   */
  waitingPods?: number;
  /** When shrink actions were last carried out (0 if never). */
  lastShrinkAt: number;
  /** No growth before this time (e.g. after InsufficientCidrBlocks). */
  growthPausedUntil?: number;
  /** The primary ENI carries no pods. */
  customNetworking?: boolean;
}

/** One step for the runtime to carry out. */
export type PoolAction =
  | { kind: "create-enis"; count: number; ipsPerEni: number; prefixesPerEni?: number }
  | { kind: "assign-ips"; eniId: string; count: number }
  | { kind: "assign-prefixes"; eniId: string; count: number }
  | { kind: "unassign-ips"; eniId: string; ips: string[] }
  | { kind: "unassign-prefixes"; eniId: string; prefixes: string[] }
  | { kind: "delete-eni"; eniId: string };

/** The plan: actions (possibly none), why, and the figures behind it. */
export interface PoolPlan {
  actions: PoolAction[];
  reason: string;
  /** Addresses the node is short of (before caps). */
  short: number;
  /** Addresses the node holds beyond its targets. */
  over: number;
  /** ENIs the node will have once the plan is carried out (attached + pending + created − deleted). */
  targetEnis: number;
}
