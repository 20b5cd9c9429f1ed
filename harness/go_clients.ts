/**
 * The independent Go clients the tests run against the lab — the client-go conformance program
 * (`tests/clients/client_go/`, client-go v0.35.x) and the aws-sdk-go-v2 client (`tests/clients/aws_sdk_go_v2/`) —
 * as programs of the shared Go build cache (src/sim/go_build.ts). tools/go_programs.ts builds them before the
 * tests run; the tests find them built.
 * @module
 */
import { ensureGoProgram, type GoProgram } from "../src/sim/go_build.ts";

/** The client-go conformance program (main.go, go.mod, go.sum). */
export const CLIENT_GO: GoProgram = {
  name: "client-go-conformance",
  dir: new URL("../tests/clients/client_go/", import.meta.url).pathname,
};

/** The aws-sdk-go-v2 client. */
export const AWS_SDK_GO_V2: GoProgram = {
  name: "aws-sdk-go-v2-client",
  dir: new URL("../tests/clients/aws_sdk_go_v2/", import.meta.url).pathname,
};

let building: Promise<{ path: string; built: boolean }> | undefined;

/** Builds the client-go program unless the cache has this build; `built` says whether it was built now. */
export function buildClientGo(): Promise<{ path: string; built: boolean }> {
  building ??= ensureGoProgram(CLIENT_GO).catch((e) => {
    building = undefined;
    throw e;
  });
  return building;
}
