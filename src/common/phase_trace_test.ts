import assert from "node:assert/strict";
import { PhaseTrace, processCpuClock, processMemKiB, threadSchedNs } from "./phase_trace.ts";

Deno.test("phase trace: marks add up by name, sub-phases stay out of the total", () => {
  const t = new PhaseTrace(false);
  t.mark("a");
  t.add("b", 2);
  t.add("b", 1.5);
  t.add("ipamd/assign", 100);
  const f = t.fields();
  assert.deepEqual(Object.keys(t.phases), ["a", "b", "ipamd/assign"]);
  assert.deepEqual(t.phases.b, [3.5]);
  assert.equal(f.totalMs, Math.round((t.phases.a[0] + 3.5) * 1000) / 1000);
  assert.equal(f.cpuMs, undefined, "no CPU unless traced");
  assert.equal(f.memKiB, undefined, "no memory unless traced");
  assert.ok(Math.abs((f.epochMs as number) - Date.now()) < 60_000);
});

Deno.test("phase trace with CPU: start from the scheduler, every phase with the process's CPU ms", () => {
  const t = new PhaseTrace(true);
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += i % 7;
  t.mark("work");
  assert.ok(x > 0);
  if (!processCpuClock() || !threadSchedNs()) return; // not Linux
  assert.equal(t.phases.start.length, 1);
  const [ms, cpu] = t.phases.work;
  assert.ok(cpu !== undefined && cpu > 0 && cpu <= ms + 5, `work ${ms} ms wall, ${cpu} ms CPU`);
  assert.ok((t.fields().cpuMs as number) >= cpu);
  const mem = t.fields().memKiB as ReturnType<typeof processMemKiB>;
  assert.ok(
    mem && mem.hwm >= mem.anon + mem.file - 1024 && mem.anon > 0 && mem.file > 0,
    JSON.stringify(mem),
  );
});
