/**
 * ENI lifecycle against EC2: create (tags, description, IPs in one call) → attach at a free device index →
 * DeleteOnTermination → wait for the link and IMDS; free (detach, wait available, delete); assign/unassign
 * secondary IPs and prefixes. Anything failing after create deletes the new ENI, so nothing leaks.
 *
 * EC2's hard parts (one retry layer, `RateLimitedEc2`, retries throttling, 5xx and lost answers; the rest is
 * here):
 * - A create carries a ClientToken kept for its whole intent: every retry, and, when the answer never came,
 *   the next create (or `settle()`), which get the ENI EC2 made instead of a second one.
 * - An attach whose answer was lost is recognised from Describe (a retry of it says InUse).
 * - Describe* may not show a new ENI for a while: right after a create a NotFound means "not yet", and the
 *   waits tolerate it; when freeing an older ENI it means "gone".
 * - A lost answer to an unassign is recognised from Describe; an assign whose answer was lost shows up in
 *   EC2 later and is adopted by reconcile (`EniError.unsure` asks for that to happen soon).
 * - What could not be undone at once (`leftovers`) is retried by `settle()`.
 */
import {
  type CreateNetworkInterfaceInput,
  Ec2Error,
  type Ec2Port,
  type NetworkInterface,
  type Tag,
} from "../aws/ec2_port.ts";
import type { ImdsPort } from "../aws/imds_port.ts";
import { mayHaveRun } from "../aws/rate_limit.ts";
import { type Clock, systemClock } from "../common/clock.ts";
import { classifyError, EniError } from "./eni_errors.ts";
import {
  ENI_DESCRIPTION_PREFIX,
  TAG_CLUSTER_NAME,
  TAG_CREATED_AT,
  TAG_INSTANCE_ID,
  TAG_NO_MANAGE,
} from "./eni_tags.ts";
import type { IpamdMetrics } from "./metrics.ts";
import type { Logger } from "./log.ts";
import { assignAddresses, unassignAddresses } from "./eni_addresses.ts";
import { pollUntil } from "./poll_until.ts";

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
  /** Deadline for Describe* to show an ENI just made (EC2's eventual consistency). Default 30 s. */
  visibilityWaitMs?: number;
  /** Waits, backoff, latency measurements and the createdAt tag. Default `systemClock`. */
  clock?: Clock;
}

/** A created and attached ENI, ready for host setup. */
export interface NewEni {
  eni: NetworkInterface;
  deviceIndex: number;
  subnetCidr: string;
}

const notFound = (e: unknown) => e instanceof Ec2Error && e.code === "InvalidNetworkInterfaceID.NotFound";

