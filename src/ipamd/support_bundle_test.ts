import assert from "node:assert/strict";
import { redactedEnv, scrub } from "./support_bundle.ts";

Deno.test("support bundle: credentials redacted by name, and their values scrubbed from any text", () => {
  const env = {
    AWS_SECRET_ACCESS_KEY: "s3cr3t-value-1234",
    AWS_SESSION_TOKEN: "tok-0123456789",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE0000",
    MY_NODE_NAME: "node-0",
    SHORT_TOKEN: "abc",
  };
  assert.equal(
    redactedEnv(env),
    "AWS_ACCESS_KEY_ID=[redacted]\nAWS_SECRET_ACCESS_KEY=[redacted]\nAWS_SESSION_TOKEN=[redacted]\n" +
      "MY_NODE_NAME=node-0\nSHORT_TOKEN=[redacted]\n",
  );
  assert.equal(
    scrub("key s3cr3t-value-1234 and tok-0123456789 on node-0 (abc)", env),
    "key [redacted] and [redacted] on node-0 (abc)",
  );
});
