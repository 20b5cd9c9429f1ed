/**
 * Concurrency on one lab node (m5.4xlarge, 234 pods): 100 ADDs at once through libcni (the Go driver over
 * libcni v1.3, running the node's conflist: aws-cni then portmap), then 50 DELs racing 50 new ADDs,
 * then 100 DELs at once. After each phase: every live attachment has a distinct address, ipamd's datastore
 * holds exactly the live attachments (no more, no less), each pod's eth0 has its address, the pool adds
 * up, the checkpoint matches, EC2 has no leaked ENI; at the end the node has no pod veth or pod rule left.
 * The pool is warmed first (MINIMUM_IP_TARGET=110, WARM_IP_TARGET=60) so that this is about concurrency;
 * growth under load is faults_test's. Root only.
 *
 * Fast: 100 + (50 ∥ 50) + 100. Soak (`VPC_CNI_SOAK=1`): 5 rounds of the same on one lab.
 * @module
 */
import assert from "node:assert/strict";
import { CniError, libcni } from "../../harness/libcni.ts";
import { randomSuffix } from "../../harness/netns.ts";
import { withLab } from "../helpers/lab.ts";
import { rootOnly } from "../helpers/root.ts";
import {
  checkpointMatches,
  describeEnis,
  doubleAssignments,
  eniLeaks,
  poolAccounting,
  poolOf,
  waitIpamdReady,
} from "./invariants.ts";

const SOAK = Deno.env.get("VPC_CNI_SOAK") === "1";
const ROUNDS = SOAK ? 5 : 1;
const N = 100;
const DEADLINE_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One attachment made through libcni. */
interface Att {
  cid: string;
  ns: string;
  ip?: string;
}

async function sh(argv: string[]): Promise<string> {
  const o = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  return new TextDecoder().decode(o.stdout);
}

