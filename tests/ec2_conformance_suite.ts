/**
 * The EC2 port's conformance behaviours, registered once per target by {@linkcode ec2Conformance}. Targets
 * (in `ec2_conformance_test.ts`): `SdkEc2` → the lab's Query server over HTTP, `Ec2ModelPort` in-process, and
 * `SdkEc2` → moto. Every target must answer identically, errors included; a behaviour a target cannot
 * show is skipped for that target only, with its reason, in the target's gap table.
 * @module
 */
import assert from "node:assert/strict";
import { Ec2Error, type Ec2Port, type Tag } from "../src/aws/ec2_port.ts";
import type { ActionStats, RealismOptions } from "../src/sim/realism.ts";
import { eniBehaviours } from "./ec2_conformance_enis.ts";
import { faultBehaviours } from "./ec2_conformance_faults.ts";
import { ec2HardParts } from "./ec2_conformance_hard_parts.ts";
import { ipv6Behaviours } from "./ec2_conformance_ipv6.ts";

/** A subnet to create: what the behaviours ask a target for. */
export interface SubnetSpec {
  cidr: string;
  availabilityZone?: string;
  tags?: Tag[];
  /** A dual-stack subnet: a /64 of the VPC's IPv6 /56, with AssignIpv6AddressOnCreation. */
  ipv6?: boolean;
}

/** What one behaviour sets its target up with. */
export interface FixtureOptions {
  /** The first subnet's CIDR (default 10.0.0.0/20, in us-west-2a, tagged `kubernetes.io/role/cni=1`). */
  cidr?: string;
  /** The lab's realism knobs (latency, buckets, faults): only targets backed by the lab's model honour it. */
  realism?: RealismOptions;
}

/** One target, set up for one behaviour. */
export interface Ec2Fixture {
  port: Ec2Port;
  vpcId: string;
  subnetId: string;
  addSubnet(spec: SubnetSpec): Promise<string>;
  /** Launches an instance (primary ENI at device 0) and returns its id. */
  launch(instanceType: string, subnetId: string): Promise<string>;
  /** Counters per action of the calls the target's server received (throttled ones included). */
  stats(): Promise<Record<string, ActionStats>>;
  /** Moves the target's clock forward (targets with the lab's realism knobs only). */
  advance?(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** A target: builds a fresh fixture per behaviour. */
export interface Ec2Target {
  name: string;
  /** Whether the target honours `FixtureOptions.realism` (the lab's knobs). */
  realism: boolean;
  /** Behaviour title → why this target skips it (shown as the test's name). */
  gaps?: Readonly<Record<string, string>>;
  /** Extra `Deno.test` options (a target whose server outlives one test turns the sanitizers off). */
  testOptions?: Pick<Deno.TestDefinition, "sanitizeOps" | "sanitizeResources" | "ignore">;
  setUp(o: FixtureOptions): Promise<Ec2Fixture>;
}

/** What a behaviour's body gets. */
export interface Lab {
  port: Ec2Port;
  vpcId: string;
  subnetId: string;
  addSubnet(spec: SubnetSpec): Promise<string>;
  launch(instanceType: string, subnetId?: string): Promise<string>;
  calls(action: string): Promise<number>;
  stats(): Promise<Record<string, ActionStats>>;
  /** Moves the target's clock forward (only in behaviours with `realism`). */
  advance(ms: number): Promise<void>;
}

/** Registers one behaviour. */
export type Behaviour = (title: string, fn: (lab: Lab) => Promise<void>, o?: FixtureOptions) => void;

/** Awaits `p` and asserts it rejects with an `Ec2Error` of `code`; returns that error. */
export async function rejects(p: Promise<unknown>, code: string): Promise<Ec2Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Ec2Error, `expected Ec2Error, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** Every behaviour title registered so far (a gap table naming an unknown title is a mistake). */
export const BEHAVIOURS = new Set<string>();

/** The shared behaviours, registered once per target. */
export function ec2Conformance(target: Ec2Target): void {
  const t: Behaviour = (title, fn, o = {}) => {
    BEHAVIOURS.add(title);
    const gap = target.gaps?.[title] ??
      (o.realism && !target.realism ? "needs the lab's realism knobs" : undefined);
    if (gap) {
      Deno.test({ name: `${target.name}: ${title} [skipped: ${gap}]`, ignore: true, fn() {} });
      return;
    }
    Deno.test({
      name: `${target.name}: ${title}`,
      ...target.testOptions,
      fn: async () => {
        const fx = await target.setUp(o);
        try {
          await fn({
            port: fx.port,
            vpcId: fx.vpcId,
            subnetId: fx.subnetId,
            addSubnet: (spec) => fx.addSubnet(spec),
            launch: (instanceType, subnetId = fx.subnetId) => fx.launch(instanceType, subnetId),
            calls: async (action) => (await fx.stats())[action]?.calls ?? 0,
            stats: () => fx.stats(),
            advance: (ms) => {
              if (!fx.advance) throw new Error(`${target.name} cannot move its clock`);
              return fx.advance(ms);
            },
          });
        } finally {
          await fx.close();
        }
      },
    });
  };

  eniBehaviours(t);
  faultBehaviours(t);
  ec2HardParts(t);
  ipv6Behaviours(t);
}
