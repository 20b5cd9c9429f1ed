/**
 * The host-side veth name of a pod, shared by the plugin (which creates it) and ipamd (which looks for it
 * on restart). Synchronous and dependency-free (no `node:crypto`: the plugin stays off the Node layer).
 * @module
 */

/** SHA-1 of a UTF-8 string, as 40 lowercase hex digits. */
export function sha1Hex(text: string): string {
  const msg = new TextEncoder().encode(text);
  const len = ((msg.length + 8) >> 6) + 1 << 6; // padded length: a multiple of 64 with room for 0x80 + length
  const buf = new Uint8Array(len);
  buf.set(msg);
  buf[msg.length] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(len - 8, Math.floor(msg.length / 0x20000000));
  dv.setUint32(len - 4, (msg.length * 8) >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  for (let off = 0; off < len; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      const [f, k] = i < 20
        ? [(b & c) | (~b & d), 0x5a827999]
        : i < 40
        ? [b ^ c ^ d, 0x6ed9eba1]
        : i < 60
        ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc]
        : [b ^ c ^ d, 0xca62c1d6];
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h[0] = (h[0] + a) >>> 0;
    h[1] = (h[1] + b) >>> 0;
    h[2] = (h[2] + c) >>> 0;
    h[3] = (h[3] + d) >>> 0;
    h[4] = (h[4] + e) >>> 0;
  }
  return h.map((x) => x.toString(16).padStart(8, "0")).join("");
}

/** Host veth name of a pod: prefix + 11 hex of sha1("<ns>.<pod>"), or of the container ID when unknown. */
export function hostVethName(
  prefix: string,
  pod: { namespace?: string; name?: string; containerId: string },
): string {
  const id = pod.namespace && pod.name ? `${pod.namespace}.${pod.name}` : pod.containerId;
  return prefix + sha1Hex(id).slice(0, 11);
}
