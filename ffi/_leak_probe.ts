/**
 * Leak probe run by leak_test.ts in a child process (`--v8-flags=--expose-gc`, so JS
 * garbage can be collected before each measurement): many netlink operations inside the
 * namespace given as argument (then the rounds per phase), printing the growth of the
 * measured phase as JSON {ops, rssKiB, heapBytes}.
 *
 * @module
 */

import { Netlink } from "./netlink.ts";
import { NetlinkError } from "./errors.ts";

const libc = Deno.dlopen(
  "libc.so.6",
  {
    mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
  } as const,
);

/** Bytes malloc has handed out and not got back (glibc mallinfo2 uordblks + hblkhd). */
function mallocInUse(): number {
  const v = new BigUint64Array(libc.symbols.mallinfo2().buffer);
  return Number(v[7] + v[4]);
}

function rssKiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) : 0;
}

const v8gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
/** Collect JS garbage, and let the background sweeper release ArrayBuffer backing stores. */
async function gc() {
  for (let k = 0; k < 3; k++) {
    v8gc();
    await new Promise((r) => setTimeout(r, 30));
  }
}

const [ns, roundsArg] = Deno.args;
const rounds = Number(roundsArg ?? 700);
using nl = Netlink.open(ns);
nl.vethAdd({ name: "lk0", peerName: "lk1", mac: "02:00:00:00:00:10" });
const i = nl.linkByName("lk0").index;
nl.linkSetUp(i);
nl.linkSetUp("lk1");
nl.addrAdd(i, "10.70.0.1/24");
let ops = 0;
const round = (n: number) => {
  for (let k = 0; k < n; k++) {
    nl.addrAdd(i, "10.70.1.1/32");
    nl.addrDel(i, "10.70.1.1/32");
    nl.routeAdd({ dst: "10.71.0.0/16", gateway: "10.70.0.2", ifindex: i, table: 9, src: "10.70.0.1" });
    nl.routeReplace({ dst: "10.71.0.0/16", gateway: "10.70.0.3", ifindex: i, table: 9 });
    nl.routeDel({ dst: "10.71.0.0/16", table: 9 });
    nl.ruleAdd({ priority: 700, src: "10.70.1.1/32", fwmark: 1, iif: "lk0", table: 9 });
    nl.ruleDel({ priority: 700, src: "10.70.1.1/32", fwmark: 1, iif: "lk0", table: 9 });
    nl.neighAdd({ ifindex: i, ip: "10.70.0.9", mac: "02:00:00:00:00:99" });
    nl.linkSetMac(i, "02:00:00:00:00:10");
    nl.linkList();
    nl.linkByName("lk0");
    nl.addrList(i);
    nl.routeList({ table: 0 });
    nl.ruleList();
    nl.neighList(i);
    try {
      nl.routeDel({ dst: "10.71.0.0/16", table: 9 });
    } catch (e) {
      if (!(e instanceof NetlinkError && e.notFound)) throw e;
    }
    ops += 16;
  }
  for (let k = 0; k < n; k++) Netlink.open(ns).close();
  ops += n;
};

// Warm-up: allocator arenas, JIT, V8 heap growth; the first full phase still settles
// (about 5 MiB RSS, 280 KiB malloc). Then two identical measured phases: a leak grows
// malloc's in-use count in both, while one-off runtime allocations (a 256 KiB buffer
// now and then) hit one at most, so the smaller growth is reported.
round(200);
round(rounds);
await gc();
const rss0 = rssKiB();
const heap: number[] = [];
ops = 0;
for (let phase = 0; phase < 2; phase++) {
  const h0 = mallocInUse();
  round(rounds / 2);
  await gc();
  heap.push(mallocInUse() - h0);
}
console.log(JSON.stringify({ ops, rssKiB: rssKiB() - rss0, heapBytes: Math.min(...heap), heapPhases: heap }));
