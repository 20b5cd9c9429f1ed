/**
 * Test fixtures for ffi/: uniquely named namespaces created with `ip netns add`
 * (fixture creation only) and always removed; two namespaces wired by a veth; ping.
 *
 * @module
 */

import assert from "node:assert/strict";
import { NetlinkError } from "./errors.ts";
import { Netlink } from "./netlink.ts";

/** A unique name: prefix + 6 random hex chars (keep prefix ≤ 9 chars for link names). */
export function uniq(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 6)}`;
}

/** Run a command; returns its exit code and output. */
export function run(cmd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const d = new TextDecoder();
  return { code: o.code, stdout: d.decode(o.stdout), stderr: d.decode(o.stderr) };
}

/** `ip -n ns -j <args>` parsed. */
export function ipJson(ns: string, ...args: string[]): Array<Record<string, unknown>> {
  const r = run("ip", "-n", ns, "-j", ...args);
  if (r.code !== 0) throw new Error(`ip -n ${ns} -j ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

/** Create `n` namespaces, run fn with their names, always delete them. */
export async function withTempNetns<T>(n: number, fn: (names: string[]) => T | Promise<T>): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const name = uniq("tffi");
      const r = run("ip", "netns", "add", name);
      if (r.code !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
      names.push(name);
    }
    return await fn(names);
  } finally {
    for (const name of names) run("ip", "netns", "del", name);
  }
}

/** The calling thread's netns inode. */
export function threadNetnsInode(): number {
  return Deno.statSync("/proc/thread-self/ns/net").ino ?? 0;
}

/** The NetlinkError `fn` throws (anything else fails the test). */
export function nlErr(fn: () => unknown): NetlinkError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError) return e;
    throw e;
  }
  assert.fail("expected a NetlinkError");
}

/** ping from inside `ns` (iputils ping, else busybox ping). */
export function ping(ns: string, ip: string, count: number) {
  const bin = run("sh", "-c", "command -v ping").code === 0 ? ["ping"] : ["busybox", "ping"];
  return run("ip", "netns", "exec", ns, ...bin, "-c", String(count), "-W", "2", ip);
}

/** Two namespaces a, b joined by a veth (a: "va", b: "vb"), both ends up. */
export function wired<T>(
  fn: (x: { a: string; b: string; na: Netlink; nb: Netlink; va: number; vb: number }) => T,
) {
  return withTempNetns(2, ([a, b]) => {
    using na = Netlink.open(a);
    using nb = Netlink.open(b);
    na.vethAdd({ name: "va", peerName: "vb", peerNs: b });
    const va = na.linkByName("va").index, vb = nb.linkByName("vb").index;
    na.linkSetUp(va);
    nb.linkSetUp(vb);
    return fn({ a, b, na, nb, va, vb });
  });
}
