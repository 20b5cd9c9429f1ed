/**
 * AWS credential settings for a test that runs an SDK in this process: {@linkcode useAwsCredentials} sets
 * static keys (an IAM user's) or points the default chain at an IMDS, clearing every other credential
 * source, and returns a function that restores the environment. Never leaves the SDK to look for IMDS at
 * 169.254.169.254 outside a namespace the test made.
 * @module
 */

const CREDENTIAL_VARS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_EC2_METADATA_DISABLED",
];

/** What the default chain should find. */
export type AwsCredentialSource =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { imdsEndpoint: string };

/** Sets `source` as the only credentials the SDK's default chain can find; returns the restorer. */
export function useAwsCredentials(source: AwsCredentialSource): () => void {
  const saved = new Map(CREDENTIAL_VARS.map((k) => [k, Deno.env.get(k)]));
  for (const k of CREDENTIAL_VARS) Deno.env.delete(k);
  Deno.env.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
  Deno.env.set("AWS_CONFIG_FILE", "/dev/null");
  if ("imdsEndpoint" in source) {
    Deno.env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", source.imdsEndpoint);
  } else {
    Deno.env.set("AWS_EC2_METADATA_DISABLED", "true");
    Deno.env.set("AWS_ACCESS_KEY_ID", source.accessKeyId);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", source.secretAccessKey);
    if (source.sessionToken) Deno.env.set("AWS_SESSION_TOKEN", source.sessionToken);
  }
  return () => {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  };
}
