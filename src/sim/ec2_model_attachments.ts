/** The EC2 model's attachments: AttachNetworkInterface and DetachNetworkInterface, with EC2's limits. */
import { Ec2Error } from "../aws/ec2_port.ts";
import { type Ec2Store, need } from "./ec2_model_store.ts";
import type { AttachmentRecord, EniRecord, InstanceRecord } from "./ec2_model_types.ts";

/** The highest device index EC2 accepts. */
export const MAX_DEVICE_INDEX = 31;

/** AttachNetworkInterface's input. */
export interface AttachInput {
  networkInterfaceId: string;
  instanceId: string;
  deviceIndex: number;
}

/** The reasons EC2 refuses to attach `eni` to `inst` at `di`, checked in EC2's order. */
function checkAttach(s: Ec2Store, eni: EniRecord, inst: InstanceRecord, di: number, action: string): void {
  if (inst.state !== "running") {
    throw new Ec2Error("IncorrectInstanceState", `The instance '${inst.id}' is not in a valid state`, action);
  }
  if (!Number.isInteger(di) || di < 0 || di > MAX_DEVICE_INDEX) {
    throw new Ec2Error("InvalidParameterValue", `Invalid value '${di}' for deviceIndex.`, action);
  }
  if (eni.attachment) {
    throw new Ec2Error("InvalidNetworkInterface.InUse", `Interface: [${eni.id}] in use.`, action);
  }
  if (eni.availabilityZone !== inst.availabilityZone) {
    throw new Ec2Error(
      "InvalidParameterValue",
      `The network interface '${eni.id}' and instance '${inst.id}' are in different availability zones.`,
      action,
    );
  }
  const attached = s.attachedTo(inst.id);
  if (attached.length >= inst.type.maxEnis) {
    throw new Ec2Error(
      "AttachmentLimitExceeded",
      `Interface count ${attached.length + 1} exceeds the limit for ${inst.type.instanceType}`,
      action,
    );
  }
  if (attached.some((e) => e.attachment!.deviceIndex === di)) {
    throw new Ec2Error(
      "InvalidParameterValue",
      `Instance '${inst.id}' already has an interface attached at device index '${di}'.`,
      action,
    );
  }
  const slots = 1 + eni.secondary.size + eni.prefixes.size;
  if (slots > inst.type.ipv4PerEni) {
    throw new Ec2Error(
      "PrivateIpAddressLimitExceeded",
      `Number of private addresses will exceed limit of ${inst.type.ipv4PerEni} for ${inst.type.instanceType}.`,
      action,
    );
  }
  if (eni.prefixes.size && inst.type.hypervisor !== "nitro") {
    throw new Ec2Error(
      "InvalidParameterValue",
      `Prefix delegation is only supported on Nitro instances; ${inst.type.instanceType} is not`,
      action,
    );
  }
}

/** AttachNetworkInterface. */
export function attachNetworkInterface(s: Ec2Store, input: AttachInput): { attachmentId: string } {
  const action = "AttachNetworkInterface";
  s.settle();
  need(input.networkInterfaceId, "NetworkInterfaceId");
  need(input.instanceId, "InstanceId");
  need(input.deviceIndex, "DeviceIndex");
  const eni = s.eni(input.networkInterfaceId, action);
  const inst = s.instance(input.instanceId, action);
  checkAttach(s, eni, inst, input.deviceIndex, action);
  const lag = s.lags.attachLagMs;
  const a: AttachmentRecord = {
    id: s.newId("eni-attach"),
    instanceId: inst.id,
    deviceIndex: input.deviceIndex,
    status: lag > 0 ? "attaching" : "attached",
    deleteOnTermination: false,
    attachedAt: s.now() + lag,
    attachDoneAt: lag > 0 ? s.now() + lag : undefined,
    announced: false,
  };
  s.attach(eni, a);
  if (lag <= 0) s.emitAttached(eni);
  return { attachmentId: a.id };
}

/**
 * DetachNetworkInterface: `detaching` now, `available` after the detach latency (at least the attach lag).
 * An attachment still `attaching` is detached too (it never becomes `attached`).
 */
export function detachNetworkInterface(s: Ec2Store, input: { attachmentId: string; force?: boolean }): void {
  const action = "DetachNetworkInterface";
  s.settle();
  need(input.attachmentId, "AttachmentId");
  const eni = s.byAttachment(input.attachmentId);
  if (!eni) {
    throw new Ec2Error(
      "InvalidAttachmentID.NotFound",
      `The attachment ID '${input.attachmentId}' does not exist`,
      action,
    );
  }
  const a = eni.attachment!;
  if (a.deviceIndex === 0) {
    throw new Ec2Error(
      "OperationNotPermitted",
      `The network interface at device index 0 cannot be detached.`,
      action,
    );
  }
  if (a.status === "detaching") return;
  const latency = Math.max(s.detachLatencyMs, s.lags.attachLagMs);
  s.markDetaching(eni, s.now() + latency);
  if (latency <= 0) s.settle();
}
