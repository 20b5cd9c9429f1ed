import assert from "node:assert/strict";
import { Logger } from "./log.ts";

Deno.test("logger: JSON lines, level filter, base fields, directory made, rotation to .1", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/a/b/plugin.log`;
    const l = new Logger(file, "info", { cmd: "ADD" }, 200);
    l.debug("no");
    l.info("yes", { n: 1 });
    l.error("bad");
    const lines = Deno.readTextFileSync(file).trim().split("\n").map((x) => JSON.parse(x));
    assert.deepEqual(lines.map((x) => [x.level, x.msg, x.cmd]), [["info", "yes", "ADD"], [
      "error",
      "bad",
      "ADD",
    ]]);
    assert.equal(lines[0].n, 1);
    assert.ok(!Number.isNaN(Date.parse(lines[0].ts)));
    // the next run finds the file over the limit: it becomes plugin.log.1
    Deno.writeTextFileSync(file, "x".repeat(300), { append: true });
    const before = Deno.readTextFileSync(file);
    new Logger(file, "debug", {}, 200).info("fresh");
    assert.equal(Deno.readTextFileSync(file + ".1"), before);
    assert.equal(JSON.parse(Deno.readTextFileSync(file)).msg, "fresh");
    // empty file name drops everything; an unwritable path is swallowed
    new Logger("", "debug").error("dropped");
    new Logger("/proc/nope/x.log", "debug").error("swallowed");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
