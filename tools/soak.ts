/**
 * `deno task soak`: the long variants of the reliability suites (`tests/reliability/`), with
 * `VPC_CNI_SOAK=1`: ~1200 malformed plugin inputs, ~4000 malformed ipamd requests, 200 pod operations with
 * 20 ipamd and 20 aws-cni SIGKILLs, 4 fault rounds, 5 concurrency rounds. Needs root (kernel namespaces).
 * Extra arguments go to `deno test` (e.g. one file, or `--filter crash`). Ends with one summary line.
 * @module
 */
import { runDenoTest } from "./deno_test.ts";

const args = Deno.args.length ? Deno.args : ["tests/reliability/"];
if (Deno.uid() !== 0) console.log("soak: not root: the reliability suites need root and will be ignored.");
// No colours in the output we pass through.
const { code, counts } = await runDenoTest(args, { VPC_CNI_SOAK: "1", NO_COLOR: "1" });
if (counts) console.log(`soak: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
Deno.exit(code);
