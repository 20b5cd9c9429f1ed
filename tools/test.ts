/**
 * `deno task test`: installs what the tests need (apt, as root; the Go programs into the build cache), then
 * runs every test with `deno test`, and closes with one plain summary line `N passed, N failed, N skipped`.
 * Extra arguments go to `deno test` (e.g. a file or `--filter`).
 */
import { runDenoTest } from "./deno_test.ts";
import { ensureDebianPackages, isRoot } from "./deps.ts";
import { prepareGoPrograms } from "./go_programs.ts";

if (!isRoot()) {
  console.log("test: not root: the tests that need kernel namespaces, netlink and iptables will skip.");
}
ensureDebianPackages();
if (isRoot() && !await prepareGoPrograms()) {
  console.log("test: the Go programs the tests run could not be built (above); not running the tests.");
  Deno.exit(1);
}

const args = Deno.args.length ? Deno.args : ["ffi/", "src/", "harness/", "tests/"];
const { code, counts } = await runDenoTest(args);
if (counts) console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
Deno.exit(code);
