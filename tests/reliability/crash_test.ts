/**
 * Crash recovery on a lab node: a churn of pod adds and deletes (4 at a time) while ipamd is SIGKILLed at
 * random moments (the lab's supervisor restarts it) and, in between, aws-cni processes are SIGKILLed in
 * the middle of an ADD. Afterwards: every live pod still owns its address in ipamd and in its namespace,
 * no address is held twice, the pool adds up, EC2 has no leaked ENI, the checkpoint parses and matches;
 * deleting every pod then returns every address. A damaged checkpoint stops ipamd with a clear error (ADDs
 * get code 11) instead of a restart with no assignments that re-issued live pods' addresses. Root only.
 *
 * Fast: 36 pod operations, 3 ipamd kills, 3 aws-cni kills. Soak (`VPC_CNI_SOAK=1`): 200, 20, 20.
 * @module
 */
import assert from "node:assert/strict";
import { fetchStatus } from "../../src/sim/daemon_client.ts";
import { listPodRecords } from "../../src/sim/lab_state.ts";
import type { LabNames } from "../../src/sim/naming.ts";
import { CniPluginError } from "../../src/sim/runtime.ts";
import { podAdd, podDel } from "../../src/sim/runtime_pod.ts";
import { type TestLab, withLab } from "../helpers/lab.ts";
import { rootOnly } from "../helpers/root.ts";
import { closeIpamdClients, poolOf, settle, waitIpamdReady } from "./invariants.ts";

const SOAK = Deno.env.get("VPC_CNI_SOAK") === "1";
const OPS = SOAK ? 200 : 36;
const IPAMD_KILLS = SOAK ? 20 : 3;
const CNI_KILLS = SOAK ? 20 : 3;
const WORKERS = 4;
const MAX_LIVE = 24;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of aws-cni processes of this lab running an ADD (found by their CNI_* environment). */
export function awsCniAddPids(names: LabNames): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (!cmd.includes("src/cni/main.ts") && !cmd.includes("aws-cni")) continue;
      const env = Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0");
      if (
        env.includes("CNI_COMMAND=ADD") && env.some((v) => v.startsWith(`CNI_NETNS=/run/netns/${names.id}-p`))
      ) {
        out.push(Number(e.name));
      }
    } catch { /* exited */ }
  }
  return out;
}

