/**
 * {@linkcode NetlinkError}: a failed libnl call, with libnl's NLE_* code.
 *
 * @module
 */

/** libnl's error names, indexed by the positive NLE_* number. */
export const NLE_NAMES: readonly string[] = [
  "NLE_SUCCESS",
  "NLE_FAILURE",
  "NLE_INTR",
  "NLE_BAD_SOCK",
  "NLE_AGAIN",
  "NLE_NOMEM",
  "NLE_EXIST",
  "NLE_INVAL",
  "NLE_RANGE",
  "NLE_MSGSIZE",
  "NLE_OPNOTSUPP",
  "NLE_AF_NOSUPPORT",
  "NLE_OBJ_NOTFOUND",
  "NLE_NOATTR",
  "NLE_MISSING_ATTR",
  "NLE_AF_MISMATCH",
  "NLE_SEQ_MISMATCH",
  "NLE_MSG_OVERFLOW",
  "NLE_MSG_TRUNC",
  "NLE_NOADDR",
  "NLE_SRCRT_NOSUPPORT",
  "NLE_MSG_TOOSHORT",
  "NLE_MSGTYPE_NOSUPPORT",
  "NLE_OBJ_MISMATCH",
  "NLE_NOCACHE",
  "NLE_BUSY",
  "NLE_PROTO_MISMATCH",
  "NLE_NOACCESS",
  "NLE_PERM",
  "NLE_PKTLOC_FILE",
  "NLE_PARSE_ERR",
  "NLE_NODEV",
  "NLE_IMMUTABLE",
  "NLE_DUMP_INTR",
  "NLE_ATTRSIZE",
];

/** NLE_EXIST: the kernel said EEXIST/EADDRINUSE. */
export const NLE_EXIST = 6;
/** NLE_OBJ_NOTFOUND: the kernel said ENOENT/ESRCH (missing route, rule, neighbour). */
export const NLE_OBJ_NOTFOUND = 12;
/** NLE_NOADDR: the kernel said EADDRNOTAVAIL (missing address). */
export const NLE_NOADDR = 19;
/** NLE_NODEV: the kernel said ENODEV (missing link). */
export const NLE_NODEV = 31;

/** A failed netlink operation. `code` is libnl's positive NLE_* number. */
export class NetlinkError extends Error {
  /** What was attempted, e.g. `routeAdd 10.0.0.0/24 table 3`. */
  readonly op: string;
  /** libnl's positive NLE_* number. */
  readonly code: number;
  /** The NLE_* name, e.g. `NLE_EXIST`. */
  readonly errName: string;

  constructor(op: string, code: number, text?: string) {
    const c = Math.abs(code);
    const name = NLE_NAMES[c] ?? `NLE_${c}`;
    super(`${op}: ${text ?? name} (${name})`);
    this.name = "NetlinkError";
    this.op = op;
    this.code = c;
    this.errName = name;
  }

  /** The object already exists (add twice). */
  get exists(): boolean {
    return this.code === NLE_EXIST;
  }

  /** The link, address, route, rule or neighbour does not exist. */
  get notFound(): boolean {
    return this.code === NLE_OBJ_NOTFOUND || this.code === NLE_NODEV || this.code === NLE_NOADDR;
  }
}
