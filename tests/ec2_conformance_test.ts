/**
 * EC2 port conformance (behaviours in `ec2_conformance_suite.ts`) against each target: `SdkEc2` → the lab's
 * Query server over HTTP on 127.0.0.1, and `Ec2ModelPort` in-process. Both must answer identically.
 */
import { SdkEc2 } from "../src/aws/ec2_sdk.ts";
import { Ec2Model } from "../src/sim/ec2_model.ts";
import { createEc2Handler } from "../src/sim/ec2_server.ts";
import { Ec2ModelPort } from "../src/sim/ec2_model_port.ts";
import { LabIam } from "../src/sim/iam.ts";
import { Realism } from "../src/sim/realism.ts";
import { useAwsCredentials } from "./helpers/aws_env.ts";
import type { Ec2Port } from "../src/aws/ec2_port.ts";
import { ec2Conformance, type Ec2Fixture, type FixtureOptions } from "./ec2_conformance_suite.ts";

/** A model and realism for one behaviour, with the first subnet; `port` over them is the target's. */
function modelFixture(
  o: FixtureOptions,
  port: (model: Ec2Model, realism: Realism) => { port: Ec2Port; close(): Promise<void> },
): Ec2Fixture {
  const clock = { offset: 0 };
  const model = new Ec2Model({
    seed: 42,
    vpcIpv6Cidr: "2600:1f14:6b0:d800::/56",
    now: () => Date.now() + clock.offset,
  });
  const realism = new Realism({ buckets: false, ...o.realism });
  const subnet = model.addSubnet({
    cidr: o.cidr ?? "10.0.0.0/20",
    availabilityZone: "us-west-2a",
    tags: [{ key: "kubernetes.io/role/cni", value: "1" }],
  });
  const p = port(model, realism);
  return {
    port: p.port,
    vpcId: model.vpcId,
    subnetId: subnet.subnetId,
    addSubnet: ({ ipv6, ...spec }) =>
      Promise.resolve(
        model.addSubnet({ ...spec, ...(ipv6 ? { ipv6Cidr: true, assignIpv6AddressOnCreation: true } : {}) })
          .subnetId,
      ),
    launch: (instanceType, subnetId) =>
      Promise.resolve(model.launchInstance({ instanceType, subnetId }).instanceId),
    stats: () => Promise.resolve(realism.stats()),
    advance: (ms) => {
      clock.offset += ms;
      return Promise.resolve();
    },
    close: () => p.close(),
  };
}

ec2Conformance({
  name: "sdk",
  realism: true,
  setUp: (o) =>
    Promise.resolve(modelFixture(o, (model, realism) => {
      // Signatures are checked, as EC2 does: the SDK's default chain finds a static key the lab issued.
      const iam = new LabIam({ accountId: model.accountId, now: () => model.now() });
      const restore = useAwsCredentials(iam.addStaticKey());
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        createEc2Handler(model, realism, { iam }),
      );
      const port = new SdkEc2({ endpoint: `http://127.0.0.1:${server.addr.port}`, region: "us-west-2" });
      return {
        port,
        close: async () => {
          port.destroy();
          await server.shutdown();
          restore();
        },
      };
    })),
});

ec2Conformance({
  name: "model",
  realism: true,
  setUp: (o) =>
    Promise.resolve(
      modelFixture(o, (model, realism) => ({
        port: new Ec2ModelPort(model, realism),
        close: () => Promise.resolve(),
      })),
    ),
});