/** Drives EC2 for ENIs and their addresses; safe to call concurrently (device indexes are reserved). */
export class EniManager {
  readonly #reserved = new Set<number>();
  /** Device indexes of ENIs attached here that DescribeInstances has not shown yet → the ENI. */
  readonly #unseenIndexes = new Map<number, string>();
  /** Creates whose answer never came: asked again with the same input and token before any new one. */
  readonly #unanswered: CreateNetworkInterfaceInput[] = [];
  /** ENIs ipamd wants gone whose deletion failed; `settle()` retries them, reconcile leaves them alone. */
  readonly leftovers = new Set<string>();
  /** Attached ENIs whose DeleteOnTermination EC2 throttled (eniId → attachmentId); `settle()` sets it later. */
  readonly #noDeleteOnTermination = new Map<string, string>();
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
      m?.awsLatency.observe(this.#clock.now() - t0, { api: action, error: "false", status: "200" });
      return r;
    } catch (e) {
      this.o.log?.debug("EC2 call failed", { action, ms: Math.round(this.#clock.now() - t0), err: e });
      const code = e instanceof Ec2Error ? e.code : "Unknown";
      m?.ec2Err.inc({ fn: action });
      m?.awsErr.inc({ api: action, error: code });
      // Upstream's labels: error "true", status the error code.
      m?.awsLatency.observe(this.#clock.now() - t0, { api: action, error: "true", status: code });
      throw e;
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

  /** Creates that never got an answer (their ENI may exist), for status and tests. */
  get unanswered(): number {
    return this.#unanswered.length;
  }

  async #freeDeviceIndex(maxEnis: number): Promise<number> {
    const [inst] = await this.call(
      "DescribeInstances",
      () => this.o.ec2.describeInstances([this.o.instanceId]),
    );
    const used = new Set<number>(this.#reserved);
    const shown = new Set<string>();
    for (const n of inst?.networkInterfaces ?? []) {
      if (n.attachment) used.add(n.attachment.deviceIndex);
      shown.add(n.networkInterfaceId);
    }
    // EC2 may not describe an ENI attached moments ago: its slot is taken all the same.
    for (const [i, id] of this.#unseenIndexes) {
      if (shown.has(id)) this.#unseenIndexes.delete(i);
      else used.add(i);
    }
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
    const index = await this.#freeDeviceIndex(o.maxEnis).catch((e) => {
      throw classifyError(e);
    });
    let eni: NetworkInterface | undefined;
    try {
      eni = await this.#create(o);
      const attachmentId = await this.#attach(eni.networkInterfaceId, index);
      this.#unseenIndexes.set(index, eni.networkInterfaceId);
      const meta = await this.#ready(eni, attachmentId);
      this.o.log?.info("ENI attached", {
        eniId: eni.networkInterfaceId,
        deviceIndex: index,
        ips: eni.privateIps.length - 1,
      });
      return { eni: { ...eni, status: "in-use" }, deviceIndex: index, subnetCidr: meta.subnetCidr };
    } catch (e) {
      if (eni) await this.#undo(eni.networkInterfaceId);
      throw classifyError(e);
    } finally {
      this.#reserved.delete(index);
    }
  }

  /** CreateNetworkInterface for a new intent, or again for one whose answer never came (same token). */
  async #create(o: { ips: number; prefixes?: number }): Promise<NetworkInterface> {
    const input = this.#unanswered.shift() ?? await this.#createInput(o);
    try {
      return await this.call("CreateNetworkInterface", () => this.o.ec2.createNetworkInterface(input));
    } catch (e) {
      // No answer (lost, or a 5xx) to some attempt: EC2 may have made it. Keep the intent, so that asking again
      // with its token gets that ENI rather than a second one. Refusals only (throttled, 4xx) made nothing.
      if (mayHaveRun(e)) this.#unanswered.push(input);
      throw e;
    }
  }

  /** One create intent: where, tags, addresses, and its ClientToken. */
  async #createInput(o: { ips: number; prefixes?: number }): Promise<CreateNetworkInterfaceInput> {
    const where = this.o.placement
      ? await this.o.placement()
      : { subnetId: this.o.subnetId, securityGroupIds: this.o.securityGroupIds };
    const tags: Tag[] = [
      { key: TAG_INSTANCE_ID, value: this.o.instanceId },
      { key: TAG_CREATED_AT, value: new Date(this.#clock.now()).toISOString() },
    ];
    if (this.o.clusterName) tags.push({ key: TAG_CLUSTER_NAME, value: this.o.clusterName });
    for (const [key, value] of Object.entries(this.o.additionalTags ?? {})) tags.push({ key, value });
    return {
      clientToken: crypto.randomUUID(),
      subnetId: where.subnetId,
      description: `${ENI_DESCRIPTION_PREFIX}${this.o.instanceId}`,
      securityGroupIds: where.securityGroupIds,
      tags,
      ...(o.prefixes ? { ipv4PrefixCount: o.prefixes } : { secondaryPrivateIpAddressCount: o.ips }),
    };
  }

  /**
   * AttachNetworkInterface; returns the attachment ID. When the call fails in a way an earlier attempt may
   * have succeeded (no answer; or InUse, which a retry after a lost answer gets), EC2's view decides.
   */
  async #attach(id: string, deviceIndex: number): Promise<string> {
    const instanceId = this.o.instanceId;
    try {
      const r = await this.call(
        "AttachNetworkInterface",
        () => this.o.ec2.attachNetworkInterface({ networkInterfaceId: id, instanceId, deviceIndex }),
      );
      return r.attachmentId;
    } catch (e) {
      if (!(e instanceof Ec2Error && (e.retryable || e.code === "InvalidNetworkInterface.InUse"))) throw e;
      const a = (await this.#describeNew(id)).attachment;
      if (a?.instanceId !== instanceId || a.deviceIndex !== deviceIndex || a.status === "detaching") throw e;
      this.o.log?.info("attach answer lost; EC2 shows the ENI attached", { eniId: id, deviceIndex });
      return a.attachmentId;
    }
  }

  /** Sets DeleteOnTermination while the link and IMDS catch up; resolves with IMDS's view of the ENI. */
  async #ready(eni: NetworkInterface, attachmentId: string) {
    const id = eni.networkInterfaceId;
    // Throttled, it is set by settle() later: undoing a working ENI would cost 4 calls more, when EC2 is busy.
    const modify = this.#setDeleteOnTermination(id, attachmentId).catch((e) => {
      if (!(e instanceof Ec2Error && e.retryable)) throw e;
      this.#noDeleteOnTermination.set(id, attachmentId);
      this.o.log?.warn("DeleteOnTermination not set yet; retried later", { eniId: id, err: e });
    });
    // IMDS lists an interface once it is attached (not while `attaching`), so this wait tolerates that state.
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
    return meta;
  }

