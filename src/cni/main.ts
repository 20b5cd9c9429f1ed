/**
 * aws-cni entry: `deno run --allow-all src/cni/main.ts`, executed by the container runtime with CNI_*
 * variables and the network config on stdin. The result or the error JSON goes to stdout; logs go to the
 * plugin log file. Command modules (and so libnl) are loaded only for the command that needs them.
 * @module
 */
import { trace } from "../common/phase_trace.ts";
import { type CniEnv, parseEnv } from "./args.ts";
import { decodeStdin, type NetConf, parseConf } from "./conf.ts";
import { Logger } from "./log.ts";
import { CniError, Code, errorJson, isSemver, LATEST_VERSION, SUPPORTED_VERSIONS } from "./spec.ts";

/** What one plugin run prints and exits with. */
export interface Outcome {
  stdout: string;
  exitCode: number;
}

/** Runs a parsed command; returns the result object or nothing. */
export type Dispatch<C = NetConf> = (
  env: CniEnv,
  conf: C,
  log: Logger,
) => Promise<Record<string, unknown> | void>;

/** What the runner needs of any plugin's parsed config (aws-cni's, egress-cni's). */
export interface LoggedConf {
  pluginLogFile: string;
  pluginLogLevel: NetConf["pluginLogLevel"];
}

/** The real dispatcher: imports the command's module on demand. */
export const dispatch: Dispatch = async (env, conf, log) => {
  switch (env.command) {
    case "ADD": {
      const { cmdAdd } = await import("./add.ts");
      trace.mark("load");
      return cmdAdd(env, conf, log);
    }
    case "DEL": {
      const { cmdDel } = await import("./del.ts");
      trace.mark("load");
      return cmdDel(env, conf, log);
    }
    case "CHECK":
      return (await import("./check.ts")).cmdCheck(env, conf, log);
    case "GC":
      return (await import("./gc.ts")).cmdGc(env, conf, log);
    case "STATUS":
      return (await import("./status.ts")).cmdStatus(env, conf, log);
    default:
      throw new CniError(Code.INVALID_ENV, `CNI_COMMAND "${env.command}" is unknown`);
  }
};

/** The run's `phases` line (src/common/phase_trace.ts): at debug level, or always with VPC_CNI_TRACE=1. */
function logPhases(log: Logger): void {
  log.log(trace.cpu ? "info" : "debug", "phases", trace.fields());
}

function peekVersion(stdin: Uint8Array): string | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(stdin))?.cniVersion;
    return isSemver(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** One aws-cni run: never throws; every failure is spec error JSON with a non-zero exit code. */
export function run(
  vars: Record<string, string | undefined>,
  stdin: Uint8Array,
  run: Dispatch = dispatch,
): Promise<Outcome> {
  return runPlugin(vars, stdin, parseConf, run);
}

/** One run of a plugin given its config parser and dispatcher (VERSION, logging and errors are shared). */
export async function runPlugin<C extends LoggedConf>(
  vars: Record<string, string | undefined>,
  stdin: Uint8Array,
  parse: (raw: Record<string, unknown>, cmd: CniEnv["command"]) => C,
  run: Dispatch<C>,
): Promise<Outcome> {
  const reqVersion = peekVersion(stdin);
  let log: Logger | undefined;
  try {
    const env = parseEnv(vars);
    if (env.command === "VERSION") {
      return {
        stdout: JSON.stringify({
          cniVersion: reqVersion ?? LATEST_VERSION,
          supportedVersions: SUPPORTED_VERSIONS,
        }),
        exitCode: 0,
      };
    }
    const conf = parse(decodeStdin(stdin), env.command);
    log = new Logger(conf.pluginLogFile, conf.pluginLogLevel, {
      cmd: env.command,
      containerId: env.containerId || undefined,
      ifName: env.ifName || undefined,
      netns: env.netns || undefined,
      pod: env.k8s.podName ? `${env.k8s.podNamespace ?? ""}/${env.k8s.podName}` : undefined,
    });
    const t0 = performance.now();
    log.debug("start", { sinceProcessStart: Math.round(t0) });
    trace.mark("parse");
    const out = await run(env, conf, log);
    log.info("done", { ms: Math.round(performance.now() - t0) });
    const stdout = out ? JSON.stringify(out) : "";
    trace.mark("result");
    logPhases(log);
    return { stdout, exitCode: 0 };
  } catch (e) {
    const j = errorJson(e, reqVersion ?? LATEST_VERSION);
    log?.error("failed", { code: j.code, msg: j.msg, details: j.details, stack: (e as Error)?.stack });
    if (log) logPhases(log);
    return { stdout: JSON.stringify(j), exitCode: 1 };
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = await Deno.stdin.read(buf);
    if (r === null) break;
    chunks.push(buf.slice(0, r));
    n += r;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** The process around one run: reads stdin (except for VERSION on a terminal), prints, exits. */
export async function pluginMain(
  runFn: (vars: Record<string, string>, stdin: Uint8Array) => Promise<Outcome>,
) {
  let stdin: Uint8Array = new Uint8Array();
  let ioError: unknown;
  try {
    if (Deno.env.get("CNI_COMMAND") !== "VERSION" || !Deno.stdin.isTerminal()) stdin = await readStdin();
  } catch (e) {
    ioError = e;
  }
  trace.mark("stdin");
  const o = ioError
    ? {
      stdout: JSON.stringify(errorJson(new CniError(Code.IO, `reading stdin: ${ioError}`), LATEST_VERSION)),
      exitCode: 1,
    }
    : await runFn(Deno.env.toObject(), stdin);
  if (o.stdout) Deno.stdout.writeSync(new TextEncoder().encode(o.stdout + "\n"));
  Deno.exit(o.exitCode);
}

if (import.meta.main) await pluginMain((vars, stdin) => run(vars, stdin));
