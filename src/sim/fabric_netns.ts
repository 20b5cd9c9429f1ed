/**
 * Named network namespaces for the lab: create and delete them (through the ffi's `Netns.create/remove`, what
 * `ip netns add/del` does), list a lab's namespaces, and find or end the processes inside them.
 */
import { Netns } from "../../ffi/mod.ts";
import { NETNS_DIR } from "./naming.ts";
import { pidAlive } from "./lab_state.ts";

/** Whether `/run/netns/<name>` exists. */
export function netnsExists(name: string): boolean {
  try {
    Deno.statSync(`${NETNS_DIR}/${name}`);
    return true;
  } catch {
    return false;
  }
}

/** Creates a named namespace; no-op when it exists. */
export function netnsAdd(name: string): void {
  if (netnsExists(name)) return;
  try {
    Netns.create(name).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
}

/** Deletes a named namespace; no-op when it is gone. */
export function netnsDel(name: string): void {
  if (!netnsExists(name)) return;
  try {
    Netns.remove(name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Names under /run/netns that start with `prefix`. */
export function netnsList(prefix = ""): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(NETNS_DIR)) if (e.name.startsWith(prefix)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

function nsInode(path: string): number | undefined {
  try {
    return Deno.statSync(path).ino ?? undefined;
  } catch {
    return undefined;
  }
}

/** Pids of every process whose network namespace is one of the named namespaces. */
export function pidsInNetns(names: string[]): number[] {
  const inodes = new Set<number>();
  for (const n of names) {
    const ino = nsInode(`${NETNS_DIR}/${n}`);
    if (ino !== undefined) inodes.add(ino);
  }
  if (inodes.size === 0) return [];
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (pid === Deno.pid) continue;
    const ino = nsInode(`/proc/${pid}/ns/net`);
    if (ino !== undefined && inodes.has(ino)) out.push(pid);
  }
  return out;
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILLs what is left and waits for it to go. */
export async function terminate(pids: number[], graceMs = 3000): Promise<void> {
  const signal = (pid: number, sig: Deno.Signal) => {
    try {
      Deno.kill(pid, sig);
    } catch { /* already gone */ }
  };
  for (const p of pids) signal(p, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let left = pids.filter(pidAlive);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(pidAlive);
  }
  for (const p of left) signal(p, "SIGKILL");
  const killDeadline = Date.now() + 2000;
  while (left.length && Date.now() < killDeadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter(pidAlive);
  }
}

/** argv that runs `argv` inside the named namespace. */
export function inNetns(ns: string, argv: string[]): string[] {
  return ["nsenter", `--net=${NETNS_DIR}/${ns}`, "--", ...argv];
}
