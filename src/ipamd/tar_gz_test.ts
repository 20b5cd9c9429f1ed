import assert from "node:assert/strict";
import { tarBytes, tarGz, untarBytes, untarGz } from "./tar_gz.ts";

const enc = new TextEncoder();

Deno.test("tar.gz: entries round-trip; GNU tar reads what we write", async () => {
  const entries = [
    { name: "index.txt", data: enc.encode("hello\n") },
    { name: "introspection/enis.json", data: enc.encode(JSON.stringify({ a: 1 }).repeat(100)), mode: 0o600 },
    { name: "empty.txt", data: new Uint8Array() },
  ];
  const back = await untarGz(await tarGz(entries));
  assert.deepEqual(
    back.map((e) => [e.name, new TextDecoder().decode(e.data)]),
    entries.map((e) => [
      e.name,
      new TextDecoder().decode(e.data),
    ]),
  );
  assert.equal(back[1].mode, 0o600);
  assert.equal(tarBytes(entries).length % 512, 0);
  const dir = await Deno.makeTempDir({ prefix: "tar-gz-" });
  try {
    await Deno.writeFile(`${dir}/b.tar.gz`, await tarGz(entries));
    const t = await new Deno.Command("tar", { args: ["-tzvf", `${dir}/b.tar.gz`], stdout: "piped" }).output();
    assert.ok(t.success, "GNU tar lists it");
    const listed = new TextDecoder().decode(t.stdout);
    for (const e of entries) assert.match(listed, new RegExp(`\\s${e.name.replace(".", "\\.")}$`, "m"));
    const x = await new Deno.Command("tar", { args: ["-xzf", `${dir}/b.tar.gz`, "-C", dir] }).output();
    assert.ok(x.success);
    assert.equal(await Deno.readTextFile(`${dir}/index.txt`), "hello\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => tarBytes([{ name: "x".repeat(101), data: new Uint8Array() }]), RangeError);
  assert.deepEqual(untarBytes(new Uint8Array(1024)), []);
});
