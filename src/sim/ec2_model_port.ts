/**
 * `Ec2ModelPort`: the EC2 port in-process over the EC2 model, for fast tests. With a `Realism` it throttles,
 * injects faults (lost answers included) and waits like the Query server does, answering the same `Ec2Error`s
 * `SdkEc2` gives for them.
 */
import {
  type AssignIpv6AddressesInput,
  type AssignPrivateIpsInput,
  type CreateNetworkInterfaceInput,
  Ec2Error,
  type Ec2Port,
  type Filter,
  type Instance,
  type InstanceTypeInfo,
  type NetworkInterface,
  type Subnet,
  type Tag,
  type UnassignIpv6AddressesInput,
  type UnassignPrivateIpsInput,
} from "../aws/ec2_port.ts";
import type { Ec2Model } from "./ec2_model.ts";
import { ec2Message } from "./ec2_server.ts";
import type { Realism } from "./realism.ts";

/** The EC2 port over an in-process `Ec2Model`. */
export class Ec2ModelPort implements Ec2Port {
  constructor(readonly model: Ec2Model, readonly realism?: Realism) {}

  async #call<T>(action: string, fn: () => T): Promise<T> {
    const r = this.realism;
    if (r) {
      this.model.setLags(r.modelLags());
      const verdict = r.admit(action);
      if (verdict === "throttled" || verdict === "injected-throttle") {
        throw new Ec2Error("RequestLimitExceeded", "Request limit exceeded.", action, 503);
      }
      await r.sleep(r.latencyMs(action));
      if (verdict !== "ok") {
        throw new Ec2Error("InternalError", "An internal error has occurred", action, 500);
      }
    }
    let result: T;
    try {
      result = structuredClone(fn());
    } catch (e) {
      r?.recordError(action);
      if (e instanceof Ec2Error && !e.action) throw new Ec2Error(e.code, ec2Message(e), action, e.httpStatus);
      throw e;
    }
    // Committed; the answer may still be lost on its way back (as SdkEc2 reports it).
    const lost = r?.loseAnswer(action);
    if (lost === "5xx") throw new Ec2Error("InternalError", "An internal error has occurred", action, 500);
    if (lost === "drop") throw new Ec2Error("NetworkError", "the connection dropped mid-answer", action, 599);
    return result;
  }

  describeInstances(instanceIds: string[]): Promise<Instance[]> {
    return this.#call("DescribeInstances", () => this.model.describeInstances(instanceIds));
  }

  describeInstanceTypes(types: string[]): Promise<InstanceTypeInfo[]> {
    return this.#call("DescribeInstanceTypes", () => this.model.describeInstanceTypes(types));
  }

  describeSubnets(input: { subnetIds?: string[]; filters?: Filter[] }): Promise<Subnet[]> {
    return this.#call("DescribeSubnets", () => this.model.describeSubnets(input));
  }

  async describeNetworkInterfaces(
    input: { networkInterfaceIds?: string[]; filters?: Filter[]; maxResults?: number },
  ): Promise<NetworkInterface[]> {
    const out: NetworkInterface[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#call(
        "DescribeNetworkInterfaces",
        () => this.model.describeNetworkInterfaces({ ...input, nextToken }),
      );
      out.push(...page.networkInterfaces);
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  createNetworkInterface(input: CreateNetworkInterfaceInput): Promise<NetworkInterface> {
    return this.#call("CreateNetworkInterface", () => this.model.createNetworkInterface(input));
  }

  attachNetworkInterface(
    input: { networkInterfaceId: string; instanceId: string; deviceIndex: number },
  ): Promise<{ attachmentId: string }> {
    return this.#call("AttachNetworkInterface", () => this.model.attachNetworkInterface(input));
  }

  detachNetworkInterface(input: { attachmentId: string; force?: boolean }): Promise<void> {
    return this.#call("DetachNetworkInterface", () => this.model.detachNetworkInterface(input));
  }

  deleteNetworkInterface(networkInterfaceId: string): Promise<void> {
    return this.#call("DeleteNetworkInterface", () => this.model.deleteNetworkInterface(networkInterfaceId));
  }

  modifyNetworkInterfaceAttribute(input: {
    networkInterfaceId: string;
    attachmentId?: string;
    deleteOnTermination?: boolean;
    sourceDestCheck?: boolean;
  }): Promise<void> {
    return this.#call(
      "ModifyNetworkInterfaceAttribute",
      () => this.model.modifyNetworkInterfaceAttribute(input),
    );
  }

  assignPrivateIpAddresses(
    input: AssignPrivateIpsInput,
  ): Promise<{ privateIps: string[]; ipv4Prefixes: string[] }> {
    return this.#call("AssignPrivateIpAddresses", () => this.model.assignPrivateIpAddresses(input));
  }

  unassignPrivateIpAddresses(input: UnassignPrivateIpsInput): Promise<void> {
    return this.#call("UnassignPrivateIpAddresses", () => this.model.unassignPrivateIpAddresses(input));
  }

  assignIpv6Addresses(
    input: AssignIpv6AddressesInput,
  ): Promise<{ ipv6Addresses: string[]; ipv6Prefixes: string[] }> {
    return this.#call("AssignIpv6Addresses", () => this.model.assignIpv6Addresses(input));
  }

  async unassignIpv6Addresses(input: UnassignIpv6AddressesInput): Promise<void> {
    await this.#call("UnassignIpv6Addresses", () => this.model.unassignIpv6Addresses(input));
  }

  createTags(resourceIds: string[], tags: Tag[]): Promise<void> {
    return this.#call("CreateTags", () => this.model.createTags(resourceIds, tags));
  }
}
