/**
 * Secondary IPs and /28 prefixes on an ENI, with EC2's lost answers in mind: an unassign whose answer was
 * lost is recognised from Describe; an assign whose answer was lost shows up in EC2 later, where reconcile
 * adopts it (`EniError.unsure` asks for that to happen soon).
 */
import { Ec2Error, type Ec2Port, type NetworkInterface } from "../aws/ec2_port.ts";
import { classifyError, EniError } from "./eni_errors.ts";
import type { Logger } from "./log.ts";

/** What these calls need of the ENI manager. */
export interface AddressCalls {
  o: { ec2: Ec2Port; log?: Logger };
  call<T>(action: string, fn: () => Promise<T>): Promise<T>;
  describeOne(eniId: string): Promise<NetworkInterface | undefined>;
}

/** AssignPrivateIpAddresses with a count of IPs or of prefixes. */
export async function assignAddresses(
  m: AddressCalls,
  eniId: string,
  what: { secondaryPrivateIpAddressCount?: number; ipv4PrefixCount?: number },
): Promise<{ privateIps: string[]; ipv4Prefixes: string[] }> {
  try {
    return await m.call(
      "AssignPrivateIpAddresses",
      () => m.o.ec2.assignPrivateIpAddresses({ networkInterfaceId: eniId, ...what }),
    );
  } catch (e) {
    // The pool assigns only where it counts room: EC2 knowing more addresses there means an earlier answer
    // was lost. Not the instance's limit, then: retryable, and ipamd's view needs EC2's again.
    if (e instanceof Ec2Error && e.code === "PrivateIpAddressLimitExceeded") {
      const why = `${e.message} (EC2 lists addresses on ${eniId} that ipamd does not know yet)`;
      throw new EniError("pool_growing", why, true, 0, e, true);
    }
    throw classifyError(e);
  }
}

/**
 * UnassignPrivateIpAddresses. When the call fails but EC2 no longer lists any of the addresses (it did it and
 * the answer was lost; a retry then says they are not assigned), that is success.
 */
export async function unassignAddresses(
  m: AddressCalls,
  eniId: string,
  o: { ips?: string[]; prefixes?: string[] },
): Promise<void> {
  try {
    await m.call("UnassignPrivateIpAddresses", () =>
      m.o.ec2.unassignPrivateIpAddresses({
        networkInterfaceId: eniId,
        ...(o.ips?.length ? { privateIpAddresses: o.ips } : {}),
        ...(o.prefixes?.length ? { ipv4Prefixes: o.prefixes } : {}),
      }));
  } catch (e) {
    const n = await m.describeOne(eniId).catch(() => null);
    if (n === null) throw e;
    const listed = new Set([...(n?.privateIps ?? []).map((p) => p.address), ...(n?.ipv4Prefixes ?? [])]);
    if ([...o.ips ?? [], ...o.prefixes ?? []].some((x) => listed.has(x))) throw e;
    m.o.log?.info("unassign answer lost; EC2 no longer lists the addresses", { eniId });
  }
}
