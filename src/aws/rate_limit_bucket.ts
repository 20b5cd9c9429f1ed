/**
 * Token buckets shaped like EC2's API throttling (capacity, refill per second), and the action classes
 * EC2 meters separately. Shared by the lab's server-side throttling and ipamd's client-side limiter.
 */

/** EC2's throttling classes. */
export type ActionClass = "mutate" | "tags" | "attach" | "describe" | "other";

/** Bucket shape: burst capacity and tokens added per second. */
export interface BucketShape {
  capacity: number;
  refillPerSec: number;
}

/** EC2's published bucket per class (per account and region). */
export const EC2_BUCKETS: Readonly<Record<ActionClass, BucketShape>> = {
  mutate: { capacity: 100, refillPerSec: 5 },
  tags: { capacity: 100, refillPerSec: 10 },
  attach: { capacity: 50, refillPerSec: 5 },
  describe: { capacity: 100, refillPerSec: 20 },
  other: { capacity: 50, refillPerSec: 5 },
};

const MUTATE = new Set([
  "AssignPrivateIpAddresses",
  "UnassignPrivateIpAddresses",
  "AssignIpv6Addresses",
  "UnassignIpv6Addresses",
  "CreateNetworkInterface",
  "DeleteNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
]);

/** The throttling class of an EC2 action. */
export function actionClass(action: string): ActionClass {
  if (action.startsWith("Describe")) return "describe";
  if (MUTATE.has(action)) return "mutate";
  if (action === "CreateTags") return "tags";
  if (action === "AttachNetworkInterface" || action === "DetachNetworkInterface") return "attach";
  return "other";
}

/**
 * A token bucket driven by an explicit clock (epoch ms, e.g. a `Clock`'s `now`). Starts full, refilling at
 * the shape's rate unless {@link setRate} changed it (the client side adapts it to EC2's throttling).
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  #rate: number;

  constructor(readonly shape: BucketShape, readonly now: () => number) {
    this.#tokens = shape.capacity;
    this.#last = now();
    this.#rate = shape.refillPerSec;
  }

  #refill(): void {
    const t = this.now();
    const dt = Math.max(0, t - this.#last) / 1000;
    this.#last = t;
    this.#tokens = Math.min(this.shape.capacity, this.#tokens + dt * this.#rate);
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Tokens added per second now. */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the refill rate from now on (tokens earned so far are kept). */
  setRate(perSec: number): void {
    this.#refill();
    this.#rate = perSec;
  }

  /** Empties the bucket. */
  drain(): void {
    this.#refill();
    this.#tokens = 0;
  }

  /** Takes one token if available. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is available (0 when one is). */
  msUntilToken(): number {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    if (this.#rate <= 0) return Infinity;
    return Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }
}
