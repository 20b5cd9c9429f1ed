import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { Netns, withNetns } from "./netns.ts";
import { run, threadNetnsInode, uniq, withTempNetns } from "./_test_util.ts";

Deno.test({
  name: "Netns.current is the thread's namespace; open by name and path",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using cur = Netns.current();
      assert.ok(cur.fd >= 0);
      assert.equal(cur.inode, threadNetnsInode());
      using byName = Netns.open(a);
      using byPath = Netns.open(`/var/run/netns/${a}`);
      assert.equal(byName.path, `/var/run/netns/${a}`);
      assert.equal(byName.inode, byPath.inode);
      assert.notEqual(byName.inode, cur.inode);
      byName.close();
      byName.close(); // idempotent
      assert.equal(byName.fd, -1);
    }),
});

Deno.test({
  name: "Netns.open of a missing namespace throws NotFound",
  ...rootOnly,
  fn: () => {
    assert.throws(() => Netns.open(uniq("nonexist")), Deno.errors.NotFound);
    assert.throws(() => Netns.open(""), TypeError);
  },
});

Deno.test({
  name: "withNetns switches the thread and always switches back (also on throw)",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      const before = threadNetnsInode();
      using ns = Netns.open(a);
      const inside = withNetns(ns, () => threadNetnsInode());
      assert.equal(inside, ns.inode);
      assert.notEqual(inside, before);
      assert.equal(threadNetnsInode(), before);
      assert.throws(() =>
        withNetns(ns, () => {
          throw new RangeError("boom");
        }), RangeError);
      assert.equal(threadNetnsInode(), before);
      // nested
      const nested = withNetns(ns, () => {
        using root = Netns.open(`/proc/self/fd/${ns.fd}`);
        return withNetns(root, () => threadNetnsInode());
      });
      assert.equal(nested, ns.inode);
      assert.equal(threadNetnsInode(), before);
      // async fn is refused, thread still restored
      assert.throws(() => withNetns(ns, () => Promise.resolve(1)), TypeError);
      assert.equal(threadNetnsInode(), before);
      // what the thread sees inside (/proc/net is the thread-group leader's view: use thread-self)
      const dev = withNetns(ns, () => Deno.readTextFileSync("/proc/thread-self/net/dev"));
      assert.match(dev, /\blo:/);
      assert.doesNotMatch(dev, /\beth0:/);
    }),
});

Deno.test({
  name: "withNetns refuses a closed handle",
  ...rootOnly,
  fn: () => {
    const ns = Netns.current();
    ns.close();
    assert.throws(() => withNetns(ns, () => 1), /closed/);
  },
});

Deno.test({
  name: "Netns.create/remove work like ip netns add/del, leaving the thread where it was",
  ...rootOnly,
  fn: () => {
    const name = uniq("tffic");
    const before = threadNetnsInode();
    let created = false;
    try {
      using ns = Netns.create(name);
      created = true;
      assert.equal(threadNetnsInode(), before);
      assert.notEqual(ns.inode, before);
      assert.equal(ns.path, `/var/run/netns/${name}`);
      assert.match(run("ip", "netns", "list").stdout, new RegExp(`^${name}\\b`, "m"));
      // ip netns exec enters the same namespace
      const r = run("ip", "netns", "exec", name, "stat", "-L", "-c", "%i", "/proc/self/ns/net");
      assert.equal(Number(r.stdout.trim()), ns.inode);
      assert.throws(() => Netns.create(name), Deno.errors.AlreadyExists);
      Netns.remove(name);
      created = false;
      assert.doesNotMatch(run("ip", "netns", "list").stdout, new RegExp(`^${name}\\b`, "m"));
      assert.throws(() => Netns.open(name), Deno.errors.NotFound);
      assert.throws(() => Netns.remove(name), Deno.errors.NotFound);
      assert.throws(() => Netns.create("a/b"), TypeError);
      assert.equal(threadNetnsInode(), before);
    } finally {
      if (created) run("ip", "netns", "del", name);
    }
  },
});
