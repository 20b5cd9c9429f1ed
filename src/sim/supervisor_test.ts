import assert from "node:assert/strict";
import { Supervisor } from "./supervisor.ts";

const quiet = () => {};

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("Supervisor: restarts a process that exits and counts restarts", async () => {
  const s = new Supervisor({ name: "t", argv: ["sh", "-c", "exit 3"] }, { backoffMs: 10, log: quiet });
  s.start();
  try {
    await until(() => s.restarts >= 2);
    assert.equal(s.exits[0].code, 3);
  } finally {
    await s.stop();
  }
});

Deno.test("Supervisor: stop() ends a long-running process and records its pid while it runs", async () => {
  const s = new Supervisor({ name: "t", argv: ["sleep", "30"] }, { log: quiet });
  s.start();
  let pid = 0;
  try {
    await until(() => s.pid !== undefined);
    pid = s.pid!;
    // The pid is known at fork; the command line turns into "sleep" only once exec has happened.
    await until(() => Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("sleep"));
  } finally {
    await s.stop();
  }
  assert.equal(s.pid, undefined);
  assert.equal(s.restarts, 0);
  let alive = true;
  try {
    const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
    alive = !/\) [ZX] /.test(st);
  } catch {
    alive = false;
  }
  assert.equal(alive, false);
});

Deno.test("Supervisor: backoff doubles up to the cap", async () => {
  const s = new Supervisor({ name: "t", argv: ["sh", "-c", "exit 1"] }, {
    backoffMs: 50,
    maxBackoffMs: 100,
    log: quiet,
  });
  const t0 = Date.now();
  s.start();
  try {
    await until(() => s.restarts >= 3);
    // 50 + 100 + 100 ms of waiting at least.
    assert.ok(Date.now() - t0 >= 250, `took ${Date.now() - t0} ms`);
  } finally {
    await s.stop();
  }
});
