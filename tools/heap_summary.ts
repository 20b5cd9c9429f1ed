/**
 * Summarises a V8 heap snapshot (ipamd writes one on SIGUSR2, src/ipamd/process_memory.ts): self size by node
 * type, the biggest object kinds (constructor names, with how many), and the biggest strings (module sources
 * show up there).
 *
 *   kill -USR2 <ipamd pid>; deno run -A tools/heap_summary.ts /var/log/aws-routed-eni/ipamd-<pid>-<t>.heapsnapshot
 * @module
 */

/** The parts of a .heapsnapshot file this reads. */
interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self sizes (bytes) grouped three ways. */
export interface HeapSummary {
  total: number;
  nodes: number;
  byType: [string, number][];
  byName: [string, number, number][];
  bigStrings: [number, string][];
}

const KiB = 1024;

/** Summarises a parsed snapshot. */
export function summariseHeap(s: Snapshot, top = 20): HeapSummary {
  const f = s.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf("type"), iName = f.indexOf("name"), iSize = f.indexOf("self_size");
  const types = s.snapshot.meta.node_types[0];
  const byType = new Map<string, number>();
  const byName = new Map<string, [number, number]>();
  const bigStrings: [number, string][] = [];
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]];
    const size = s.nodes[i + iSize];
    total += size;
    byType.set(type, (byType.get(type) ?? 0) + size);
    const name = s.strings[s.nodes[i + iName]];
    if (type === "object" || type === "array" || type === "closure") {
      const key = `${type}:${name}`;
      const e = byName.get(key) ?? [0, 0];
      byName.set(key, [e[0] + size, e[1] + 1]);
    }
    if (type === "string" && size >= 64 * KiB) {
      bigStrings.push([size, name.slice(0, 100).replace(/\s+/g, " ")]);
    }
  }
  return {
    total,
    nodes: s.nodes.length / width,
    byType: [...byType].sort((a, b) => b[1] - a[1]),
    byName: [...byName].map(([k, [sz, n]]) => [k, sz, n] as [string, number, number])
      .sort((a, b) => b[1] - a[1]).slice(0, top),
    bigStrings: bigStrings.sort((a, b) => b[0] - a[0]).slice(0, top),
  };
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(2);

/** The summary as markdown. */
export function heapMarkdown(h: HeapSummary): string {
  return [
    `${h.nodes} heap objects, ${mib(h.total)} MiB self size in all.`,
    "",
    "| node type | MiB |",
    "| --- | --- |",
    ...h.byType.filter(([, b]) => b >= 64 * KiB).map(([t, b]) => `| ${t} | ${mib(b)} |`),
    "",
    "| biggest kinds (type:constructor) | MiB | count |",
    "| --- | --- | --- |",
    ...h.byName.map(([k, b, n]) => `| ${k.replaceAll("|", "\\|")} | ${mib(b)} | ${n} |`),
    "",
    "| biggest strings | KiB | starts with |",
    "| --- | --- | --- |",
    ...h.bigStrings.map(([b, t]) =>
      `| | ${(b / KiB).toFixed(0)} | \`${t.replaceAll("|", "\\|").replaceAll("`", "'")}\` |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const file = Deno.args[0];
  if (!file) {
    console.error("usage: heap_summary.ts FILE.heapsnapshot");
    Deno.exit(2);
  }
  console.log(heapMarkdown(summariseHeap(JSON.parse(await Deno.readTextFile(file)))));
}