  #setDeleteOnTermination(id: string, attachmentId: string): Promise<void> {
    return this.call(
      "ModifyNetworkInterfaceAttribute",
      () =>
        this.o.ec2.modifyNetworkInterfaceAttribute({
          networkInterfaceId: id,
          attachmentId,
          deleteOnTermination: true,
        }),
    );
  }

  /** Deletes a half-made ENI; when that fails, it is a leftover for `settle()`. */
  async #undo(id: string): Promise<void> {
    try {
      await this.#release(id);
    } catch (e) {
      this.leftovers.add(id);
      this.o.log?.error("could not delete a half-made ENI; will retry", { eniId: id, err: e });
      this.o.metrics?.ipamdErr.inc({ fn: "deleteHalfMadeEni" });
    }
  }

  /**
   * Deletes an ENI made here, attached or not, even one EC2 does not describe yet: delete first; if it is in
   * use, detach it, wait until it is available, delete.
   */
  async #release(id: string): Promise<void> {
    try {
      return await this.#delete(id);
    } catch (e) {
      if (!(e instanceof Ec2Error && e.code === "InvalidNetworkInterface.InUse")) throw e;
    }
    const a = (await this.#describeNew(id)).attachment;
    if (a) await this.#detach(a.attachmentId);
    await this.#waitAvailable(id);
    await this.#delete(id);
  }

  /** DeleteNetworkInterface; a NotFound means it is gone already. Either way it is no longer this manager's. */
  async #delete(id: string): Promise<void> {
    try {
      await this.call("DeleteNetworkInterface", () => this.o.ec2.deleteNetworkInterface(id));
      this.o.log?.info("ENI deleted", { eniId: id });
    } catch (e) {
      if (!notFound(e)) throw e;
      this.o.log?.info("ENI already gone", { eniId: id });
    }
    this.#forget(id);
  }

  #forget(id: string): void {
    this.leftovers.delete(id);
    this.#noDeleteOnTermination.delete(id);
    for (const [i, x] of this.#unseenIndexes) if (x === id) this.#unseenIndexes.delete(i);
  }

  /** DetachNetworkInterface; a NotFound (already detached, maybe by an attempt whose answer was lost) is done. */
  async #detach(attachmentId: string): Promise<void> {
    try {
      await this.call("DetachNetworkInterface", () => this.o.ec2.detachNetworkInterface({ attachmentId }));
    } catch (e) {
      if (!(e instanceof Ec2Error && e.code === "InvalidAttachmentID.NotFound")) throw e;
    }
  }

  /** Waits until EC2 describes the ENI `available` ("gone" if it says NotFound and `notFoundIsGone`). */
  #waitAvailable(id: string, notFoundIsGone = false): Promise<"available" | "gone"> {
    return pollUntil(`${id} to become available`, async () => {
      const n = await this.describeOne(id);
      if (!n) return notFoundIsGone ? "gone" : undefined; // else: not shown yet
      return n.status === "available" ? "available" : undefined;
    }, { deadlineMs: this.o.detachWaitMs ?? 30_000, initialMs: 100, clock: this.#clock });
  }

  /**
   * Detaches (when attached), waits until available, then deletes the ENI. Freeing is idempotent: a NotFound
   * at any step means the ENI is already gone (so this is for ENIs EC2 has shown, not ones made moments ago).
   * When it fails, the ENI is a leftover that `settle()` retries.
   */
  async freeEni(eniId: string): Promise<void> {
    try {
      const eni = await this.describeOne(eniId);
      if (eni?.attachment && eni.attachment.status !== "detached") {
        await this.#detach(eni.attachment.attachmentId);
        if (await this.#waitAvailable(eniId, true) === "gone") return this.#gone(eniId);
      }
      if (!eni) return this.#gone(eniId);
      await this.#delete(eniId);
    } catch (e) {
      this.leftovers.add(eniId);
      throw e;
    }
  }

  #gone(eniId: string): void {
    this.o.log?.info("ENI already gone", { eniId });
    this.#forget(eniId);
  }

  /** The ENI as EC2 describes it, or undefined when EC2 says it does not exist. */
  async describeOne(eniId: string): Promise<NetworkInterface | undefined> {
    try {
      const [n] = await this.call(
        "DescribeNetworkInterfaces",
        () => this.o.ec2.describeNetworkInterfaces({ networkInterfaceIds: [eniId] }),
      );
      return n;
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /** An ENI made moments ago, once EC2 describes it (a NotFound meanwhile means "not yet"). */
  #describeNew(eniId: string): Promise<NetworkInterface> {
    return pollUntil(`EC2 to describe ${eniId}`, () => this.describeOne(eniId), {
      deadlineMs: this.o.visibilityWaitMs ?? 30_000,
      clock: this.#clock,
    });
  }

  /**
   * Retries what failures left behind: creates that never got an answer (the ENI each made, if any, is not
   * wanted any more: deleted), ENIs whose deletion failed, DeleteOnTermination EC2 throttled. Errors are
   * logged; what still fails stays. One run at a time: a caller while one runs joins it. Under throttling a
   * run waits minutes for tokens, and reconciles start every minute; each run of its own would set the same
   * ENI's DeleteOnTermination again (the fleet simulation: 6 of 906 Modify calls at 300 nodes).
   */
  settle(): Promise<void> {
    return this.#settling ??= this.#settle().finally(() => this.#settling = undefined);
  }

  #settling?: Promise<void>;

  async #settle(): Promise<void> {
    for (const input of this.#unanswered.splice(0)) {
      try {
        const eni = await this.call("CreateNetworkInterface", () => this.o.ec2.createNetworkInterface(input));
        this.leftovers.add(eni.networkInterfaceId);
      } catch (e) {
        if (e instanceof Ec2Error && e.retryable) this.#unanswered.push(input);
      }
    }
    for (const id of [...this.leftovers]) {
      await this.#release(id).catch((e) =>
        this.o.log?.warn("leftover ENI not deleted yet", { eniId: id, err: e })
      );
    }
    for (const [id, attachmentId] of [...this.#noDeleteOnTermination]) {
      if (this.#noDeleteOnTermination.get(id) !== attachmentId) continue; // freed meanwhile
      try {
        await this.#setDeleteOnTermination(id, attachmentId);
        this.#noDeleteOnTermination.delete(id);
      } catch (e) {
        if (notFound(e) || !(e instanceof Ec2Error && e.retryable)) this.#noDeleteOnTermination.delete(id);
      }
    }
  }

  /** Adds `count` secondary IPs to an ENI; returns them. */
  async assignIps(eniId: string, count: number): Promise<string[]> {
    return (await assignAddresses(this, eniId, { secondaryPrivateIpAddressCount: count })).privateIps;
  }

  /** Adds `count` /28 prefixes to an ENI; returns them. */
  async assignPrefixes(eniId: string, count: number): Promise<string[]> {
    return (await assignAddresses(this, eniId, { ipv4PrefixCount: count })).ipv4Prefixes;
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

  /** Returns secondary IPs (or prefixes) to EC2 (see eni_addresses.ts for a lost answer). */
  unassign(eniId: string, o: { ips?: string[]; prefixes?: string[] }): Promise<void> {
    return unassignAddresses(this, eniId, o);
  }
}
