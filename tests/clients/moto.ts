/**
 * moto (`moto[server]`, from the cached venv of `python_env.ts`) as a third EC2 implementation for the EC2
 * conformance suite: one server per test process on 127.0.0.1, reset before each behaviour, behind a small
 * counting proxy (so "calls the server received" can be read as on the lab). A fixture's VPC, subnets and
 * instances are made through moto's own EC2 API (CreateVpc, CreateSubnet, RunInstances).
 * @module
 */
import {
  type _InstanceType,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { SdkEc2 } from "../../src/aws/ec2_sdk.ts";
import type { ActionStats } from "../../src/sim/realism.ts";
import type { Ec2Fixture, FixtureOptions, SubnetSpec } from "../ec2_conformance_suite.ts";
import { useAwsCredentials } from "../helpers/aws_env.ts";
import { ensurePythonEnv, PYTHON_DIR } from "./python_env.ts";

const REGION = "us-west-2";
const KEY = { accessKeyId: "AKIAMOTOCONFORMANCE0", secretAccessKey: "moto-does-not-check-signatures" };

/** The running moto server and its counting proxy. */
interface Moto {
  url: string;
  counts: Map<string, ActionStats>;
  version: string;
}

let moto: Promise<Moto> | undefined;

async function startMoto(): Promise<Moto> {
  const { python } = await ensurePythonEnv();
  const version = new TextDecoder().decode(
    (await new Deno.Command(python, { args: ["-c", "import moto; print(moto.__version__)"] }).output())
      .stdout,
  ).trim();
  const child = new Deno.Command(python, {
    args: [`${PYTHON_DIR}moto_server.py`],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/PORT \d+\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`moto exited before listening: ${text}`);
    text += value;
  }
  reader.releaseLock();
  const upstream = `http://127.0.0.1:${/PORT (\d+)/.exec(text)![1]}`;
  const counts = new Map<string, ActionStats>();
  const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.arrayBuffer();
    const action = new URLSearchParams(new TextDecoder().decode(body)).get("Action") ?? "";
    const r = await fetch(upstream + new URL(req.url).pathname, {
      method: req.method,
      headers: req.headers,
      body,
    });
    let s = counts.get(action);
    if (!s) counts.set(action, s = { calls: 0, errors: 0, throttles: 0, lost: 0 });
    s.calls++;
    if (r.status >= 400) s.errors++;
    return new Response(await r.arrayBuffer(), { status: r.status, headers: r.headers });
  });
  globalThis.addEventListener("unload", () => {
    child.stdin.close().catch(() => {});
    void proxy.shutdown();
  });
  return { url: `http://127.0.0.1:${proxy.addr.port}`, counts, version };
}

/** moto's version, once the server runs. */
export async function motoVersion(): Promise<string> {
  return (await (moto ??= startMoto())).version;
}

/** A fresh moto state, a VPC and the first subnet, for one behaviour. */
export async function motoFixture(o: FixtureOptions): Promise<Ec2Fixture> {
  const m = await (moto ??= startMoto());
  const reset = await fetch(`${m.url}/moto-api/reset`, { method: "POST" });
  await reset.body?.cancel();
  m.counts.clear();
  const restore = useAwsCredentials(KEY);
  const raw = new EC2Client({ region: REGION, endpoint: m.url });
  const port = new SdkEc2({ endpoint: m.url, region: REGION });
  try {
    const { Vpc } = await raw.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const vpcId = Vpc!.VpcId!;
    const addSubnet = async (spec: SubnetSpec) => {
      if (spec.ipv6) throw new Error("the moto fixture makes no dual-stack subnets (IPv6 is a moto gap)");
      const { Subnet } = await raw.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: spec.cidr,
          AvailabilityZone: spec.availabilityZone ?? `${REGION}a`,
          TagSpecifications: spec.tags?.length
            ? [{ ResourceType: "subnet", Tags: spec.tags.map((t) => ({ Key: t.key, Value: t.value })) }]
            : undefined,
        }),
      );
      return Subnet!.SubnetId!;
    };
    const subnetId = await addSubnet({
      cidr: o.cidr ?? "10.0.0.0/20",
      availabilityZone: `${REGION}a`,
      tags: [{ key: "kubernetes.io/role/cni", value: "1" }],
    });
    return {
      port,
      vpcId,
      subnetId,
      addSubnet,
      launch: async (instanceType, subnet) => {
        const r = await raw.send(
          new RunInstancesCommand({
            ImageId: "ami-12c6146b",
            MinCount: 1,
            MaxCount: 1,
            InstanceType: instanceType as _InstanceType,
            SubnetId: subnet,
          }),
        );
        return r.Instances![0].InstanceId!;
      },
      stats: () => Promise.resolve(Object.fromEntries([...m.counts].map(([k, v]) => [k, { ...v }]))),
      close: () => {
        port.destroy();
        raw.destroy();
        restore();
        return Promise.resolve();
      },
    };
  } catch (e) {
    port.destroy();
    raw.destroy();
    restore();
    throw e;
  }
}
