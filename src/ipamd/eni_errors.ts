/** EC2 failures in the socket API's vocabulary (`EniError`), with the growth pause some of them call for. */
import type { IpamdErrorReason } from "../cni/api.ts";
import { Ec2Error } from "../aws/ec2_port.ts";

/** Growth pause after InsufficientCidrBlocks (upstream's 120 s). */
export const CIDR_PAUSE_MS = 120_000;

/** An EC2 failure translated to the socket API's vocabulary. */
export class EniError extends Error {
  constructor(
    readonly reason: IpamdErrorReason,
    message: string,
    readonly retryable: boolean,
    /** Pause growth this long (InsufficientCidrBlocks). */
    readonly pauseMs = 0,
    override readonly cause?: unknown,
    /**
     * EC2 may have done (part of) it: an answer was lost (a 5xx or no answer), or EC2 counts addresses ipamd
     * does not know. ipamd's view should be compared with EC2's again soon.
     */
    readonly unsure = false,
  ) {
    super(message);
    this.name = "EniError";
  }
}

/** Maps an error from EC2 (or ours) to a socket API reason. */
export function classifyError(e: unknown): EniError {
  if (e instanceof EniError) return e;
  if (e instanceof Ec2Error) {
    switch (e.code) {
      case "AttachmentLimitExceeded":
        return new EniError("max_enis_reached", e.message, false, 0, e);
      case "InsufficientFreeAddressesInSubnet":
        return new EniError("subnet_exhausted", e.message, true, 0, e);
      case "InsufficientCidrBlocks":
        return new EniError(
          "subnet_exhausted",
          `${e.message} (no free /28 in the subnet; growth paused ${CIDR_PAUSE_MS / 1000} s)`,
          true,
          CIDR_PAUSE_MS,
          e,
        );
      case "RequestLimitExceeded":
      case "Throttling":
        return new EniError("ec2_throttled", e.message, true, 0, e);
      case "PrivateIpAddressLimitExceeded":
        return new EniError("max_enis_reached", e.message, false, 0, e);
    }
    return new EniError("internal", e.message, e.retryable, 0, e, e.httpStatus >= 500);
  }
  return new EniError("internal", e instanceof Error ? e.message : String(e), true, 0, e);
}
