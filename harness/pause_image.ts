/**
 * The pod sandbox ("pause") image for runtimes that cannot pull: an OCI image archive built here, with one
 * layer holding Debian's busybox-static as `/bin/busybox`, whose entrypoint sleeps forever. `ctr images import`
 * reads it.
 * @module
 */

/** The image's name (`io.containerd.image.name`). */
export const PAUSE_IMAGE = "localhost/vpc-cni/pause:busybox";

const dec = new TextDecoder();

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function tar(args: string[]): Promise<void> {
  const out = await new Deno.Command("tar", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`tar ${args.join(" ")}: ${dec.decode(out.stderr)}`);
}

/** The OCI architecture name of this machine. */
function ociArch(): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch] ??
    Deno.build.arch;
}

/** Writes the image archive to `path` (a tar of an OCI image layout); `work` is a scratch dir it empties. */
export async function writePauseImage(path: string, work: string): Promise<void> {
  await Deno.mkdir(`${work}/rootfs/bin`, { recursive: true });
  await Deno.mkdir(`${work}/layout/blobs/sha256`, { recursive: true });
  await Deno.copyFile("/bin/busybox", `${work}/rootfs/bin/busybox`);
  await Deno.chmod(`${work}/rootfs/bin/busybox`, 0o755);
  await tar([
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "-C",
    `${work}/rootfs`,
    "-cf",
    `${work}/layer.tar`,
    "bin",
  ]);
  const blob = async (data: Uint8Array<ArrayBuffer>, mediaType: string) => {
    const hex = await sha256(data);
    await Deno.writeFile(`${work}/layout/blobs/sha256/${hex}`, data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };
  const layer = await blob(
    await Deno.readFile(`${work}/layer.tar`),
    "application/vnd.oci.image.layer.v1.tar",
  );
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const config = await blob(
    json({
      architecture: ociArch(),
      os: "linux",
      config: { Entrypoint: ["/bin/busybox", "sleep", "2147483647"] },
      rootfs: { type: "layers", diff_ids: [layer.digest] },
    }),
    "application/vnd.oci.image.config.v1+json",
  );
  const manifest = await blob(
    json({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config,
      layers: [layer],
    }),
    "application/vnd.oci.image.manifest.v1+json",
  );
  const ref = { "io.containerd.image.name": PAUSE_IMAGE, "org.opencontainers.image.ref.name": "busybox" };
  await Deno.writeTextFile(
    `${work}/layout/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, platform: { architecture: ociArch(), os: "linux" }, annotations: ref }],
    }),
  );
  await Deno.writeTextFile(`${work}/layout/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await tar(["-C", `${work}/layout`, "-cf", path, "oci-layout", "index.json", "blobs"]);
}
