import assert from "node:assert/strict";
import { phaseLines, phaseTable, summarisePhases } from "../tools/phase_table.ts";

const line = (cmd: string, total: number, phases: Record<string, number[]>) =>
  JSON.stringify({
    ts: "x",
    level: "info",
    msg: "phases",
    cmd,
    epochMs: 1,
    totalMs: total,
    cpuMs: total,
    phases,
  });

Deno.test("phase table: p50 per phase across calls; a phase missing from a call counts 0", () => {
  const text = [
    line("ADD", 10, { load: [2, 1], ipamd: [5, 1] }),
    '{"msg":"done"}',
    line("ADD", 20, { load: [4, 3], ipamd: [9, 2], "nl.stale-veth": [6, 1] }),
    line("ADD", 30, { load: [6, 5], ipamd: [7, 3] }),
    line("DEL", 3, { load: [1] }),
    "not json",
  ].join("\n");
  const lines = phaseLines(text);
  assert.equal(lines.length, 4);
  const add = summarisePhases(lines.filter((l) => l.cmd === "ADD"));
  assert.equal(add.n, 3);
  assert.equal(add.totalMs, 20);
  assert.deepEqual(add.phases, [
    { name: "load", ms: 4, cpuMs: 3 },
    { name: "ipamd", ms: 7, cpuMs: 2 },
    { name: "nl.stale-veth", ms: 0, cpuMs: 1 },
  ]);
  const md = phaseTable({ ADD: add, DEL: summarisePhases(lines.filter((l) => l.cmd === "DEL")) });
  assert.match(md, /^\| phase \| ADD wall ms \| ADD CPU ms \| DEL wall ms \| DEL CPU ms \|/);
  assert.match(md, /\| ipamd \| 7 \| 2 \| — \| — \|/);
  assert.match(md, /\| load \| 4 \| 3 \| 1 \| — \|/);
});

Deno.test("phase table: traced lines' memory as p50 MiB rows", () => {
  const withMem = (hwm: number) =>
    JSON.stringify({
      msg: "phases",
      cmd: "ADD",
      epochMs: 1,
      totalMs: 1,
      memKiB: { hwm, anon: 1024, file: 2048 },
      phases: { load: [1, 1] },
    });
  const add = summarisePhases(phaseLines([withMem(40960), withMem(43008), withMem(41984)].join("\n")));
  assert.deepEqual(add.memMiB, { hwm: 41, anon: 1, file: 2 });
  const del = summarisePhases(phaseLines(line("DEL", 3, { load: [1] })));
  const md = phaseTable({ ADD: add, DEL: del });
  assert.match(md, /\| \*\*peak RSS so far \(VmHWM\), MiB\*\*, at the phases line \| 41 \| — \| — \| — \|/);
  assert.match(md, /\| RssFile \(deno's binary, libraries\), MiB \| 2 \| — \| — \| — \|/);
});
