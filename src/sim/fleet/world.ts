/**
 * The fleet's shared world: one EC2 model for the whole account (the lab's pure model), behind the lab's
 * realism (EC2's account-wide token buckets per action class, the lab's latency distributions and faults),
 * all on the virtual clock; and each instance's IMDS, which shows new ENIs and addresses `imdsLagMs` late.
 */
import type { Instance } from "../../aws/ec2_port.ts";
import type { ImdsInterface, ImdsPort } from "../../aws/imds_port.ts";
import { regionFromAz } from "../../aws/imds.ts";
import type { Clock } from "../../common/clock.ts";
import { Ec2Model } from "../ec2_model.ts";
import { Ec2ModelPort } from "../ec2_model_port.ts";
import { DETACH_LATENCY_MS, type Faults, Realism } from "../realism.ts";

/** Nodes per subnet: a /16 each, so a thousand-node fleet has room for every pod and warm address. */
export const NODES_PER_SUBNET = 250;
const VPC_CIDR = "10.0.0.0/12";
const REGION = "us-west-2";
const AZS = ["a", "b", "c", "d"];
const CNI_ROLE_TAG = { key: "kubernetes.io/role/cni", value: "1" };

/** Options for {@link FleetWorld}. */
export interface WorldOptions {
  clock: Clock;
  seed: number;
  nodes: number;
  faults: Partial<Faults>;
  /** EC2's latencies (the lab's `realistic` preset) or none. */
  latency: "none" | "realistic";
}

/** The account: model, realism and the EC2 port every node's ipamd talks to. */
export class FleetWorld {
  readonly model: Ec2Model;
  readonly realism: Realism;
  /** The shared EC2 endpoint (server side: buckets, latency, faults). */
  readonly ec2: Ec2ModelPort;
  readonly subnetIds: string[] = [];
  readonly securityGroupId: string;

  constructor(readonly o: WorldOptions) {
    const now = () => o.clock.now();
    this.model = new Ec2Model({
      seed: o.seed,
      now,
      region: REGION,
      vpcCidr: VPC_CIDR,
      detachLatencyMs: DETACH_LATENCY_MS[o.latency],
    });
    this.realism = new Realism({
      latency: o.latency,
      faults: o.faults,
      seed: o.seed,
      now,
      sleep: (ms) => o.clock.sleep(ms),
    });
    this.ec2 = new Ec2ModelPort(this.model, this.realism);
    const subnets = Math.min(16, Math.ceil(o.nodes / NODES_PER_SUBNET));
    for (let i = 0; i < subnets; i++) {
      this.subnetIds.push(
        this.model.addSubnet({
          cidr: `10.${i}.0.0/16`,
          availabilityZone: `${REGION}${AZS[i % AZS.length]}`,
          tags: [CNI_ROLE_TAG, { key: "Name", value: `fleet-${i}` }],
        }).subnetId,
      );
    }
    this.securityGroupId = this.model.addSecurityGroup("fleet-nodes");
  }

  /** Launches node `i`'s instance (subnets round-robin). */
  launch(i: number, instanceType: string): Instance {
    return this.model.launchInstance({
      instanceType,
      subnetId: this.subnetIds[i % this.subnetIds.length],
      securityGroupIds: [this.securityGroupId],
      tags: [{ key: "Name", value: `fleet-node-${i}` }],
    });
  }

  /** The IMDS of one instance. */
  imds(instance: Instance): ImdsPort {
    return new FleetImds(this.model, instance, this.o.clock, this.realism);
  }
}

/** One instance's IMDS: static facts from launch, interfaces from the model as of `now − imdsLag`. */
class FleetImds implements ImdsPort {
  readonly #primaryMac: string;
  constructor(
    readonly model: Ec2Model,
    readonly instance: Instance,
    readonly clock: Clock,
    readonly realism: Realism,
  ) {
    const eni = instance.networkInterfaces.find((e) => e.attachment?.deviceIndex === 0)!;
    this.#primaryMac = eni.macAddress.toLowerCase();
  }
  instanceId(): Promise<string> {
    return Promise.resolve(this.instance.instanceId);
  }
  instanceType(): Promise<string> {
    return Promise.resolve(this.instance.instanceType);
  }
  availabilityZone(): Promise<string> {
    return Promise.resolve(this.instance.availabilityZone);
  }
  region(): Promise<string> {
    return Promise.resolve(regionFromAz(this.instance.availabilityZone));
  }
  localIpv4(): Promise<string> {
    return Promise.resolve(this.instance.privateIpAddress);
  }
  primaryMac(): Promise<string> {
    return Promise.resolve(this.#primaryMac);
  }
  interfaces(): Promise<ImdsInterface[]> {
    const visibleAt = this.clock.now() - this.realism.imdsLagMs;
    return Promise.resolve(this.model.imdsInterfaces(this.instance.instanceId, visibleAt));
  }
}
