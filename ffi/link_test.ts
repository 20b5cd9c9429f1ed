import assert from "node:assert/strict";
import { rootOnly } from "../tests/helpers/root.ts";
import { Netns } from "./netns.ts";
import { Netlink } from "./netlink.ts";
import { ipJson, nlErr, uniq, withTempNetns } from "./_test_util.ts";

Deno.test({
  name: "vethAdd puts the peer in another namespace with MTU and MACs",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, ([a, b]) => {
      using na = Netlink.open(a);
      using nb = Netlink.open(b);
      const name = uniq("v"), peer = uniq("p");
      na.vethAdd({
        name,
        peerName: peer,
        peerNs: b,
        mtu: 9001,
        mac: "02:AA:00:00:00:01",
        peerMac: "02:aa:00:00:00:02",
      });
      const l = na.linkByName(name);
      assert.deepEqual({ ...l, index: 0 }, {
        index: 0,
        name,
        mac: "02:aa:00:00:00:01",
        mtu: 9001,
        up: false,
        kind: "veth",
      });
      assert.equal(na.findLink(peer), undefined);
      const p = nb.linkByName(peer);
      assert.equal(p.mac, "02:aa:00:00:00:02");
      assert.equal(p.mtu, 9001);
      assert.equal(p.kind, "veth");
      // cross-check with ip -j
      const j = ipJson(b, "link", "show", peer)[0];
      assert.equal(j.address, "02:aa:00:00:00:02");
      assert.equal(j.mtu, 9001);
      assert.equal(j.ifindex, p.index);
      // lookups
      assert.deepEqual(na.linkByIndex(l.index), l);
      assert.deepEqual(na.linkByMac("02:aa:00:00:00:01"), l);
      assert.deepEqual(na.findLink(name), l);
      assert.ok(na.linkList().some((x) => x.name === name));
      // same name again: exists
      assert.ok(nlErr(() => na.vethAdd({ name, peerName: uniq("p") })).exists);
      // deleting one end removes both
      na.linkDel(name);
      assert.equal(na.findLink(name), undefined);
      assert.equal(nb.findLink(peer), undefined);
    }),
});

Deno.test({
  name: "vethAdd without peerNs keeps both ends here",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      na.vethAdd({ name: "x0", peerName: "x1" });
      assert.deepEqual(na.linkList().map((l) => l.name).sort(), ["lo", "x0", "x1"]);
    }),
});

Deno.test({
  name: "link set up/down, MTU, MAC, name; linkSetNs moves it",
  ...rootOnly,
  fn: () =>
    withTempNetns(2, ([a, b]) => {
      using na = Netlink.open(a);
      using nb = Netlink.open(b);
      na.vethAdd({ name: "e0", peerName: "e1" });
      const i = na.linkByName("e0").index;
      na.linkSetMtu(i, 1280);
      na.linkSetMac("e0", "0e:00:00:00:00:09");
      na.linkSetName(i, "renamed");
      na.linkSetUp("renamed");
      let l = na.linkByIndex(i);
      assert.equal(l.name, "renamed");
      assert.equal(l.mtu, 1280);
      assert.equal(l.mac, "0e:00:00:00:00:09");
      assert.equal(l.up, true);
      const j = ipJson(a, "link", "show", "renamed")[0];
      assert.ok((j.flags as string[]).includes("UP"));
      na.linkSetDown(i);
      l = na.linkByIndex(i);
      assert.equal(l.up, false);
      // move to b by path
      na.linkSetNs(i, b);
      assert.equal(na.findLink("renamed"), undefined);
      const moved = nb.linkByName("renamed");
      assert.equal(moved.mac, "0e:00:00:00:00:09");
      // and back by handle
      using ns = Netns.open(a);
      nb.linkSetNs("renamed", ns);
      assert.ok(na.findLink("renamed"));
    }),
});

Deno.test({
  name: "missing links: notFound from lookups and changes; findLink undefined",
  ...rootOnly,
  fn: () =>
    withTempNetns(1, ([a]) => {
      using na = Netlink.open(a);
      for (
        const f of [
          () => na.linkByName("nope0"),
          () => na.linkByIndex(9999),
          () => na.linkByMac("02:00:00:00:00:99"),
          () => na.linkSetUp(9999),
          () => na.linkSetUp("nope0"),
          () => na.linkSetMtu(9999, 1500),
          () => na.linkDel(9999),
          () => na.addrList("nope0"),
        ]
      ) {
        const e = nlErr(f);
        assert.ok(e.notFound, `${e.message} should be notFound`);
        assert.equal(e.exists, false);
      }
      const e = nlErr(() => na.linkByName("nope0"));
      assert.equal(e.errName, "NLE_NODEV");
      assert.equal(e.code, 31);
      assert.equal(e.op, "linkByName nope0");
      assert.equal(na.findLink("nope0"), undefined);
    }),
});
