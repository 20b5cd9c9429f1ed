/**
 * `ipamd run`: builds the real adapters (EC2 SDK, IMDSv2, Kubernetes client) from the environment, starts
 * the daemon, and runs until SIGTERM/SIGINT. Returns the exit code.
 */
import type { Ec2Port } from "../aws/ec2_port.ts";
import { SdkEc2 } from "../aws/ec2_sdk.ts";
import { ImdsClient } from "../aws/imds.ts";
import { ClientNodeKube } from "../k8s/client.ts";
import { Netlink } from "../../ffi/mod.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { checkUpstreamEnv } from "./config_upstream.ts";
import { Daemon } from "./daemon.ts";
import { Logger } from "./log.ts";
import { eniGcTimingFromEnv } from "./eni_gc.ts";
import { subnetDiscoveryEnabled } from "./subnet_select.ts";
import { onHeapSnapshotSignal, releaseFreedMemory, TRIM_EVERY_MS } from "./process_memory.ts";

/** What a caller may put around the real adapters (a test double; production passes nothing). */
export interface RunIpamdOptions {
  /** Wraps the EC2 SDK adapter (the reliability suite's control drops every ClientToken with it). */
  ec2?: (sdk: Ec2Port) => Ec2Port;
}

/** Runs ipamd until a signal; 1 on a configuration error, 2 when start-up fails. */
export async function runIpamd(
  env: Record<string, string | undefined>,
  o: RunIpamdOptions = {},
): Promise<number> {
  let config, subnetDiscovery, eniGc, notes;
  try {
    config = loadConfig(env);
    notes = checkUpstreamEnv(env);
    subnetDiscovery = subnetDiscoveryEnabled(env);
    eniGc = eniGcTimingFromEnv(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`ipamd: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const log = new Logger(config.logLevel, config.logFile);
  for (const note of notes) log.info("upstream variable accepted", { note });
  const imds = new ImdsClient({ ipv6: config.enableIpv6 });
  let daemon: Daemon;
  try {
    const region = env.AWS_REGION ?? await imds.region();
    const kube = await ClientNodeKube.fromEnv(env);
    daemon = await Daemon.start({
      config,
      log,
      subnetDiscovery,
      eniGc,
      ports: {
        // The daemon puts it behind RateLimitedEc2 (with the throttle metric).
        ec2: (o.ec2 ?? ((sdk) => sdk))(new SdkEc2({ endpoint: config.ec2Endpoint, region })),
        imds,
        kube,
        kubeServer: kube.server,
        netlink: Netlink.open(),
        iptables: {},
      },
    });
  } catch (e) {
    log.error("start-up failed", { err: e });
    console.error(`ipamd: ${(e as Error).message}`);
    log.close();
    return 2;
  }
  // Start-up's freed parser/compiler memory back to the kernel, then every minute (process_memory.ts).
  releaseFreedMemory();
  const trimmer = setInterval(releaseFreedMemory, TRIM_EVERY_MS);
  const dir = config.logFile.includes("/") ? config.logFile.slice(0, config.logFile.lastIndexOf("/")) : ".";
  const noSnapshots = onHeapSnapshotSignal(dir || "/", (msg, f) => daemon.log.info(msg, f));
  const done = Promise.withResolvers<void>();
  const onSignal = () => done.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  await done.promise;
  Deno.removeSignalListener("SIGTERM", onSignal);
  Deno.removeSignalListener("SIGINT", onSignal);
  clearInterval(trimmer);
  noSnapshots();
  daemon.log.info("shutting down");
  await daemon.stop();
  return 0;
}
