import assert from "node:assert/strict";
import { Logger } from "./log.ts";

Deno.test("Logger: JSON lines at or above the level; secrets redacted; errors as text", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/ipamd.log`;
    const log = new Logger("info", path, { component: "ipamd" });
    log.debug("hidden");
    log.info("hello", { token: "s3cr3t", Authorization: "Bearer x", eniId: "eni-1" });
    log.error("boom", { err: new RangeError("bad") });
    log.close();
    const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].msg, "hello");
    assert.equal(lines[0].level, "info");
    assert.equal(lines[0].component, "ipamd");
    assert.equal(lines[0].token, "[redacted]");
    assert.equal(lines[0].Authorization, "[redacted]");
    assert.equal(lines[0].eniId, "eni-1");
    assert.ok(!JSON.stringify(lines).includes("s3cr3t"));
    assert.equal(lines[1].err, "RangeError: bad");
    assert.ok(!Number.isNaN(Date.parse(lines[1].ts)));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
