/**
 * `manifests/iam-policy.json` grants exactly the EC2 actions the code sends: derived from the `*Command`
 * classes `src/aws/ec2_sdk.ts` sends and from the `Ec2Port` methods, compared both ways.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
// deno-lint-ignore no-explicit-any -- parsed JSON
type Obj = any;

const policy: Obj = JSON.parse(await Deno.readTextFile(`${ROOT}manifests/iam-policy.json`));

function granted(): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const st of policy.Statement) {
    assert.equal(st.Effect, "Allow");
    assert.equal(st.Condition, undefined);
    for (const a of [st.Action].flat()) {
      assert.match(a, /^ec2:[A-Z][A-Za-z0-9]+$/, `no wildcards: ${a}`);
      assert.ok(!out.has(a.slice(4)), `${a} granted twice`);
      out.set(a.slice(4), st);
    }
  }
  return out;
}

/** Actions whose `*Command` the SDK adapter constructs (`new XCommand(`), checked against its imports. */
async function sentBySdk(): Promise<Set<string>> {
  const src = await Deno.readTextFile(`${ROOT}src/aws/ec2_sdk.ts`);
  const sent = new Set([...src.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]));
  const imported = src.match(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/client-ec2"/)![1];
  const importedCommands = new Set([...imported.matchAll(/\b(\w+)Command\b/g)].map((m) => m[1]));
  importedCommands.delete("EC2Client"); // not a command, should it ever match
  assert.deepEqual([...sent].sort(), [...importedCommands].sort(), "every imported command is sent and v.v.");
  return sent;
}

/** `Ec2Port` method names in PascalCase (EC2's action names). */
async function portActions(): Promise<Set<string>> {
  const src = await Deno.readTextFile(`${ROOT}src/aws/ec2_port.ts`);
  const body = src.slice(src.indexOf("export interface Ec2Port"));
  const end = body.indexOf("\n}\n");
  const methods = [...body.slice(0, end).matchAll(/^\s{2}(\w+)\(/gm)].map((m) => m[1]);
  return new Set(methods.map((m) => m[0].toUpperCase() + m.slice(1)));
}

Deno.test("IAM policy: the EC2 actions are exactly those the SDK adapter sends", async () => {
  const sent = await sentBySdk();
  assert.ok(sent.size >= 10 && sent.has("CreateNetworkInterface"), "the scan finds the commands");
  const have = granted();
  assert.deepEqual([...sent].filter((a) => !have.has(a)).sort(), [], "sent but not granted");
  assert.deepEqual([...have.keys()].filter((a) => !sent.has(a)).sort(), [], "granted but never sent");
});

Deno.test("IAM policy: the Ec2Port and the SDK adapter name the same actions", async () => {
  assert.deepEqual([...(await portActions())].sort(), [...(await sentBySdk())].sort());
});

Deno.test("IAM policy: tagging is limited to ENIs, and allowed because ENIs are created with tags", async () => {
  const src = await Deno.readTextFile(`${ROOT}src/aws/ec2_sdk.ts`);
  // Tag-on-create (TagSpecifications) needs ec2:CreateTags on the created resource.
  assert.match(src, /CreateNetworkInterfaceCommand\(\{[\s\S]*?TagSpecifications/);
  const st = granted().get("CreateTags");
  assert.deepEqual([st.Action].flat(), ["ec2:CreateTags"], "CreateTags has its own statement");
  assert.deepEqual([st.Resource].flat(), ["arn:aws:ec2:*:*:network-interface/*"]);
  assert.equal(policy.Version, "2012-10-17");
});
