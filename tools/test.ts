/**
 * `deno task test`: installs what the tests need (apt, as root), then runs every test with `deno test`,
 * and closes with one plain summary line `N passed, N failed, N skipped`.
 * Extra arguments go to `deno test` (e.g. a file or `--filter`).
 */
import { ensureDebianPackages, isRoot } from "./deps.ts";

if (!isRoot()) {
  console.log("test: not root: the tests that need kernel namespaces, netlink and iptables will skip.");
}
ensureDebianPackages();

const args = Deno.args.length ? Deno.args : ["ffi/", "src/", "tests/"];
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check=remote", ...args],
  stdout: "piped",
  stderr: "inherit",
}).spawn();

let tail = "";
const dec = new TextDecoder();
for await (const chunk of child.stdout) {
  const text = dec.decode(chunk, { stream: true });
  await Deno.stdout.write(chunk);
  tail = (tail + text).slice(-4000);
}
const status = await child.status;
// deno test ends with: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (1s)"
const clean = tail.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
const m = clean.match(/(\d+) passed.*?\| (\d+) failed(?: \| (\d+) ignored)?/);
if (m) console.log(`${m[1]} passed, ${m[2]} failed, ${m[3] ?? 0} skipped`);
Deno.exit(status.code);
