/**
 * EC2's ClientToken idempotency, as EC2 documents it: a call repeated with the same token and the same
 * parameters returns the original call's result and makes nothing new; the same token with other parameters
 * is `IdempotentParameterMismatch`. Only a call that succeeded binds its token (a failed one may be retried
 * with it). Tokens are per action and kept at least 24 hours. Of the calls ipamd makes, only
 * CreateNetworkInterface takes a ClientToken.
 */
import { Ec2Error } from "../aws/ec2_port.ts";

/** How long a token is remembered (EC2: "at least 24 hours"). */
export const CLIENT_TOKEN_TTL_MS = 24 * 3600_000;

interface Bound {
  fingerprint: string;
  resourceId: string;
  result: unknown;
  at: number;
}

/** The parameters of a call as one string: keys sorted, the token itself and unset values left out. */
export function fingerprint(params: Record<string, unknown>): string {
  const norm = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(norm) : v && typeof v === "object"
      ? Object.fromEntries(
        Object.entries(v).filter(([k, x]) => k !== "clientToken" && x !== undefined).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0
        ).map(([k, x]) => [k, norm(x)]),
      )
      : v;
  return JSON.stringify(norm(params));
}

/** The tokens an account has used, per action. */
export class ClientTokens {
  readonly #bound = new Map<string, Bound>();

  /**
   * The earlier call bound to `token` with these parameters (`undefined` when the token is new or expired);
   * throws `IdempotentParameterMismatch` when the token was used with other parameters.
   */
  replay(
    action: string,
    token: string,
    params: Record<string, unknown>,
    now: number,
  ): { resourceId: string; result: unknown } | undefined {
    this.#expire(now);
    const b = this.#bound.get(`${action} ${token}`);
    if (!b) return undefined;
    if (b.fingerprint !== fingerprint(params)) {
      throw new Ec2Error(
        "IdempotentParameterMismatch",
        `The client token '${token}' was already used with different parameters.`,
        action,
      );
    }
    return { resourceId: b.resourceId, result: b.result };
  }

  /** Binds `token` to a call that succeeded. */
  bind(
    action: string,
    token: string,
    params: Record<string, unknown>,
    resourceId: string,
    result: unknown,
    now: number,
  ): void {
    this.#bound.set(`${action} ${token}`, { fingerprint: fingerprint(params), resourceId, result, at: now });
  }

  #expire(now: number): void {
    for (const [k, b] of this.#bound) {
      if (now - b.at < CLIENT_TOKEN_TTL_MS) break; // insertion order is time order
      this.#bound.delete(k);
    }
  }
}
