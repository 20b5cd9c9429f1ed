/**
 * Files that land whole: a temp file in the same directory, written, fsynced, chmodded, renamed, and the
 * directory fsynced. A reader (a kubelet, a runtime) sees the old file or the whole new one, never part of it;
 * a write killed halfway leaves a `.<name>.tmp-xxxxxxxx` that {@link removeStaleTemps} clears.
 * @module
 */

/** The directory part of a path. */
export function dirOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/** The last part of a path. */
export function baseOf(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

function tempName(dest: string): string {
  return `${dirOf(dest)}/.${baseOf(dest)}.tmp-${crypto.randomUUID().slice(0, 8)}`;
}

async function finish(file: Deno.FsFile, tmp: string, dest: string, mode: number): Promise<void> {
  try {
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, dest);
  // Make the rename itself durable.
  try {
    const d = await Deno.open(dirOf(dest), { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* some filesystems refuse fsync on a directory */ }
}

/**
 * Copies `src` to `dest` through a temp file in dest's directory (written, fsynced, chmodded, renamed), so
 * `dest` is either the old file or the whole new one. `src` is read as a stream (a FIFO works). On failure
 * the temp file is removed and `dest` is untouched.
 */
/**
 * Writes `dest` through a temp file in its directory: `fill` writes the temp file, then {@link finish}. On
 * failure the temp file is removed and `dest` is untouched.
 */
async function throughTemp(
  dest: string,
  mode: number,
  fill: (out: Deno.FsFile) => Promise<void>,
): Promise<void> {
  const tmp = tempName(dest);
  const out = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    await fill(out);
    await finish(out, tmp, dest, mode);
  } catch (e) {
    try {
      out.close();
    } catch { /* closed by finish */ }
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

async function writeAll(out: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await out.write(bytes.subarray(off));
}

/**
 * Copies `src` to `dest` through a temp file in dest's directory (written, fsynced, chmodded, renamed), so
 * `dest` is either the old file or the whole new one. `src` is read as a stream (a FIFO works). On failure
 * the temp file is removed and `dest` is untouched.
 */
export function atomicCopy(src: string, dest: string, mode = 0o755): Promise<void> {
  return throughTemp(dest, mode, async (out) => {
    const input = await Deno.open(src, { read: true });
    try {
      const buf = new Uint8Array(1 << 16);
      for (;;) {
        const n = await input.read(buf);
        if (n === null) break;
        await writeAll(out, buf.subarray(0, n));
      }
    } finally {
      input.close();
    }
  });
}

/** Writes `data` to `dest` atomically (temp file in the same dir, fsync, chmod, rename). */
export function atomicWrite(dest: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return throughTemp(dest, mode, (out) => writeAll(out, bytes));
}

/** Removes temp files a killed install left in `dir` (`.<name>.tmp-*`); returns their names. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const gone: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /^\..+\.tmp-[0-9a-f]{8}$/.test(e.name)) {
        await Deno.remove(`${dir}/${e.name}`).catch(() => {});
        gone.push(e.name);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return gone;
}
