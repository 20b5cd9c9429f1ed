/**
 * Installs the Debian packages the tests and the lab need, when they are missing and we are root.
 * Prints one line per decision; never prompts.
 */

/**
 * Debian packages the test suite and the lab rely on. Go is not among them: the machines have Go 1.26 at
 * /usr/local/go, and the Go programs (CNI plugins, libcni driver, CRI client) come from the Go module proxy
 * (src/sim/go_build.ts). Nothing here uses Debian's containernetworking-plugins (1.1.1): the lab, the runtimes,
 * the baselines, the install tests and the image use the reference plugins v1.10.0 (src/sim/cni_plugins.ts, the
 * Containerfile's Go stage). apt still installs it as a dependency of podman 4.3 (golang-github-containers-common
 * depends on container-network-stack, which it provides), but no test runs it. containerd (1.6, with its CRI
 * plugin) is the kubelet-facing runtime of tests/runtime_containerd_lab_test.ts.
 */
export const DEBIAN_PACKAGES = [
  "libnl-3-200",
  "libnl-route-3-200",
  "iproute2",
  "iptables",
  "util-linux",
  "procps",
  "curl",
  "podman",
  "containerd",
  "runc",
  "busybox-static",
];

/** The runtimes among them (only their tests need them); the lab and the demo need the rest. */
const RUNTIME_PACKAGES = ["podman", "containerd", "runc"];

/** What the lab and `deno task demo` need: {@link DEBIAN_PACKAGES} but the runtimes. */
export const LAB_PACKAGES: string[] = DEBIAN_PACKAGES.filter((p) => !RUNTIME_PACKAGES.includes(p));

/** Whether this process runs as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

function run(cmd: string[], env: Record<string, string> = {}): { ok: boolean; out: string } {
  const r = new Deno.Command(cmd[0], { args: cmd.slice(1), env, stdout: "piped", stderr: "piped" })
    .outputSync();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Lists which of `pkgs` dpkg does not report as installed. */
export function missingPackages(pkgs: string[] = DEBIAN_PACKAGES): string[] {
  const r = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", ...pkgs]);
  const installed = new Set(
    r.out.split("\n").filter((l) => l.endsWith(" installed")).map((l) => l.split(" ")[0]),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/** Installs missing packages with apt-get (root only). Returns false when something is still missing. */
export function ensureDebianPackages(pkgs: string[] = DEBIAN_PACKAGES): boolean {
  const missing = missingPackages(pkgs);
  if (missing.length === 0) return true;
  if (!isRoot()) {
    console.log(`deps: not root, cannot install: ${missing.join(" ")} (root-only tests will skip)`);
    return false;
  }
  console.log(`deps: installing with apt-get: ${missing.join(" ")}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const upd = run(["apt-get", "update", "-qq"], env);
  if (!upd.ok) console.log(`deps: apt-get update failed:\n${upd.out}`);
  const inst = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing], env);
  if (!inst.ok) {
    console.log(`deps: apt-get install failed:\n${inst.out}`);
    return false;
  }
  return missingPackages(pkgs).length === 0;
}

if (import.meta.main) {
  Deno.exit(ensureDebianPackages() ? 0 : 1);
}
