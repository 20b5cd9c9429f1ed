/**
 * ipamd's process-level memory settings (docs/PERFORMANCE.md, "Where ipamd's memory goes"):
 *
 * - {@linkcode IPAMD_V8_FLAGS}, given to deno by every launcher of ipamd (the lab's node agent, `compile.sh`
 *   for the shipped binary): V8's young generation capped at 1 MiB per semi-space (by default V8 grows it to
 *   16 MiB per semi-space: 32 MiB of RSS kept for a daemon that allocates little; with the cap a scavenge
 *   runs more often and each is shorter), and V8's lite mode (no optimizing compiler, feedback vectors
 *   allocated lazily: ~8 MiB less at 110 pods; ipamd's request handling took ~0.1–0.2 ms longer).
 * - {@linkcode releaseFreedMemory}: glibc's `malloc_trim(0)`, which hands the pages of freed malloc chunks back
 *   to the kernel. Loading the SDKs makes V8's parser and compiler malloc tens of MiB that are freed at once
 *   but stay in glibc's arenas (in RSS); ipamd trims once started and then every minute.
 * - {@linkcode onHeapSnapshotSignal}: SIGUSR2 writes a V8 heap snapshot (`node:v8` writeHeapSnapshot, loaded
 *   only then) into the log directory, for `tools/heap_summary.ts`.
 * @module
 */

/** The V8 flags ipamd runs with (`deno run --v8-flags=…`, `deno compile --v8-flags=…`). */
export const IPAMD_V8_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--lite-mode"];

/** How often the running daemon trims (ms). */
export const TRIM_EVERY_MS = 60_000;

let trim: ((pad: bigint) => number) | undefined | null;

/** Returns freed malloc memory to the kernel (glibc `malloc_trim(0)`); false where there is no glibc. */
export function releaseFreedMemory(): boolean {
  if (trim === undefined) {
    try {
      trim = Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } } as const)
        .symbols.malloc_trim;
    } catch {
      trim = null;
    }
  }
  if (!trim) return false;
  trim(0n);
  return true;
}

/** Writes a V8 heap snapshot into `dir` on every SIGUSR2 (ipamd-<pid>-<time>.heapsnapshot); returns the remover. */
export function onHeapSnapshotSignal(dir: string, log: (msg: string, f: Record<string, unknown>) => void) {
  const write = async () => {
    try {
      const v8 = await import("node:v8");
      const file = v8.writeHeapSnapshot(`${dir}/ipamd-${Deno.pid}-${Date.now()}.heapsnapshot`);
      log("heap snapshot written", { file });
    } catch (e) {
      log("heap snapshot failed", { err: (e as Error).message });
    }
  };
  Deno.addSignalListener("SIGUSR2", write);
  return () => Deno.removeSignalListener("SIGUSR2", write);
}