Deno.test({
  name: "concurrency: 100 parallel ADDs, 50 DELs racing 50 ADDs, 100 DELs: distinct IPs, datastore = live",
  ...rootOnly,
  async fn() {
    await withLab(
      { nodes: 1, instanceType: "m5.4xlarge", ipamdEnv: { MINIMUM_IP_TARGET: "110", WARM_IP_TARGET: "60" } },
      async (lab) => {
        const cacheDir = await Deno.makeTempDir({ prefix: "rel-libcni-cache-" });
        const made: string[] = [];
        const codes = new Map<number, number>();
        const msgs = new Map<string, number>();
        let invocations = 0;
        try {
          await waitIpamdReady(lab.names, 0);
          const node = lab.status.nodes[0];
          // The pool first reaches MINIMUM_IP_TARGET: this suite is about concurrency, faults_test about growth.
          for (const end = Date.now() + 60_000; (await poolOf(lab.names, 0)).totals.free < 110;) {
            if (Date.now() > end) throw new Error("pool never reached 110 free addresses");
            await sleep(250);
          }
          const tag = randomSuffix(4);
          let seq = 0;
          const newAtt = async (): Promise<Att> => {
            const i = seq++;
            // Under the lab's prefix, so `lab down` removes them even if this test dies.
            const ns = `${lab.names.nsPrefix}x${tag}${i}`;
            await sh(["ip", "netns", "add", ns]);
            made.push(ns);
            await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
            return { cid: `rel${tag}c${i}`, ns };
          };
          const opts = (a: Att) => ({
            conflist: lab.names.conflistPath(0),
            binDir: lab.names.binDir,
            netns: `/var/run/netns/${a.ns}`,
            containerId: a.cid,
            args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "rel", K8S_POD_NAME: a.cid, K8S_POD_UID: a.cid },
            cacheDir,
            inNetns: node.netns,
          });
          const add = async (a: Att) => {
            const end = Date.now() + DEADLINE_MS;
            for (let backoff = 250;; backoff = Math.min(2 * backoff, 4000)) {
              invocations++;
              try {
                const r = await libcni<{ ips: { address: string }[] }>("add", opts(a));
                a.ip = r.ips[0].address.split("/")[0];
                return;
              } catch (e) {
                if (!(e instanceof CniError)) throw e;
                codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
                const m = `${e.code} ${e.msg.replace(/\d+/g, "#").slice(0, 100)}`;
                msgs.set(m, (msgs.get(m) ?? 0) + 1);
                // Only "try again later" may be retried; the runtime would DEL first, as here.
                if (e.code !== 11 || Date.now() > end) throw e;
                invocations++;
                await libcni("del", opts(a));
                await sleep(backoff);
              }
            }
          };
          const del = async (a: Att) => {
            invocations++;
            await libcni("del", opts(a));
            a.ip = undefined;
          };

          /** Polls until ipamd's datastore is exactly `live` and every invariant holds. */
          const verify = async (live: Att[], phase: string) => {
            const ips = live.map((a) => a.ip);
            assert.equal(new Set(ips).size, live.length, `${phase}: an address was handed out twice`);
            const want = new Map(live.map((a) => [a.cid, a.ip!]));
            const end = Date.now() + 90_000;
            let problems: string[] = [];
            while (true) {
              const pool = await poolOf(lab.names, 0);
              const got = new Map(pool.pods.map((p) => [p.containerId, p.ip]));
              problems = [
                ...doubleAssignments(pool),
                ...poolAccounting(pool),
                ...checkpointMatches(lab.names, 0, pool),
                ...eniLeaks(await describeEnis(lab.names), [{ instanceId: node.instanceId, pool }]),
              ];
              for (const [cid, ip] of want) {
                if (got.get(cid) !== ip) problems.push(`${cid}: ipamd has ${got.get(cid)}, ADD gave ${ip}`);
              }
              for (const [cid, ip] of got) {
                if (!want.has(cid)) problems.push(`ipamd holds ${ip} for gone ${cid}`);
              }
              if (problems.length === 0 || Date.now() > end) break;
              await sleep(500);
            }
            assert.deepEqual(problems, [], phase);
            for (const a of live) {
              const o = await lab.inNetns(a.ns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
              assert.match(
                o.stdout,
                new RegExp(`inet ${a.ip!.replaceAll(".", "\\.")}/32`),
                `${phase}: ${a.cid}`,
              );
            }
          };

          const t0 = performance.now();
          for (let round = 0; round < ROUNDS; round++) {
            // Phase 1: 100 ADDs at once.
            const first = await Promise.all(Array.from({ length: N }, newAtt));
            await Promise.all(first.map(add));
            await verify(first, `round ${round}: after ${N} parallel ADDs`);

            // Phase 2: 50 DELs racing 50 new ADDs.
            const second = await Promise.all(Array.from({ length: N / 2 }, newAtt));
            const gone = first.slice(0, N / 2);
            await Promise.all([...gone.map(del), ...second.map(add)]);
            const live = [...first.slice(N / 2), ...second];
            await verify(live, `round ${round}: after ${N / 2} DELs ∥ ${N / 2} ADDs`);

            // Phase 3: every DEL at once.
            await Promise.all(live.map(del));
            await verify([], `round ${round}: after ${N} parallel DELs`);
            const links = await lab.inNode(0, ["ip", "-o", "link", "show", "type", "veth"]);
            assert.deepEqual(
              links.stdout.split("\n").filter((l) => /: eni[0-9a-f]{11}@/.test(l)),
              [],
              "pod veths left",
            );
            const rules = await lab.inNode(0, ["ip", "rule", "show"]);
            assert.deepEqual(
              rules.stdout.split("\n").filter((l) => /^(512|1536):/.test(l)),
              [],
              "pod rules left",
            );
            for (const ns of made.splice(0)) await sh(["ip", "netns", "del", ns]);
          }
          console.log(
            `concurrency: ${ROUNDS} round(s) of ${N} ∥ ADD, ${N / 2} DEL ∥ ${N / 2} ADD, ${N} ∥ DEL: ` +
              `${invocations} libcni runs in ${Math.round((performance.now() - t0) / 1000)} s, CNI errors ` +
              `${
                JSON.stringify(Object.fromEntries(codes))
              }; 0 double assignments, datastore = live each phase` +
              (msgs.size ? `\n  retried: ${JSON.stringify(Object.fromEntries(msgs))}` : ""),
          );
        } finally {
          for (const ns of made) await sh(["ip", "netns", "del", ns]).catch(() => {});
          await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
        }
      },
    );
  },
});
