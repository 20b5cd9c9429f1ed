import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  fromCheckpoint,
  readCheckpoint,
  toCheckpoint,
  writeCheckpoint,
  writeCheckpointSync,
} from "./checkpoint.ts";
import type { Assignment } from "./datastore.ts";

const a1: Assignment = {
  netName: "aws-cni",
  containerId: "abc123",
  ifName: "eth0",
  ip: "10.0.0.11",
  eniId: "eni-0",
  assignedAt: 1_700_000_000_000,
  meta: { k8sPodNamespace: "default", k8sPodName: "web-1", k8sPodUid: "uid-1", netns: "/var/run/netns/x" },
};
const a2: Assignment = { ...a1, containerId: "def456", ip: "10.0.0.12", meta: {} };

Deno.test("toCheckpoint: upstream's field names plus ours", () => {
  assert.deepEqual(toCheckpoint([a1, a2]), {
    version: "vpc-cni-ipam/1",
    allocations: [
      {
        networkName: "aws-cni",
        containerID: "abc123",
        ifName: "eth0",
        ipv4: "10.0.0.11",
        allocationTimestamp: 1_700_000_000_000,
        metadata: { k8sPodNamespace: "default", k8sPodName: "web-1" },
        eniId: "eni-0",
        netns: "/var/run/netns/x",
        k8sPodUid: "uid-1",
      },
      {
        networkName: "aws-cni",
        containerID: "def456",
        ifName: "eth0",
        ipv4: "10.0.0.12",
        allocationTimestamp: 1_700_000_000_000,
        metadata: {},
        eniId: "eni-0",
      },
    ],
  });
});

Deno.test("fromCheckpoint: reads upstream's own file (no extension fields)", () => {
  const upstream = {
    version: "vpc-cni-ipam/1",
    allocations: [{
      networkName: "aws-cni",
      containerID: "abc",
      ifName: "eth0",
      ipv4: "10.0.5.6",
      allocationTimestamp: 1,
      metadata: { k8sPodNamespace: "kube-system", k8sPodName: "coredns-1" },
    }],
  };
  assert.deepEqual(fromCheckpoint(upstream), [{
    netName: "aws-cni",
    containerId: "abc",
    ifName: "eth0",
    ip: "10.0.5.6",
    eniId: "",
    assignedAt: 1,
    meta: { k8sPodNamespace: "kube-system", k8sPodName: "coredns-1" },
  }]);
});

