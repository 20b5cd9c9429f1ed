/**
 * Crash recovery on a lab node: a churn of pod adds and deletes (4 at a time) while ipamd is SIGKILLed at
 * random moments (the lab's supervisor restarts it) and, in between, aws-cni processes are SIGKILLed in
 * the middle of an ADD. Afterwards: every live pod still owns its address in ipamd and in its namespace,
 * no address is held twice, the pool adds up, EC2 has no leaked ENI, the checkpoint parses and matches;
 * deleting every pod then returns every address. A damaged checkpoint stops ipamd with a clear error (ADDs
 * get code 11) instead of a restart with no assignments that re-issued live pods' addresses. Root only.
 *
 * Fast: 36 pod operations, 3 ipamd kills, 3 aws-cni kills. Soak (`VPC_CNI_SOAK=1`): 200, 20, 20. The
 * add/delete choices and the kill moments come from a seeded Rng: a failure prints the seed, and
 * `VPC_CNI_TEST_SEED=<seed>` makes the same choices again.
 * @module
 */
import assert from "node:assert/strict";
import { fetchStatus } from "../../src/sim/daemon_client.ts";
import { listPodRecords } from "../../src/sim/lab_state.ts";
import type { LabNames } from "../../src/sim/naming.ts";
import { CniPluginError } from "../../src/sim/runtime.ts";
import { podAdd, podDel } from "../../src/sim/runtime_pod.ts";
import { type TestLab, withLab } from "../helpers/lab.ts";
import { until } from "../../harness/poll.ts";
import { rootOnly } from "../helpers/root.ts";
import { type Rng, withSeed } from "../../harness/seed.ts";
import { poolOf, settle, waitIpamdReady } from "./invariants.ts";

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

/** What the churn did, for the assertions and the summary line. */
interface ChurnStats {
  started: number;
  adds: number;
  addErrors: number;
  dels: number;
  delErrors: number;
  ipamdKills: number;
  cniKills: number;
  /** Error messages (numbers blanked) and how often each was seen. */
  errors: Map<string, number>;
}

/** The churn's shared state: the live pods, the pods whose DEL failed, and whether the killer is done. */
class Churn {
  readonly live: string[] = [];
  readonly pendingDel: string[] = [];
  readonly stats: ChurnStats = {
    started: 0,
    adds: 0,
    addErrors: 0,
    dels: 0,
    delErrors: 0,
    ipamdKills: 0,
    cniKills: 0,
    errors: new Map(),
  };
  killerDone = false;
  #seq = 0;
  constructor(readonly names: LabNames, readonly rng: Rng) {}

  note(e: unknown): void {
    const m = String((e as Error).message).replace(/[0-9a-f]{12,}|\d+(\.\d+)+|\d+/g, "#").slice(0, 120);
    this.stats.errors.set(m, (this.stats.errors.get(m) ?? 0) + 1);
  }

  /** One pod add (or, when enough pods live, a delete of a random one); a failure pauses 250 ms. */
  async step(): Promise<void> {
    const { live, stats, names, rng } = this;
    stats.started++;
    if (live.length < 4 || (live.length < MAX_LIVE && rng.next() < 0.7)) {
      const name = `c${this.#seq++}`;
      try {
        await podAdd(names, name);
        live.push(name);
        stats.adds++;
      } catch (e) {
        stats.addErrors++;
        this.note(e);
        await sleep(250); // ipamd is down: back off as a kubelet would
      }
      return;
    }
    const name = live.splice(rng.int(live.length), 1)[0];
    try {
      await podDel(names, name);
      stats.dels++;
    } catch (e) {
      stats.delErrors++;
      this.note(e);
      this.pendingDel.push(name);
      await sleep(250);
    }
  }

  /** A worker: OPS successful operations in all, and on until the killer is done. */
  async worker(): Promise<void> {
    while (this.stats.adds + this.stats.dels < OPS || !this.killerDone) await this.step();
  }

  /** SIGKILLs a running, ready ipamd (kills during its restart would only stack up backoff). */
  async killIpamd(): Promise<void> {
    if (!(await waitIpamdReady(this.names, 0, 120_000).then(() => true, () => false))) return;
    await sleep(this.rng.next() * 500);
    const pid = (await fetchStatus(this.names)).nodes[0].ipamdPid;
    if (!pid) return;
    Deno.kill(pid, "SIGKILL");
    this.stats.ipamdKills++;
  }

