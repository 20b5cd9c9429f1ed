/**
 * A tar.gz writer and reader for small archives of regular files (POSIX ustar, gzip through the platform's
 * CompressionStream). Enough for `ipamd support-bundle` and its tests; no npm package. Pure but for gzip.
 * @module
 */

const BLOCK = 512;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** One regular file: its path in the archive (at most 100 bytes, `/`-separated) and its bytes. */
export interface TarEntry {
  name: string;
  data: Uint8Array;
  /** Permission bits (default 0o644). */
  mode?: number;
  /** Seconds since the epoch (default 0). */
  mtime?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(e: TarEntry): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const name = enc.encode(e.name);
  if (name.length === 0 || name.length > 100) throw new RangeError(`tar: name of 1 to 100 bytes: ${e.name}`);
  h.set(name, 0);
  h.set(enc.encode(octal(e.mode ?? 0o644, 8)), 100);
  h.set(enc.encode(octal(0, 8)), 108); // uid
  h.set(enc.encode(octal(0, 8)), 116); // gid
  h.set(enc.encode(octal(e.data.length, 12)), 124);
  h.set(enc.encode(octal(Math.floor(e.mtime ?? 0), 12)), 136);
  h.set(enc.encode("        "), 148); // checksum counted as spaces
  h[156] = "0".charCodeAt(0); // regular file
  h.set(enc.encode("ustar\0"), 257);
  h.set(enc.encode("00"), 263);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(enc.encode(octal(sum, 7) + " "), 148);
  return h;
}

/** The tar bytes (uncompressed) of `entries`, with the two zero blocks that end an archive. */
export function tarBytes(entries: TarEntry[]): Uint8Array {
  const size = entries.reduce((n, e) => n + BLOCK + Math.ceil(e.data.length / BLOCK) * BLOCK, 2 * BLOCK);
  const out = new Uint8Array(size);
  let off = 0;
  for (const e of entries) {
    out.set(header(e), off);
    off += BLOCK;
    out.set(e.data, off);
    off += Math.ceil(e.data.length / BLOCK) * BLOCK;
  }
  return out;
}

/** The entries of an uncompressed tar (regular files only; anything else is skipped). */
export function untarBytes(tar: Uint8Array): TarEntry[] {
  const out: TarEntry[] = [];
  for (let off = 0; off + BLOCK <= tar.length;) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const field = (at: number, len: number) => dec.decode(h.subarray(at, at + len)).replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12).trim() || "0", 8);
    const data = tar.slice(off + BLOCK, off + BLOCK + size);
    if (h[156] === 0 || h[156] === "0".charCodeAt(0)) {
      out.push({ name: field(0, 100), data, mode: parseInt(field(100, 8).trim() || "0", 8) });
    }
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

async function pipe(bytes: Uint8Array, t: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const body = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(t);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** A .tar.gz of `entries`. */
export function tarGz(entries: TarEntry[]): Promise<Uint8Array> {
  return pipe(tarBytes(entries), new CompressionStream("gzip"));
}

/** The entries of a .tar.gz. */
export async function untarGz(bytes: Uint8Array): Promise<TarEntry[]> {
  return untarBytes(await pipe(bytes, new DecompressionStream("gzip")));
}
