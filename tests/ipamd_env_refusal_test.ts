/**
 * `ipamd run` and `ipamd install` refuse, before touching anything, an upstream variable whose value promises
 * what vpc-cni does not do, and say which variable and why; upstream's defaults start as usual.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../src/ipamd/main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

async function ipamd(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ipamd-refusal-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, MAIN, ...args],
      env: {
        MY_NODE_NAME: "n",
        AWS_VPC_K8S_CNI_LOG_FILE: `${dir}/ipamd.log`,
        IPAMD_SOCKET: `${dir}/ipamd.sock`,
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [name, value, why] of [
    ["ENABLE_POD_ENI", "true", /security groups for pods/],
    ["NETWORK_POLICY_ENFORCING_MODE", "strict", /no policy agent/],
    ["ADDITIONAL_ENI_TAGS", '{"node.k8s.amazonaws.com/no_manage":"true"}', /reserved key/],
  ] as const
) {
  Deno.test(`ipamd run refuses ${name}=${value} at start-up, naming it`, async () => {
    const r = await ipamd(["run"], { [name]: value });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^ipamd: ${name}=`, "m"));
    assert.match(r.stderr, why);
  });
}

Deno.test("ipamd install --init refuses ENABLE_MULTI_NIC=true before copying anything", async () => {
  const bin = await Deno.makeTempDir({ prefix: "ipamd-refusal-bin-" });
  try {
    const r = await ipamd(["install", "--init", "--cni-bin-dir", bin, "--no-sysctls"], {
      ENABLE_MULTI_NIC: "true",
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /ENABLE_MULTI_NIC="true": .*network card 0/);
    assert.deepEqual([...Deno.readDirSync(bin)], [], "nothing installed");
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