  /** SIGKILLs an aws-cni process anywhere in an ADD (start-up, the ipamd call, or the wiring), if one runs. */
  async killCni(): Promise<void> {
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      const pids = awsCniAddPids(this.names);
      if (pids.length) {
        await sleep(this.rng.next() * 150);
        try {
          Deno.kill(pids[0], "SIGKILL");
          this.stats.cniKills++;
        } catch { /* it finished first */ }
        return;
      }
      await sleep(10);
    }
  }

  /** Kills ipamd and aws-cni in turn, at random moments, until both counts are reached (or the deadline). */
  async killer(): Promise<void> {
    const { stats } = this;
    const end = Date.now() + (SOAK ? 1_800_000 : 300_000);
    while ((stats.ipamdKills < IPAMD_KILLS || stats.cniKills < CNI_KILLS) && Date.now() < end) {
      await sleep(300 + this.rng.next() * 1500);
      const ipamdTurn = stats.ipamdKills < IPAMD_KILLS &&
        (stats.cniKills >= CNI_KILLS || stats.ipamdKills <= stats.cniKills);
      await (ipamdTurn ? this.killIpamd() : this.killCni());
    }
    this.killerDone = true;
  }

  summary(seconds: number, livePods: number): string {
    const s = this.stats;
    return `crash: ${s.started} ops in ${seconds} s (${s.adds} adds, ${s.dels} dels ok; ${s.addErrors} add / ` +
      `${s.delErrors} del errors), ${s.ipamdKills} ipamd SIGKILLs, ${s.cniKills} aws-cni SIGKILLs mid-ADD, ` +
      `${livePods} live pods checked, 0 violations\n  errors seen: ${
        JSON.stringify(Object.fromEntries(s.errors))
      }`;
  }
}

/** The churn-and-kill run, then the invariants, then every pod deleted and the pool empty. */
async function crashChurn(lab: TestLab, rng: Rng): Promise<void> {
  const { names } = lab;
  const nodes = [{ index: 0, instanceId: lab.status.nodes[0].instanceId }];
  await waitIpamdReady(names, 0);
  const churn = new Churn(names, rng);
  const t0 = performance.now();
  await Promise.all([churn.killer(), ...Array.from({ length: WORKERS }, () => churn.worker())]);
  await waitIpamdReady(names, 0, 120_000);
  // DEL must succeed once ipamd is back (and even without it): retry the ones that failed.
  for (const name of churn.pendingDel) await podDel(names, name);

  const { stats } = churn;
  const st = await fetchStatus(names);
  assert.ok(st.nodes[0].ipamdRestarts >= stats.ipamdKills, `restarts ${st.nodes[0].ipamdRestarts}`);
  assert.equal(stats.ipamdKills, IPAMD_KILLS);
  assert.ok(stats.cniKills >= Math.min(1, CNI_KILLS), "no aws-cni process was caught mid-ADD");
  assert.ok(stats.adds >= OPS / 2, `only ${stats.adds} adds succeeded`);

  assert.deepEqual(await settle(names, nodes, 90_000), [], "after the crashes");
  assert.deepEqual(await podWiring(lab), []);
  const livePods = listPodRecords(names).length;

  // Everything back: delete every pod; the pool must then hold no address.
  for (const r of listPodRecords(names)) await podDel(names, r.name);
  assert.deepEqual(await settle(names, nodes, 90_000), [], "after deleting every pod");
  assert.equal((await poolOf(names, 0)).totals.assigned, 0);
  console.log(churn.summary(Math.round((performance.now() - t0) / 1000), livePods));
}

Deno.test({
  name: "crash: SIGKILL ipamd and aws-cni during pod churn; nothing lost, nothing doubled, nothing leaked",
  ...rootOnly,
  fn: () =>
    withSeed(
      "crash churn",
      (rng, seed) =>
        withLab({ nodes: 1, instanceType: "m5.xlarge", seed }, async (lab) => {
          await crashChurn(lab, rng);
        }),
    ),
});

Deno.test({
  name: "crash: a corrupt checkpoint stops ipamd with a clear error (code 11 for ADDs), never a reused IP",
  ...rootOnly,
  async fn() {
    await withLab({ nodes: 1 }, async (lab) => {
      const { names } = lab;
      const nodes = [{ index: 0, instanceId: lab.status.nodes[0].instanceId }];
      await waitIpamdReady(names, 0);
      const pods = [];
      for (let i = 0; i < 4; i++) pods.push(await podAdd(names, `k${i}`));
      const good = await Deno.readTextFile(names.backingStore(0));
      // Damage (as a disk would: writes themselves are atomic), then crash.
      await Deno.writeTextFile(names.backingStore(0), good.slice(0, Math.floor(good.length / 2)));
      Deno.kill((await fetchStatus(names)).nodes[0].ipamdPid!, "SIGKILL");
      await until(
        "ipamd to say it refuses the damaged checkpoint",
        async () => (await Deno.readTextFile(names.ipamdLog(0))).includes("refusing to start"),
        120_000,
        200,
      );
      // ADDs fail retryably; nothing hands out the live pods' addresses.
      for (let i = 0; i < 3; i++) {
        const err = await podAdd(names, `z${i}`).then(() => undefined, (e) => e);
        assert.ok(err instanceof CniPluginError, `ADD z${i} succeeded with a damaged checkpoint`);
        assert.equal(err.code, 11, err.message);
      }
      // The operator repairs the file: ipamd comes back with every live pod.
      await Deno.writeTextFile(names.backingStore(0), good);
      await waitIpamdReady(names, 0, 120_000);
      assert.deepEqual(await settle(names, nodes, 90_000), []);
      const fresh = await podAdd(names, "after");
      assert.ok(!pods.some((p) => p.podIp === fresh.podIp), `${fresh.podIp} handed out twice`);
      assert.deepEqual(await settle(names, nodes, 90_000), []);
      console.log(
        `corrupt checkpoint: 4 live pods kept, 3 ADDs refused with code 11, repaired, 0 violations`,
      );
    });
  },
});
