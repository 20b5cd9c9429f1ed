/**
 * Builds, before the tests run, every Go program they use, into the shared build cache (src/sim/go_build.ts):
 * the CNI reference plugins, the libcni driver, the CRI client, the client-go conformance program and the
 * aws-sdk-go-v2 client. A second run finds them all and builds nothing.
 * @module
 */
import { ensureCniPlugins } from "../src/sim/cni_plugins.ts";
import { buildCacheDir, ensureGoProgram } from "../src/sim/go_build.ts";
import { buildDriver } from "../harness/libcni.ts";
import { ensureKubeProtobuf } from "../src/sim/k8s_protobuf.ts";
import { AWS_SDK_GO_V2, buildClientGo } from "../harness/go_clients.ts";
import { buildCriClient } from "../harness/containerd.ts";

/** Builds what is missing, printing one line per program; false (after printing why) when a build failed. */
export async function prepareGoPrograms(): Promise<boolean> {
  const t0 = performance.now();
  const say = (what: string, built: boolean, path: string) =>
    console.log(`go: ${what} ${built ? "built" : "cached"}: ${path}`);
  try {
    const plugins = await ensureCniPlugins((l) => console.log(`go: ${l}`));
    say("CNI plugins", plugins.built, plugins.dir);
    const driver = await buildDriver();
    say("libcni driver", driver.built, driver.path);
    const cri = await buildCriClient();
    say("CRI client", cri.built, cri.path);
    const protobuf = await ensureKubeProtobuf();
    say("lab protobuf decoder", protobuf.built, protobuf.path);
    const clientGo = await buildClientGo();
    say("client-go conformance", clientGo.built, clientGo.path);
    const awsGo = await ensureGoProgram(AWS_SDK_GO_V2);
    say("aws-sdk-go-v2 client", awsGo.built, awsGo.path);
  } catch (e) {
    console.log(`go: ${(e as Error).message}`);
    return false;
  }
  console.log(`go: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (cache ${buildCacheDir()})`);
  return true;
}
