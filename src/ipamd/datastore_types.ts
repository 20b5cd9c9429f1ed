/**
 * What the datastore holds and answers: assignments, ENI records, address counts, and its two errors.
 * @module
 */
import type { AttachmentKey } from "../cni/api.ts";

export type { AttachmentKey };

/** What we know of the pod behind an attachment. */
export interface PodMeta {
  k8sPodNamespace?: string;
  k8sPodName?: string;
  k8sPodUid?: string;
  netns?: string;
}

/** One pod attachment holding one IP. */
export interface Assignment extends AttachmentKey {
  ip: string;
  eniId: string;
  assignedAt: number;
  meta: PodMeta;
}

/** An ENI as the datastore holds it. */
export interface EniRecord {
  eniId: string;
  deviceNumber: number;
  subnetId: string;
  subnetCidr: string;
  primaryIp: string;
  mac: string;
  createdAt: number;
  /** Pod-usable addresses (secondary IPs and prefix addresses), never the ENI's primary IP; sorted. */
  ips: string[];
  /** Delegated /28 prefixes. */
  prefixes: string[];
  /** Delegated IPv6 prefixes (IPv6 mode's /80), when the ENI has any. */
  ipv6Prefixes?: string[];
}

/** An ENI without its addresses: what `Datastore.addEni` takes. */
export type EniIdentity = Omit<EniRecord, "ips" | "prefixes" | "ipv6Prefixes">;

/** Address counts; total = assigned + cooling + free. */
export interface IpStats {
  total: number;
  assigned: number;
  cooling: number;
  free: number;
}

/** No free (and cooled-down) IP on the node. */
export class NoFreeIpError extends Error {
  /** When the earliest cooling IP becomes free, if any is cooling. */
  readonly retryAfterMs?: number;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = "NoFreeIpError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** A refused datastore change (e.g. removing an assigned IP, restoring onto a taken IP). */
export class DatastoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatastoreError";
  }
}
