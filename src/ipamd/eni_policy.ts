/**
 * Which attached ENIs ipamd may use, as upstream's setUnmanagedENIs decides (pure):
 *
 * - the primary ENI (device 0) is always used;
 * - `node.k8s.amazonaws.com/no_manage=true` leaves an ENI alone (any other value of that tag: used);
 * - an ENI tagged `node.k8s.amazonaws.com/instance_id` with this instance was made by ipamd: used;
 * - any other ENI is used only when MANAGE_UNTAGGED_ENI is true (the default).
 *
 * ENIs left alone still take a device slot: the pool's ENI limit counts them.
 * @module
 */
import type { NetworkInterface } from "../aws/ec2_port.ts";
import { TAG_INSTANCE_ID, TAG_NO_MANAGE } from "./eni_tags.ts";

/** What decides. */
export interface EniPolicy {
  instanceId: string;
  /** MANAGE_UNTAGGED_ENI (default true). */
  manageUntagged: boolean;
}

/** Why ipamd must leave this ENI alone, or undefined when it may use it. */
export function unmanagedReason(n: NetworkInterface, p: EniPolicy): string | undefined {
  if (n.attachment?.deviceIndex === 0) return undefined;
  const tag = (key: string) => n.tags.find((t) => t.key === key)?.value;
  const noManage = tag(TAG_NO_MANAGE);
  if (noManage !== undefined) return noManage === "true" ? `tagged ${TAG_NO_MANAGE}=true` : undefined;
  if (tag(TAG_INSTANCE_ID) === p.instanceId) return undefined;
  if (p.manageUntagged) return undefined;
  return `not created by ipamd (no ${TAG_INSTANCE_ID}=${p.instanceId} tag) and MANAGE_UNTAGGED_ENI=false`;
}

/** An ENI left out of the pool, for introspection. */
export interface UnmanagedEni {
  eniId: string;
  deviceNumber: number;
  reason: string;
}
