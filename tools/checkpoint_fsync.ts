/**
 * What an fsync per checkpoint write would cost (docs/PERFORMANCE.md, "The checkpoint write"): a 110-pod
 * checkpoint written `--writes` times by ipamd's `writeCheckpoint` (temp file, rename, no fsync), interleaved
 * with as many writes that also fsync the temp file before the rename and the directory after it (what ipamd
 * did before). Prints p50 / p90 / max per directory, as a markdown table.
 *
 *   deno run -A tools/checkpoint_fsync.ts [--writes 60] [--dir /var/tmp] [--dir /dev/shm]
 * @module
 */
import { parseArgs } from "node:util";
import { type CheckpointData, toCheckpoint, writeCheckpoint } from "../src/ipamd/checkpoint.ts";
import type { Assignment } from "../src/ipamd/datastore_types.ts";
import { percentile } from "../harness/stats.ts";

/** A checkpoint of `pods` pods, shaped like the lab's (pod names, uids, netns paths). */
export function checkpointOf(pods: number): CheckpointData {
  const a: Assignment[] = [];
  for (let i = 0; i < pods; i++) {
    a.push({
      netName: "aws-cni",
      containerId: crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", ""),
      ifName: "eth0",
      ip: `10.0.${Math.floor(i / 250)}.${(i % 250) + 2}`,
      eniId: `eni-${(Math.floor(i / 29) + 1).toString(16).padStart(17, "0")}`,
      assignedAt: Date.now(),
      meta: {
        k8sPodNamespace: "default",
        k8sPodName: `pod-${i}`,
        k8sPodUid: crypto.randomUUID(),
        netns: `/var/run/netns/cni-${crypto.randomUUID()}`,
      },
    });
  }
  return toCheckpoint(a);
}

/** The write with fsyncs: temp file written and fsync'd, renamed, the directory fsync'd. */
async function writeSynced(path: string, data: CheckpointData): Promise<void> {
  const tmp = `${path}.tmp-sync`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(data));
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
  const d = await Deno.open(path.slice(0, path.lastIndexOf("/")), { read: true });
  try {
    await d.sync();
  } finally {
    d.close();
  }
}

async function timeIt(f: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { writes: { type: "string", default: "60" }, dir: { type: "string", multiple: true } },
  });
  const data = checkpointOf(110);
  const bytes = JSON.stringify(data).length;
  const f = (x: number) => x.toFixed(2);
  console.log(`110-pod checkpoint, ${bytes} bytes, ${values.writes} writes each, interleaved (ms)\n`);
  console.log("| directory (filesystem) | fsync p50 | p90 | max | no fsync p50 | p90 | max |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const parent of values.dir ?? ["/var/tmp", "/dev/shm"]) {
    const dir = await Deno.makeTempDir({ dir: parent, prefix: "checkpoint-fsync-" });
    try {
      const path = `${dir}/ipam.json`;
      const synced: number[] = [], plain: number[] = [];
      for (let i = 0; i < Number(values.writes); i++) {
        synced.push(await timeIt(() => writeSynced(path, data)));
        plain.push(await timeIt(() => writeCheckpoint(path, data)));
      }
      const fs = new TextDecoder().decode(
        (await new Deno.Command("findmnt", { args: ["-n", "-o", "FSTYPE", "--target", dir] }).output())
          .stdout,
      ).trim().split("\n").at(-1);
      const cols = (xs: number[]) => [percentile(xs, 50), percentile(xs, 90), Math.max(...xs)].map(f);
      console.log(`| ${parent} (${fs}) | ${[...cols(synced), ...cols(plain)].join(" | ")} |`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}
