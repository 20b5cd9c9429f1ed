/**
 * `deno task test`: installs what the tests need (apt, as root), then runs every test with `deno test`,
 * and closes with one plain summary line `N passed, N failed, N skipped`.
 * Extra arguments go to `deno test` (e.g. a file or `--filter`).
 */
import { runDenoTest } from "./deno_test.ts";
import { ensureDebianPackages, isRoot } from "./deps.ts";

if (!isRoot()) {
  console.log("test: not root: the tests that need kernel namespaces, netlink and iptables will skip.");
}
ensureDebianPackages();

const args = Deno.args.length ? Deno.args : ["ffi/", "src/", "tests/"];
const { code, counts } = await runDenoTest(args);
if (counts) console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
Deno.exit(code);
