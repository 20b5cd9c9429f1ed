/**
 * ENI lifecycle against EC2: create (tags, description, IPs in one call) → attach at a free device index →
 * DeleteOnTermination → wait for the link and IMDS; free (detach, wait available, delete); assign/unassign
 * secondary IPs and prefixes. Anything failing after create deletes the new ENI, so nothing leaks.
 */
import type { IpamdErrorReason } from "../cni/api.ts";
import { Ec2Error, type Ec2Port, type NetworkInterface, type Tag } from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import type { IpamdMetrics } from "./metrics.ts";
import type { Logger } from "./log.ts";

export const TAG_INSTANCE_ID = "node.k8s.amazonaws.com/instance_id";
export const TAG_CREATED_AT = "node.k8s.amazonaws.com/createdAt";
export const TAG_CLUSTER_NAME = "cluster.k8s.amazonaws.com/name";
export const TAG_NO_MANAGE = "node.k8s.amazonaws.com/no_manage";
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
    return new EniError("internal", e.message, e.retryable, 0, e);
  }
  return new EniError("internal", e instanceof Error ? e.message : String(e), true, 0, e);
}

/** Exponential backoff: 50 ms doubling to `maxMs`, until `deadlineMs` has passed (on `clock`). */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  o: { deadlineMs?: number; initialMs?: number; maxMs?: number; clock?: Clock } = {},
): Promise<T> {
  const clock = o.clock ?? systemClock;
  const end = clock.now() + (o.deadlineMs ?? 30_000);
  let delay = o.initialMs ?? 50;
  let last: unknown;
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (clock.now() >= end) {
      throw new EniError("internal", `timed out waiting for ${what}${last ? `: ${last}` : ""}`, true);
    }
    await clock.sleep(Math.min(delay, Math.max(0, end - clock.now())));
    delay = Math.min(delay * 2, o.maxMs ?? 1000);
  }
}

export interface EniManagerOptions {
  ec2: Ec2Port;
  imds: ImdsPort;
  instanceId: string;
  /** Subnet and security groups for new ENIs (the primary ENI's, or the ENIConfig's). */
  subnetId: string;
  securityGroupIds: string[];
  clusterName: string;
  /** ADDITIONAL_ENI_TAGS: more tags on every ENI created, in the same CreateNetworkInterface call. */
  additionalTags?: Record<string, string>;
  /** Which attached ENIs ipamd leaves alone, and why (eni_policy.ts); default: those tagged no_manage=true. */
  unmanagedReason?: (eni: NetworkInterface) => string | undefined;
  /**
   * Chooses subnet and security groups for each new ENI (subnet discovery, ENIConfig); omitted: `subnetId`
   * and `securityGroupIds` above.
   */
  placement?: () => Promise<{ subnetId: string; securityGroupIds: string[] }>;
  /** Whether a link with this MAC exists on the node (netlink); omitted: not checked. */
  linkPresent?: (mac: string) => boolean;
  metrics?: IpamdMetrics;
  log?: Logger;
  /** Deadline for a new ENI to show up as a link and in IMDS. */
  attachWaitMs?: number;
  /** Deadline for a detached ENI to become available. */
  detachWaitMs?: number;
  /** Waits, backoff, latency measurements and the createdAt tag. Default `systemClock`. */
  clock?: Clock;
}

/** A created and attached ENI, ready for host setup. */
export interface NewEni {
  eni: NetworkInterface;
  deviceIndex: number;
  subnetCidr: string;
}

/** Drives EC2 for ENIs and their addresses; safe to call concurrently (device indexes are reserved). */
export class EniManager {
  readonly #reserved = new Set<number>();
  readonly #clock: Clock;
  constructor(readonly o: EniManagerOptions) {
    this.#clock = o.clock ?? systemClock;
  }

