/** The daemon's API handlers: EC2 Query API, IMDSv2 and Kubernetes, sharing one Realism (latency, faults). */
import { Ec2CallCounts } from "./ec2_call_counts.ts";
import { createEc2Handler } from "./ec2_server.ts";
import { LabIam } from "./iam.ts";
import { createImdsHandler } from "./imds_server.ts";
import { KubeProtobufDecoder } from "./k8s_protobuf.ts";
import { createKubeHandler } from "./k8s_server.ts";
import type { Handler } from "./daemon_control.ts";
import type { LabWorld } from "./daemon_world.ts";
import type { LabConfig } from "./lab_state.ts";
import { formatFaults, parseFaults, Realism } from "./realism.ts";

/** The handlers the daemon serves on its TCP addresses and on lab.sock. */
export interface LabHandlers {
  /** EC2 for the nodes: SigV4 with a key the lab issued (IMDS serves each instance's role credentials). */
  ec2: Handler;
  /** EC2 for lab.sock (the lab's operator): unsigned, counted as `lab.sock`. */
  ec2Control: Handler;
  /** EC2 calls per caller (instance id, source address or `lab.sock`). */
  ec2Counts: Ec2CallCounts;
  kube: Handler;
  /** IMDS choosing the instance by the caller's source address. */
  imds: Handler;
  /** IMDS as seen from the node whose primary address is `ip` (for lab.sock callers). */
  imdsAs(ip: string): Handler;
  getFaults(): { faults: string; latency: string };
  /** Replaces the faults; throws RangeError on bad text. */
  setFaults(text: string): { faults: string; latency: string };
  /** Per-action call/error/throttle counters. */
  counters(): unknown;
  /** Ends every open Kubernetes watch; later requests are still served. */
  endWatches(): void;
  close(): void;
}

/** Builds the handlers over the world's model and store. */
export function makeHandlers(world: LabWorld, cfg: LabConfig): LabHandlers {
  const realism = new Realism({ latency: cfg.latency, faults: cfg.faults, seed: cfg.seed });
  const iam = new LabIam({ accountId: world.model.accountId, now: () => world.model.now() });
  const byRemote = (addr: string) => world.model.instanceByPrivateIp(addr);
  const ec2Counts = new Ec2CallCounts();
  const ec2 = createEc2Handler(world.model, realism, { iam, counts: ec2Counts, instanceForRemote: byRemote });
  const protobuf = cfg.kubeProtobuf ? new KubeProtobufDecoder(cfg.kubeProtobuf) : undefined;
  const kube = createKubeHandler(world.store, { decodeProtobuf: protobuf?.decode });
  const imds = createImdsHandler(world.model, { instanceForRemote: byRemote, iam }, realism);
  const host = (info: Deno.ServeHandlerInfo) =>
    (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? "";
  const faults = () => ({ faults: formatFaults(realism.faults), latency: realism.latency });
  return {
    ec2: (req, info) => ec2(req, { remoteAddr: host(info) }),
    ec2Control: (req) => ec2(req, { operator: true }),
    ec2Counts,
    kube: (req) => kube(req),
    imds: (req, info) => imds(req, { remoteAddr: host(info) }),
    imdsAs: (ip) => (req) => imds(req, { remoteAddr: ip }),
    getFaults: faults,
    setFaults(text) {
      realism.setFaults(parseFaults(text));
      return faults();
    },
    counters: () => realism.stats(),
    endWatches: () => kube.close(),
    close: () => {
      kube.close();
      void protobuf?.close();
    },
  };
}
