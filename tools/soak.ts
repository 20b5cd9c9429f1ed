/**
 * `deno task soak`: the long variants of the reliability suites (`tests/reliability/`), with
 * `VPC_CNI_SOAK=1`: ~1200 malformed plugin inputs, ~4000 malformed ipamd requests, 200 pod operations with
 * 20 ipamd and 20 aws-cni SIGKILLs, 4 fault rounds, 5 concurrency rounds. Needs root (kernel namespaces).
 * Extra arguments go to `deno test` (e.g. one file, or `--filter crash`). Ends with one summary line.
 * @module
 */

const args = Deno.args.length ? Deno.args : ["tests/reliability/"];
if (Deno.uid() !== 0) console.log("soak: not root: the reliability suites need root and will be ignored.");
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check=remote", ...args],
  // No colours: the summary line is matched below.
  env: { VPC_CNI_SOAK: "1", NO_COLOR: "1" },
  stdout: "piped",
  stderr: "inherit",
}).spawn();

let tail = "";
const dec = new TextDecoder();
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + dec.decode(chunk, { stream: true })).slice(-4000);
}
const status = await child.status;
const m = tail.match(/(\d+) passed.*?\| (\d+) failed(?: \| (\d+) ignored)?/);
if (m) console.log(`soak: ${m[1]} passed, ${m[2]} failed, ${m[3] ?? 0} skipped`);
Deno.exit(status.code);
