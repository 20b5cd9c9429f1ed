/**
 * `ipamd` CLI: `ipamd [run]` starts the daemon; `ipamd status [--socket PATH] [--json]` prints the pool;
 * `ipamd max-pods --instance-type T [--prefix-delegation] [--custom-networking] [--ipv6]` prints the number alone;
 * `ipamd health` is the DaemonSet's probe; `ipamd support-bundle` collects what a support case needs.
 */
import { parseArgs } from "node:util";
import { IPAMD_SOCKET_DEFAULT } from "../cni/api.ts";
import { lookupInstanceType } from "../aws/instance_types.ts";
import { maxPods } from "./max_pods.ts";
import { renderStatus } from "./status_table.ts";

const USAGE = `usage:
  ipamd [run]
  ipamd status [--socket PATH] [--json]
  ipamd max-pods --instance-type TYPE [--prefix-delegation] [--custom-networking] [--ipv6] [--max-eni N]
  ipamd install [--init | --conflist-only] [--run] [--cni-bin-dir D] [--cni-conf-dir D] ... (see --help)
  ipamd health [--socket PATH] [--timeout S]          exit 0 when ipamd answers ready on its socket
  ipamd support-bundle [--out FILE]                   a tar.gz of logs, state and host networking`;

/** GET over a unix socket. */
async function getUnix(socket: string, path: string): Promise<unknown> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    // A literal host: Deno resolves the URL's host even over a unix socket (a name stalls without DNS).
    const r = await fetch(`http://127.0.0.1${path}`, { client });
    const body = await r.json();
    if (!r.ok) throw new Error(body?.error?.message ?? `HTTP ${r.status}`);
    return body;
  } finally {
    client.close();
  }
}

async function status(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { socket: { type: "string" }, json: { type: "boolean", default: false } },
  });
  const socket = values.socket ?? Deno.env.get("IPAMD_SOCKET") ?? IPAMD_SOCKET_DEFAULT;
  try {
    const pool = await getUnix(socket, "/v1/pool");
    console.log(
      values.json ? JSON.stringify(pool, null, 2) : renderStatus(pool as Parameters<typeof renderStatus>[0]),
    );
    return 0;
  } catch (e) {
    console.error(`ipamd status: cannot read the pool from ${socket}: ${(e as Error).message}`);
    return 1;
  }
}

function maxPodsCmd(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      "instance-type": { type: "string" },
      "prefix-delegation": { type: "boolean", default: false },
      "custom-networking": { type: "boolean", default: false },
      ipv6: { type: "boolean", default: false },
      "max-eni": { type: "string" },
    },
  });
  const type = values["instance-type"];
  if (!type) {
    console.error("ipamd max-pods: --instance-type is required");
    return 2;
  }
  const t = lookupInstanceType(type);
  if (!t) {
    console.error(`ipamd max-pods: unknown instance type "${type}"`);
    return 1;
  }
  try {
    console.log(maxPods(t, {
      prefixDelegation: values["prefix-delegation"],
      customNetworking: values["custom-networking"],
      ipv6: values.ipv6,
      maxEni: values["max-eni"] !== undefined ? Number(values["max-eni"]) : undefined,
    }));
    return 0;
  } catch (e) {
    console.error(`ipamd max-pods: ${(e as Error).message}`);
    return 1;
  }
}

async function run(): Promise<number> {
  const { runIpamd } = await import("./daemon_run.ts");
  return await runIpamd(Deno.env.toObject());
}

/** Dispatches a command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd = "run", ...rest] = argv;
  try {
    switch (cmd) {
      case "run":
        return await run();
      case "status":
        return await status(rest);
      case "max-pods":
        return maxPodsCmd(rest);
      case "install":
        return await (await import("./install.ts")).installMain(rest);
      case "health":
        return await (await import("./health.ts")).healthMain(rest);
      case "support-bundle":
        return await (await import("./support_bundle.ts")).supportBundleMain(rest);
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return 0;
      default:
        console.error(`ipamd: unknown command "${cmd}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    console.error(`ipamd ${cmd}: ${(e as Error).message}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