/** Problems with the pods' own namespaces: each has eth0 with exactly its recorded address. */
export async function podWiring(lab: TestLab): Promise<string[]> {
  const out: string[] = [];
  for (const r of listPodRecords(lab.names)) {
    const a = await lab.inNetns(r.netns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    const ips = [...a.stdout.matchAll(/inet (\S+)\//g)].map((m) => m[1]);
    if (ips.length !== 1 || ips[0] !== r.podIp) {
      out.push(`pod ${r.name}: eth0 has [${ips}], record says ${r.podIp}`);
    }
  }
  return out;
}

Deno.test({
  name: "crash: SIGKILL ipamd and aws-cni during pod churn; nothing lost, nothing doubled, nothing leaked",
  ...rootOnly,
  async fn() {
    await withLab({ nodes: 1, instanceType: "m5.xlarge" }, async (lab) => {
      const { names } = lab;
      const nodes = [{ index: 0, instanceId: lab.status.nodes[0].instanceId }];
      try {
        await waitIpamdReady(names, 0);
        const live: string[] = [];
        const stats = { adds: 0, addErrors: 0, dels: 0, delErrors: 0, ipamdKills: 0, cniKills: 0 };
        const errors = new Map<string, number>();
        const pendingDel: string[] = [];
        let started = 0;
        let seq = 0;
        let killerDone = false;
        const note = (e: unknown) => {
          const m = String((e as Error).message).replace(/[0-9a-f]{12,}|\d+(\.\d+)+|\d+/g, "#").slice(0, 120);
          errors.set(m, (errors.get(m) ?? 0) + 1);
        };

        const worker = async () => {
          // OPS successful operations; a failed one (ipamd down) is retried after a pause.
          while (stats.adds + stats.dels < OPS || !killerDone) {
            started++;
            if (live.length < 4 || (live.length < MAX_LIVE && Math.random() < 0.7)) {
              const name = `c${seq++}`;
              try {
                await podAdd(names, name);
                live.push(name);
                stats.adds++;
              } catch (e) {
                stats.addErrors++;
                note(e);
                await sleep(250);
              }
            } else {
              const name = live.splice(Math.floor(Math.random() * live.length), 1)[0];
              try {
                await podDel(names, name);
                stats.dels++;
              } catch (e) {
                stats.delErrors++;
                note(e);
                pendingDel.push(name);
                await sleep(250);
              }
            }
          }
        };

        const killer = async () => {
          const t0 = Date.now();
          while (stats.ipamdKills < IPAMD_KILLS || stats.cniKills < CNI_KILLS) {
            await sleep(300 + Math.random() * 1500);
            if (Date.now() - t0 > (SOAK ? 900_000 : 120_000)) break;
            const killIpamd = stats.ipamdKills < IPAMD_KILLS &&
              (stats.cniKills >= CNI_KILLS || stats.ipamdKills <= stats.cniKills);
            if (killIpamd) {
              // Only a running, ready ipamd: kills during its restart would only stack up backoff.
              if (!(await waitIpamdReady(names, 0, 60_000).then(() => true, () => false))) continue;
              await sleep(Math.random() * 500);
              const pid = (await fetchStatus(names)).nodes[0].ipamdPid;
              if (!pid) continue;
              Deno.kill(pid, "SIGKILL");
              stats.ipamdKills++;
            } else {
              const end = Date.now() + 3000;
              while (Date.now() < end) {
                const pids = awsCniAddPids(names);
                if (pids.length) {
                  // Anywhere in the ADD: start-up, the ipamd call, or the wiring.
                  await sleep(Math.random() * 150);
                  try {
                    Deno.kill(pids[0], "SIGKILL");
                    stats.cniKills++;
                  } catch { /* it finished first */ }
                  break;
                }
                await sleep(10);
              }
            }
          }
          killerDone = true;
        };

        const t0 = performance.now();
        await Promise.all([killer(), ...Array.from({ length: WORKERS }, worker)]);
        await waitIpamdReady(names, 0, 60_000);
        // DEL must succeed once ipamd is back (and even without it): retry the ones that failed.
        for (const name of pendingDel) await podDel(names, name);

        const st = await fetchStatus(names);
        assert.ok(st.nodes[0].ipamdRestarts >= stats.ipamdKills, `restarts ${st.nodes[0].ipamdRestarts}`);
        assert.equal(stats.ipamdKills, IPAMD_KILLS);
        assert.ok(stats.cniKills >= Math.min(1, CNI_KILLS), "no aws-cni process was caught mid-ADD");
        assert.ok(stats.adds >= OPS / 2, `only ${stats.adds} adds succeeded`);

        const violations = await settle(names, nodes, 45_000);
        assert.deepEqual(violations, [], "after the crashes");
        assert.deepEqual(await podWiring(lab), []);
        const livePods = listPodRecords(names).length;

        // Everything back: delete every pod; the pool must then hold no address.
        for (const r of listPodRecords(names)) await podDel(names, r.name);
        assert.deepEqual(await settle(names, nodes, 45_000), [], "after deleting every pod");
        assert.equal((await poolOf(names, 0)).totals.assigned, 0);

        console.log(
          `crash: ${started} ops in ${Math.round((performance.now() - t0) / 1000)} s (${stats.adds} adds, ` +
            `${stats.dels} dels ok; ${stats.addErrors} add / ${stats.delErrors} del errors), ` +
            `${stats.ipamdKills} ipamd SIGKILLs, ${stats.cniKills} aws-cni SIGKILLs mid-ADD, ${livePods} live pods ` +
            `checked, 0 violations\n  errors seen: ${JSON.stringify(Object.fromEntries(errors))}`,
        );
      } finally {
        closeIpamdClients();
      }
    });
  },
});

Deno.test({
  name: "crash: a corrupt checkpoint stops ipamd with a clear error (code 11 for ADDs), never a reused IP",
  ...rootOnly,
  async fn() {
    await withLab({ nodes: 1 }, async (lab) => {
      const { names } = lab;
      const nodes = [{ index: 0, instanceId: lab.status.nodes[0].instanceId }];
      try {
        await waitIpamdReady(names, 0);
        const pods = [];
        for (let i = 0; i < 4; i++) pods.push(await podAdd(names, `k${i}`));
        const good = await Deno.readTextFile(names.backingStore(0));
        // Damage (as a disk would: writes themselves are atomic), then crash.
        await Deno.writeTextFile(names.backingStore(0), good.slice(0, Math.floor(good.length / 2)));
        Deno.kill((await fetchStatus(names)).nodes[0].ipamdPid!, "SIGKILL");
        const end = Date.now() + 15_000;
        while (!(await Deno.readTextFile(names.ipamdLog(0))).includes("refusing to start")) {
          if (Date.now() > end) throw new Error("ipamd never said it refuses the damaged checkpoint");
          await sleep(200);
        }
        // ADDs fail retryably; nothing hands out the live pods' addresses.
        for (let i = 0; i < 3; i++) {
          const err = await podAdd(names, `z${i}`).then(() => undefined, (e) => e);
          assert.ok(err instanceof CniPluginError, `ADD z${i} succeeded with a damaged checkpoint`);
          assert.equal(err.code, 11, err.message);
        }
        // The operator repairs the file: ipamd comes back with every live pod.
        await Deno.writeTextFile(names.backingStore(0), good);
        await waitIpamdReady(names, 0, 60_000);
        assert.deepEqual(await settle(names, nodes, 30_000), []);
        const fresh = await podAdd(names, "after");
        assert.ok(!pods.some((p) => p.podIp === fresh.podIp), `${fresh.podIp} handed out twice`);
        assert.deepEqual(await settle(names, nodes, 30_000), []);
        console.log(
          `corrupt checkpoint: 4 live pods kept, 3 ADDs refused with code 11, repaired, 0 violations`,
        );
      } finally {
        closeIpamdClients();
      }
    });
  },
});