Deno.test("fromCheckpoint ∘ toCheckpoint is the identity (property)", () => {
  const str = fc.string({ minLength: 1, maxLength: 12 });
  const assignment = fc.record({
    netName: str,
    containerId: str,
    ifName: str,
    ip: fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.0.${a}.${b}`),
    eniId: fc.constantFrom("eni-0", "eni-1"),
    assignedAt: fc.nat(),
    meta: fc.record({ k8sPodNamespace: str, k8sPodName: str, k8sPodUid: str, netns: str }, {
      requiredKeys: [],
    }),
  });
  fc.assert(
    fc.property(fc.uniqueArray(assignment, { selector: (a) => a.ip, maxLength: 20 }), (as) => {
      const json = JSON.parse(JSON.stringify(toCheckpoint(as)));
      assert.deepEqual(fromCheckpoint(json), JSON.parse(JSON.stringify(as)));
    }),
    { numRuns: 200 },
  );
});

Deno.test("fromCheckpoint: names what is wrong", () => {
  const good = toCheckpoint([a1]);
  const bad = (mut: (d: Record<string, unknown>) => void, re: RegExp) => {
    const d = structuredClone(good) as unknown as Record<string, unknown>;
    mut(d);
    assert.throws(
      () => fromCheckpoint(d),
      (e: unknown) => e instanceof CheckpointError && re.test(e.message),
    );
  };
  const alloc = (d: Record<string, unknown>) => (d.allocations as Record<string, unknown>[])[0];
  assert.throws(() => fromCheckpoint(null), /JSON object/);
  assert.throws(() => fromCheckpoint([]), /JSON object/);
  bad((d) => d.version = "vpc-cni-ipam/2", /version is "vpc-cni-ipam\/2", expected "vpc-cni-ipam\/1"/);
  bad((d) => delete d.version, /version is undefined/);
  bad((d) => d.allocations = {}, /allocations is not an array/);
  bad((d) => alloc(d).ipv4 = "10.0.0.256", /allocations\[0\]\.ipv4 "10\.0\.0\.256" is not an IPv4 address/);
  bad((d) => delete alloc(d).containerID, /allocations\[0\]\.containerID must be a non-empty string/);
  bad((d) => alloc(d).allocationTimestamp = "x", /allocationTimestamp must be a number/);
  bad((d) => alloc(d).metadata = 3, /metadata must be an object/);
  bad((d) => alloc(d).metadata = { k8sPodName: 1 }, /metadata\.k8sPodName must be a string/);
  bad((d) => alloc(d).eniId = 7, /allocations\[0\]\.eniId must be a string/);
  bad(
    (d) => (d.allocations as unknown[]).push({ ...alloc(d), containerID: "other" }),
    /allocations\[1\]\.ipv4 10\.0\.0\.11 is also allocated by allocations\[0\]/,
  );
  bad((d) => (d.allocations as unknown[]).push(5), /allocations\[1\] is not an object/);
});

Deno.test("write/readCheckpoint: round trip, mode 0600, absent → undefined", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ipam.json`;
    assert.equal(await readCheckpoint(path), undefined);
    const d = toCheckpoint([a1, a2]);
    await writeCheckpoint(path, d);
    assert.deepEqual(await readCheckpoint(path), d);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const d2 = toCheckpoint([a2]);
    writeCheckpointSync(path, d2);
    assert.deepEqual(await readCheckpoint(path), d2);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["ipam.json"], "no temp files left behind");
    assert.equal(JSON.parse(await Deno.readTextFile(path)).version, CHECKPOINT_VERSION);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCheckpoint: corrupt JSON and wrong versions are CheckpointErrors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ipam.json`;
    await Deno.writeTextFile(path, '{"version":"vpc-cni-ipam/1","allocations":[');
    await assert.rejects(readCheckpoint(path), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /not valid JSON/);
      assert.ok(e.message.includes(path));
      return true;
    });
    await Deno.writeTextFile(path, '{"version":"v0","allocations":[]}');
    await assert.rejects(readCheckpoint(path), /version is "v0"/);
    await Deno.writeTextFile(path, "");
    await assert.rejects(readCheckpoint(path), CheckpointError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeCheckpoint: a crash that leaves only a temp file does not touch the old checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ipam.json`;
    const old = toCheckpoint([a1]);
    await writeCheckpoint(path, old);
    // A writer that died mid-write: a half temp file beside the checkpoint.
    await Deno.writeTextFile(`${path}.tmp-99999-1`, '{"version":"vpc-cni-ipam/1","alloc');
    assert.deepEqual(await readCheckpoint(path), old);
    // The next write still replaces the checkpoint atomically.
    await writeCheckpoint(path, toCheckpoint([a2]));
    assert.deepEqual(await readCheckpoint(path), toCheckpoint([a2]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeCheckpoint: a failed write leaves the old checkpoint and no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ipam.json`;
    const old = toCheckpoint([a1]);
    await writeCheckpoint(path, old);
    // Renaming a file over a non-empty directory fails: the target path is a directory here.
    const blocked = `${dir}/blocked`;
    await Deno.mkdir(`${blocked}/x`, { recursive: true });
    await assert.rejects(writeCheckpoint(blocked, old));
    assert.throws(() => writeCheckpointSync(blocked, old));
    assert.deepEqual(await readCheckpoint(path), old);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["blocked", "ipam.json"], "temp files are cleaned up on failure");
    await assert.rejects(writeCheckpoint(`${dir}/missing/ipam.json`, old), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: an IPv6 allocation is stored as ipv6 (no ipv4), as upstream's CheckpointEntry", () => {
  const v6: Assignment = { ...a2, containerId: "v6pod", ip: "2600:1f14:6b0:d801:a4b2::3" };
  const data = toCheckpoint([v6]);
  const [c] = data.allocations;
  assert.equal(c.ipv6, "2600:1f14:6b0:d801:a4b2::3");
  assert.ok(!("ipv4" in c));
  assert.deepEqual(fromCheckpoint(JSON.parse(JSON.stringify(data))), [v6]);
  // Any text form reads back canonical; a duplicate in another form is caught.
  const long = { ...c, ipv6: "2600:1f14:06b0:d801:a4b2:0:0:0003" };
  assert.equal(fromCheckpoint({ version: CHECKPOINT_VERSION, allocations: [long] })[0].ip, v6.ip);
  assert.throws(
    () => fromCheckpoint({ version: CHECKPOINT_VERSION, allocations: [c, { ...long, containerID: "x" }] }),
    /allocations\[1\]\.ipv6 .* is also allocated by allocations\[0\]/,
  );
  assert.throws(
    () => fromCheckpoint({ version: CHECKPOINT_VERSION, allocations: [{ ...c, ipv6: "2600::g" }] }),
    /allocations\[0\]\.ipv6 "2600::g" is not an IPv6 address/,
  );
  assert.throws(
    () => fromCheckpoint({ version: CHECKPOINT_VERSION, allocations: [{ ...c, ipv4: "10.0.0.1" }] }),
    /both ipv4 and ipv6/,
  );
});