  /** One EC2 call with metrics: request count, latency, errors. */
  async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    const m = this.o.metrics;
    const t0 = this.#clock.now();
    m?.ec2Req.inc({ fn: action });
    try {
      const r = await fn();
      this.o.log?.debug("EC2 call", { action, ms: Math.round(this.#clock.now() - t0) });
      return r;
    } catch (e) {
      this.o.log?.debug("EC2 call failed", { action, ms: Math.round(this.#clock.now() - t0), err: e });
      const code = e instanceof Ec2Error ? e.code : "Unknown";
      m?.ec2Err.inc({ fn: action });
      m?.awsErr.inc({ api: action, error: code });
      throw e;
    } finally {
      m?.awsLatency.observe(this.#clock.now() - t0, { api: action });
    }
  }

  /** The ENIs EC2 says are attached to this instance (authoritative where IMDS lags). */
  describeAttached(): Promise<NetworkInterface[]> {
    return this.call("DescribeNetworkInterfaces", () =>
      this.o.ec2.describeNetworkInterfaces({
        filters: [{ name: "attachment.instance-id", values: [this.o.instanceId] }],
      }));
  }

  /** Whether ipamd must leave this ENI alone: tagged `no_manage=true` (the default policy). */
  static unmanaged(eni: NetworkInterface): boolean {
    return eni.tags.some((t) => t.key === TAG_NO_MANAGE && t.value === "true");
  }

  /** Why ipamd must leave this attached ENI alone (eni_policy.ts, MANAGE_UNTAGGED_ENI), or undefined. */
  unmanagedReason(eni: NetworkInterface): string | undefined {
    if (this.o.unmanagedReason) return this.o.unmanagedReason(eni);
    return EniManager.unmanaged(eni) ? `tagged ${TAG_NO_MANAGE}=true` : undefined;
  }

  async #freeDeviceIndex(maxEnis: number): Promise<number> {
    const [inst] = await this.call(
      "DescribeInstances",
      () => this.o.ec2.describeInstances([this.o.instanceId]),
    );
    const used = new Set<number>(this.#reserved);
    for (const n of inst?.networkInterfaces ?? []) if (n.attachment) used.add(n.attachment.deviceIndex);
    for (let i = 1; i < maxEnis; i++) {
      if (!used.has(i)) {
        this.#reserved.add(i); // synchronously, so parallel creations pick distinct indexes
        return i;
      }
    }
    throw new EniError(
      "max_enis_reached",
      `all ${maxEnis} ENI slots of ${this.o.instanceId} are in use`,
      false,
    );
  }

  /** Creates, attaches and waits for one ENI with `ips` secondary IPs (or `prefixes` /28s). */
  async createEni(o: { ips: number; prefixes?: number; maxEnis: number }): Promise<NewEni> {
    const tags: Tag[] = [
      { key: TAG_INSTANCE_ID, value: this.o.instanceId },
      { key: TAG_CREATED_AT, value: new Date(this.#clock.now()).toISOString() },
    ];
    if (this.o.clusterName) tags.push({ key: TAG_CLUSTER_NAME, value: this.o.clusterName });
    for (const [key, value] of Object.entries(this.o.additionalTags ?? {})) tags.push({ key, value });
    const index = await this.#freeDeviceIndex(o.maxEnis).catch((e) => {
      throw classifyError(e);
    });
    let eni: NetworkInterface | undefined;
    try {
      const where = this.o.placement
        ? await this.o.placement()
        : { subnetId: this.o.subnetId, securityGroupIds: this.o.securityGroupIds };
      eni = await this.call("CreateNetworkInterface", () =>
        this.o.ec2.createNetworkInterface({
          subnetId: where.subnetId,
          description: `aws-K8S-${this.o.instanceId}`,
          securityGroupIds: where.securityGroupIds,
          tags,
          ...(o.prefixes ? { ipv4PrefixCount: o.prefixes } : { secondaryPrivateIpAddressCount: o.ips }),
        }));
      const id = eni.networkInterfaceId;
      const { attachmentId } = await this.call(
        "AttachNetworkInterface",
        () =>
          this.o.ec2.attachNetworkInterface({
            networkInterfaceId: id,
            instanceId: this.o.instanceId,
            deviceIndex: index,
          }),
      );
      // DeleteOnTermination is set while the link and IMDS catch up.
      const modify = this.call(
        "ModifyNetworkInterfaceAttribute",
        () =>
          this.o.ec2.modifyNetworkInterfaceAttribute({
            networkInterfaceId: id,
            attachmentId,
            deleteOnTermination: true,
          }),
      );
      const mac = eni.macAddress.toLowerCase();
      const wait = { deadlineMs: this.o.attachWaitMs ?? 30_000, clock: this.#clock };
      const linkPresent = this.o.linkPresent;
      const appear = (async () => {
        if (linkPresent) await pollUntil(`link with MAC ${mac}`, () => linkPresent(mac) || undefined, wait);
        return await pollUntil(`IMDS to list ${id}`, async () => {
          const found = (await this.o.imds.interfaces()).find((i) => i.mac.toLowerCase() === mac);
          return found && found.localIpv4s.length > 0 ? found : undefined;
        }, wait);
      })();
      const [, meta] = await Promise.all([modify, appear]);
      this.o.log?.info("ENI attached", { eniId: id, deviceIndex: index, ips: eni.privateIps.length - 1 });
      return { eni: { ...eni, status: "in-use" }, deviceIndex: index, subnetCidr: meta.subnetCidr };
    } catch (e) {
      if (eni) await this.#deleteQuietly(eni.networkInterfaceId);
      throw classifyError(e);
    } finally {
      this.#reserved.delete(index);
    }
  }

  async #deleteQuietly(id: string): Promise<void> {
    try {
      await this.freeEni(id);
    } catch (e) {
      this.o.log?.error("could not delete a half-made ENI; leaked-ENI GC will catch it", {
        eniId: id,
        err: e,
      });
      this.o.metrics?.ipamdErr.inc({ fn: "deleteHalfMadeEni" });
    }
  }

  /**
   * Detaches (when attached), waits until available, then deletes the ENI. Freeing is idempotent: a NotFound
   * at any step means the ENI is already gone (so this must not be used for an ENI created so recently that
   * EC2 may not show it yet). Throttling and 5xx are retried by the port (`RateLimitedEc2`), not here.
   */
  async freeEni(eniId: string): Promise<void> {
    const gone = () => this.o.log?.info("ENI already gone", { eniId });
    const eni = await this.#describeOne(eniId);
    if (!eni) return gone();
    if (eni.attachment && eni.attachment.status !== "detached") {
      const attachmentId = eni.attachment.attachmentId;
      await this.call("DetachNetworkInterface", () => this.o.ec2.detachNetworkInterface({ attachmentId }))
        .catch((e) => {
          // Detached meanwhile (or by an earlier attempt whose answer was lost): go on.
          if (!(e instanceof Ec2Error && e.code === "InvalidAttachmentID.NotFound")) throw e;
        });
      const state = await pollUntil(`${eniId} to become available`, async () => {
        const n = await this.#describeOne(eniId);
        return !n ? "gone" : n.status === "available" ? "available" : undefined;
      }, { deadlineMs: this.o.detachWaitMs ?? 30_000, initialMs: 100, clock: this.#clock });
      if (state === "gone") return gone();
    }
    try {
      await this.call("DeleteNetworkInterface", () => this.o.ec2.deleteNetworkInterface(eniId));
    } catch (e) {
      if (!(e instanceof Ec2Error && e.code === "InvalidNetworkInterfaceID.NotFound")) throw e;
      return gone();
    }
    this.o.log?.info("ENI deleted", { eniId });
  }

  /** The ENI as EC2 describes it, or undefined when EC2 says it does not exist. */
  async #describeOne(eniId: string): Promise<NetworkInterface | undefined> {
    try {
      const [n] = await this.call(
        "DescribeNetworkInterfaces",
        () => this.o.ec2.describeNetworkInterfaces({ networkInterfaceIds: [eniId] }),
      );
      return n;
    } catch (e) {
      if (e instanceof Ec2Error && e.code === "InvalidNetworkInterfaceID.NotFound") return undefined;
      throw e;
    }
  }

  /** Adds `count` secondary IPs to an ENI; returns them. */
  async assignIps(eniId: string, count: number): Promise<string[]> {
    try {
      const r = await this.call(
        "AssignPrivateIpAddresses",
        () =>
          this.o.ec2.assignPrivateIpAddresses({
            networkInterfaceId: eniId,
            secondaryPrivateIpAddressCount: count,
          }),
      );
      return r.privateIps;
    } catch (e) {
      throw classifyError(e);
    }
  }

  /** Adds `count` /28 prefixes to an ENI; returns them. */
  async assignPrefixes(eniId: string, count: number): Promise<string[]> {
    try {
      const r = await this.call(
        "AssignPrivateIpAddresses",
        () => this.o.ec2.assignPrivateIpAddresses({ networkInterfaceId: eniId, ipv4PrefixCount: count }),
      );
      return r.ipv4Prefixes;
    } catch (e) {
      throw classifyError(e);
    }
  }

  /** Assigns `count` IPv6 prefixes (/80) to an ENI (IPv6 mode's AssignIpv6Addresses Ipv6PrefixCount). */
  async assignIpv6Prefixes(eniId: string, count: number): Promise<string[]> {
    try {
      const r = await this.call(
        "AssignIpv6Addresses",
        () => this.o.ec2.assignIpv6Addresses({ networkInterfaceId: eniId, ipv6PrefixCount: count }),
      );
      return r.ipv6Prefixes;
    } catch (e) {
      throw classifyError(e);
    }
  }

  /** Returns secondary IPs (or prefixes) to EC2. */
  async unassign(eniId: string, o: { ips?: string[]; prefixes?: string[] }): Promise<void> {
    await this.call("UnassignPrivateIpAddresses", () =>
      this.o.ec2.unassignPrivateIpAddresses({
        networkInterfaceId: eniId,
        ...(o.ips?.length ? { privateIpAddresses: o.ips } : {}),
        ...(o.prefixes?.length ? { ipv4Prefixes: o.prefixes } : {}),
      }));
  }
}
