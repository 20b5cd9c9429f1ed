/**
 * Debian's kubectl (package `kubernetes-client`, 1.20.x) for the client suites: `apt-get download`ed and
 * unpacked into the test cache (`<cache>/kubernetes-client/<version>/`), never installed, so it cannot clash
 * with another kubectl on the machine. A second run finds it there.
 * @module
 */
import { join } from "node:path";
import { buildCacheDir, present, withBuildLock } from "../../src/sim/go_build.ts";

/** The Debian package. */
export const KUBECTL_PACKAGE = "kubernetes-client";

function run(cmd: string, args: string[], cwd?: string): { ok: boolean; out: string } {
  const r = new Deno.Command(cmd, {
    args,
    cwd,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** The candidate version apt offers (e.g. `1.20.5+really1.20.2-1.1+deb12u1`). */
function candidateVersion(): string | undefined {
  const r = run("apt-cache", ["policy", KUBECTL_PACKAGE]);
  const m = /Candidate:\s*(\S+)/.exec(r.out);
  return m && m[1] !== "(none)" ? m[1] : undefined;
}

/** Path of Debian's kubectl, downloading and unpacking the package first when the cache lacks it. */
export async function ensureKubectl(): Promise<string> {
  let version = candidateVersion();
  if (!version) {
    run("apt-get", ["update", "-qq"]);
    version = candidateVersion();
  }
  if (!version) {
    throw new Error(`apt has no ${KUBECTL_PACKAGE} package (apt-cache policy ${KUBECTL_PACKAGE})`);
  }
  const root = join(buildCacheDir(), KUBECTL_PACKAGE, version.replaceAll(/[^A-Za-z0-9.+-]/g, "_"));
  const kubectl = join(root, "usr", "bin", "kubectl");
  if (await present(kubectl)) return kubectl;
  return await withBuildLock(KUBECTL_PACKAGE, async () => {
    if (await present(kubectl)) return kubectl;
    const tmp = await Deno.makeTempDir({ prefix: "kubectl-deb-" });
    try {
      let dl = run("apt-get", ["download", `${KUBECTL_PACKAGE}=${version}`], tmp);
      if (!dl.ok) {
        run("apt-get", ["update", "-qq"]);
        dl = run("apt-get", ["download", `${KUBECTL_PACKAGE}=${version}`], tmp);
      }
      if (!dl.ok) throw new Error(`apt-get download ${KUBECTL_PACKAGE} failed:\n${dl.out}`);
      const deb = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".deb"));
      if (!deb) throw new Error(`apt-get download ${KUBECTL_PACKAGE}: no .deb in ${tmp}`);
      const unpack = join(tmp, "root");
      const x = run("dpkg-deb", ["-x", join(tmp, deb.name), unpack]);
      if (!x.ok) throw new Error(`dpkg-deb -x ${deb.name} failed:\n${x.out}`);
      await Deno.mkdir(join(root, ".."), { recursive: true });
      await Deno.remove(root, { recursive: true }).catch(() => {});
      await Deno.rename(unpack, root);
      return kubectl;
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  });
}
