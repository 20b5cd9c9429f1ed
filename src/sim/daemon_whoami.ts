/**
 * The internet namespace's "whoami" service: a TCP listener created inside that namespace (the socket stays
 * there), answering every connection with the peer address it saw, so SNAT is visible. It speaks HTTP/1.0
 * when the client sends a request line, else writes one plain line (`nc`). The IPv4 one listens on 0.0.0.0
 * (IPv4 only); a dual-stack lab adds one on the internet host's IPv6 address.
 */
import { Netns, withNetns } from "../../ffi/mod.ts";

/** A running whoami service. */
export interface Whoami {
  readonly port: number;
  close(): void;
}

async function answer(conn: Deno.TcpConn): Promise<void> {
  const peer = conn.remoteAddr.hostname;
  const buf = new Uint8Array(4096);
  let first = "";
  const timer = setTimeout(() => {
    // A silent client (`nc`) gets the plain answer.
    conn.write(new TextEncoder().encode(`${peer}\n`)).finally(() => conn.close()).catch(() => {});
  }, 300);
  try {
    const n = await conn.read(buf);
    clearTimeout(timer);
    first = n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
    const body = `${peer}\n`;
    const out = /^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(first)
      ? `HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`
      : body;
    await conn.write(new TextEncoder().encode(out));
    conn.close();
  } catch {
    clearTimeout(timer);
  }
}

/** Listens on `hostname`:`port` (default 0.0.0.0, IPv4 only) inside the named namespace. */
export function startWhoami(nsName: string, port: number, hostname = "0.0.0.0"): Whoami {
  const ns = Netns.open(nsName);
  let listener: Deno.TcpListener;
  try {
    listener = withNetns(ns, () => Deno.listen({ hostname, port, transport: "tcp" }));
  } finally {
    ns.close();
  }
  (async () => {
    try {
      for await (const conn of listener) answer(conn).catch(() => {});
    } catch { /* closed */ }
  })();
  return {
    port,
    close() {
      try {
        listener.close();
      } catch { /* closed */ }
    },
  };
}
