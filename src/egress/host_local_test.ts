import assert from "node:assert/strict";
import { parseRange } from "./conf.ts";
import { HostLocalStore } from "./host_local.ts";

const range = parseRange({ ranges: [[{ subnet: "169.254.172.0/30" }]] }); // .1 (gateway) and .2 usable

async function withStore(fn: (s: HostLocalStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "egress-ipam-" });
  try {
    await fn(new HostLocalStore(dir, "aws-cni"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("host-local layout: <ip> holds id\\r\\nifname, last_reserved_ip.0, gateway skipped, exhaustion named", () =>
  withStore(async (s, dir) => {
    assert.equal(await s.reserve(range, "a", "eth0"), "169.254.172.2");
    assert.equal(Deno.readTextFileSync(`${dir}/aws-cni/169.254.172.2`), "a\r\neth0");
    assert.equal(Deno.readTextFileSync(`${dir}/aws-cni/last_reserved_ip.0`), "169.254.172.2");
    assert.equal(
      await s.reserve(range, "a", "eth0"),
      "169.254.172.2",
      "the same attachment keeps its address",
    );
    await assert.rejects(
      () => s.reserve(range, "b", "eth0"),
      /no free address in 169\.254\.172\.1-169\.254\.172\.2/,
    );
    assert.deepEqual(await s.release("a", "eth0"), ["169.254.172.2"]);
    assert.deepEqual(await s.release("a", "eth0"), []);
    assert.equal(await s.reserve(range, "b", "eth0"), "169.254.172.2");
  }));

Deno.test("allocation continues after the last reserved address and wraps; a bare-id file (old host-local) releases", () =>
  withStore(async (s, dir) => {
    const r = parseRange({ ranges: [[{ subnet: "169.254.172.0/22" }]] });
    assert.deepEqual([r.rangeStart, r.rangeEnd, r.gateway], [
      "169.254.172.1",
      "169.254.175.254",
      "169.254.172.1",
    ]);
    assert.equal(await s.reserve(r, "a", "eth0"), "169.254.172.2");
    assert.equal(await s.reserve(r, "b", "eth0"), "169.254.172.3");
    await s.release("a", "eth0");
    assert.equal(await s.reserve(r, "c", "eth0"), "169.254.172.4", "not the freshly released .2");
    Deno.writeTextFileSync(`${dir}/aws-cni/last_reserved_ip.0`, "169.254.175.254");
    assert.equal(
      await s.reserve(r, "d", "eth0"),
      "169.254.172.2",
      "wraps to the start, skipping the gateway",
    );
    Deno.writeTextFileSync(`${dir}/aws-cni/169.254.173.9`, "legacy");
    assert.deepEqual(await s.release("legacy", "eth0"), ["169.254.173.9"]);
    assert.deepEqual((await s.list()).map((x) => x.containerId), ["d", "b", "c"]);
  }));

Deno.test("reservations from parallel processes (flock on <dir>/lock) never share an address", () =>
  withStore(async (s) => {
    const dataDir = s.dir.replace(/\/aws-cni$/, "");
    const mod = new URL("./host_local.ts", import.meta.url).href;
    const conf = new URL("./conf.ts", import.meta.url).href;
    const procs = Array.from({ length: 6 }, (_, p) => {
      const code = `import { HostLocalStore } from ${JSON.stringify(mod)};
        import { parseRange } from ${JSON.stringify(conf)};
        const r = parseRange({ ranges: [[{ subnet: "169.254.172.0/22" }]] });
        const st = new HostLocalStore(${JSON.stringify(dataDir)}, "aws-cni");
        const out = [];
        for (let i = 0; i < 5; i++) out.push(await st.reserve(r, "p${p}-" + i, "eth0"));
        console.log(JSON.stringify(out));`;
      return new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped", stderr: "piped" })
        .output();
    });
    const got = (await Promise.all(procs)).flatMap((o) => {
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
      return JSON.parse(new TextDecoder().decode(o.stdout)) as string[];
    });
    assert.equal(got.length, 30);
    assert.equal(new Set(got).size, 30, `duplicates in ${got}`);
    assert.equal((await s.list()).length, 30);
  }));
