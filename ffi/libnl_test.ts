import assert from "node:assert/strict";
import { libnlCandidates, loadLibnl } from "./libnl.ts";

const modUrl = new URL("./mod.ts", import.meta.url).href;

function evalScript(code: string, env: Record<string, string> = {}) {
  const o = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout).trim(), err: d.decode(o.stderr) };
}

Deno.test("importing ffi/mod.ts loads no library until the first use", () => {
  const r = evalScript(
    `const m = await import(${JSON.stringify(modUrl)});
     const before = m.libnlLoaded();
     m.Netns.current().close();
     const afterNetns = m.libnlLoaded();
     let opened = false;
     try { m.Netlink.open().close(); opened = true; } catch { /* no libnl: fine */ }
     console.log(JSON.stringify([before, afterNetns, opened ? m.libnlLoaded() : true]));`,
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), [false, false, true]);
});

Deno.test("library search order: $VPC_CNI_LIBNL_DIR, system sonames, beside the executable", () => {
  const before = Deno.env.get("VPC_CNI_LIBNL_DIR");
  try {
    Deno.env.set("VPC_CNI_LIBNL_DIR", "/opt/x");
    const c = libnlCandidates();
    assert.deepEqual(c[0], ["/opt/x", "/opt/x/libnl-3.so.200", "/opt/x/libnl-route-3.so.200"]);
    assert.deepEqual(c[1], ["system", "libnl-3.so.200", "libnl-route-3.so.200"]);
    const dir = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
    assert.equal(c[2][0], `${dir}/aws-cni-lib`);
    Deno.env.delete("VPC_CNI_LIBNL_DIR");
    assert.equal(libnlCandidates()[0][0], "system");
  } finally {
    if (before === undefined) Deno.env.delete("VPC_CNI_LIBNL_DIR");
    else Deno.env.set("VPC_CNI_LIBNL_DIR", before);
  }
});

Deno.test("a bad $VPC_CNI_LIBNL_DIR falls back to the system sonames", () => {
  const r = evalScript(
    `const m = await import(${JSON.stringify(modUrl)});
     m.Netlink.open().close(); console.log("ok");`,
    { VPC_CNI_LIBNL_DIR: "/nonexistent-libnl-dir" },
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "ok");
});

Deno.test("when no candidate loads, the error names every place tried", () => {
  assert.throws(
    () =>
      loadLibnl([
        ["/nope/a", "/nope/a/libnl-3.so.200", "/nope/a/libnl-route-3.so.200"],
        ["/nope/b", "/nope/b/libnl-3.so.200", "/nope/b/libnl-route-3.so.200"],
      ]),
    (e: Error) => {
      assert.match(e.message, /cannot load libnl \(libnl-3\.so\.200 \+ libnl-route-3\.so\.200\)/);
      assert.match(e.message, /\/nope\/a: .*\/nope\/a\/libnl-3\.so\.200/);
      assert.match(e.message, /\/nope\/b: /);
      assert.match(e.message, /VPC_CNI_LIBNL_DIR/);
      return true;
    },
  );
  // a directory holding libnl-3 but not libnl-route-3 is skipped too
  const l = loadLibnl([
    ["half", "libnl-3.so.200", "/nope/libnl-route-3.so.200"],
    ["system", "libnl-3.so.200", "libnl-route-3.so.200"],
  ]);
  assert.equal(l.from, "system");
});

Deno.test("symbols are bound lazily: slow calls first, a fast Deno.dlopen binding once hot", () => {
  const r = evalScript(
    `const m = await import(${JSON.stringify(new URL("./libnl.ts", import.meta.url).href)});
     const lib = m.loadLibnl(m.libnlCandidates(), 3);
     const before = m.libnlFastBound();
     const first = lib.rt.rtnl_link_alloc;
     const out = [];
     for (let i = 0; i < 4; i++) {
       const l = lib.rt.rtnl_link_alloc();
       lib.rt.rtnl_link_set_mtu(l, 1400 + i);
       out.push(lib.rt.rtnl_link_get_mtu(l));
       lib.rt.rtnl_link_put(l);
     }
     const hot = m.libnlFastBound();
     const replaced = lib.rt.rtnl_link_alloc !== first;
     const eager = m.loadLibnl(m.libnlCandidates(), 0);
     const sk = eager.nl.nl_socket_alloc();
     eager.nl.nl_socket_free(sk);
     console.log(JSON.stringify({ before, out, hot, replaced, fast: m.libnlFastBound().includes("nl_socket_alloc") }));`,
  );
  assert.equal(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  assert.deepEqual(o.before, []);
  assert.deepEqual(o.out, [1400, 1401, 1402, 1403]);
  assert.deepEqual(o.hot, ["rtnl_link_alloc", "rtnl_link_get_mtu", "rtnl_link_put", "rtnl_link_set_mtu"]);
  assert.equal(o.replaced, true);
  assert.equal(o.fast, true);
});

Deno.test("a library lacking a symbol is skipped like one that does not load", () => {
  assert.throws(
    () => loadLibnl([["libc", "libc.so.6", "libc.so.6"]]),
    (e: Error) => {
      assert.match(e.message, /libc: .*undefined symbol: nl_socket_alloc/);
      return true;
    },
  );
});

Deno.test("opening a socket and one lookup bind no symbol with Deno.dlopen (no per-run binding cost)", () => {
  const r = evalScript(
    `const m = await import(${JSON.stringify(modUrl)});
     const l = await import(${JSON.stringify(new URL("./libnl.ts", import.meta.url).href)});
     let ok = false;
     try { const nl = m.Netlink.open(); ok = nl.findLink("lo") !== undefined; nl.close(); } catch { /* no libnl */ }
     console.log(JSON.stringify({ ok, fast: l.libnlFastBound() }));`,
  );
  assert.equal(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  if (o.ok) assert.deepEqual(o.fast, []);
});
