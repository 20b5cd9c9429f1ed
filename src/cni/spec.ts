/**
 * CNI spec 1.1.0 constants for aws-cni: supported versions, error codes, the error type and its JSON shape.
 *
 * Error codes 1–11 and 50/51 are the spec's; 100 and above are ours:
 *
 * | code | meaning                                                                          |
 * | ---- | -------------------------------------------------------------------------------- |
 * | 100  | internal error (a bug, or something we did not expect)                           |
 * | 101  | ADD: the interface `CNI_IFNAME` already exists in the container                  |
 * | 102  | ipamd refused the request and said it is not worth retrying (reason in details) |
 * | 103  | ipamd answered something we cannot read (protocol mismatch)                      |
 * | 104  | netlink/sysctl operation failed while wiring or unwiring the pod                 |
 * | 105  | CHECK: the wiring or ipamd's record does not match prevResult (what, in msg)     |
 * | 106  | the netlink library (libnl) could not be loaded                                  |
 *
 * @module
 */

/** Versions this plugin can speak, oldest first. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
/** The newest supported version. */
export const LATEST_VERSION = "1.1.0";

/** CNI error codes (spec and ours). */
export const Code = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO: 5,
  DECODE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  NOT_AVAILABLE_DAMAGED: 51,
  INTERNAL: 100,
  IFACE_EXISTS: 101,
  IPAMD_REFUSED: 102,
  IPAMD_PROTOCOL: 103,
  NETLINK: 104,
  CHECK_MISMATCH: 105,
  LIBNL_LOAD: 106,
} as const;

/** The commands of CNI 1.1.0. */
export const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"] as const;
export type Command = typeof COMMANDS[number];

/** An error that the plugin reports to the runtime as spec error JSON. */
export class CniError extends Error {
  /** The CNI error code. */
  readonly code: number;
  /** Extra detail for the runtime (`details` in the JSON). */
  readonly details: string;
  constructor(code: number, msg: string, details = "", options?: ErrorOptions) {
    super(msg, options);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }
}

/** The spec's error object. */
export interface ErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** Renders any thrown value as the spec's error JSON; unknown errors become code 100. */
export function errorJson(err: unknown, cniVersion: string): ErrorJson {
  if (err instanceof CniError) {
    const out: ErrorJson = { cniVersion, code: err.code, msg: err.message };
    if (err.details) out.details = err.details;
    return out;
  }
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { cniVersion, code: Code.INTERNAL, msg };
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** Whether `v` looks like `x.y.z`. */
export function isSemver(v: unknown): v is string {
  return typeof v === "string" && SEMVER.test(v);
}

/** Compares two `x.y.z` versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.match(SEMVER), pb = b.match(SEMVER);
  if (!pa || !pb) throw new CniError(Code.INCOMPATIBLE_VERSION, `invalid version "${!pa ? a : b}"`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether `v` is one of {@linkcode SUPPORTED_VERSIONS}. */
export function isSupportedVersion(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The oldest config version that has the command (VERSION/ADD/DEL: all). */
export function minVersionFor(cmd: Command): string {
  if (cmd === "CHECK") return "0.4.0";
  if (cmd === "GC" || cmd === "STATUS") return "1.1.0";
  return "0.3.0";
}
