import assert from "node:assert/strict";
import { RecentChanges } from "./recent_changes.ts";

Deno.test("RecentChanges: a change is pending until EC2 shows it or the grace passes", () => {
  const r = new RecentChanges(1000);
  r.note(["eni-a", "10.0.0.5"], true, 0);
  r.note(["10.0.0.6"], false, 0);
  assert.equal(r.pending("eni-a", true, 500), true);
  assert.equal(r.pending("eni-a", false, 500), false, "only the way it was changed");
  assert.equal(r.pending("10.0.0.6", false, 999), true);
  r.seen("eni-a", false); // EC2 still does not show it: nothing learnt
  assert.equal(r.pending("eni-a", true, 500), true);
  r.seen("eni-a", true);
  assert.equal(r.pending("eni-a", true, 500), false, "shown: done");
  assert.equal(r.pending("10.0.0.5", true, 1000), false, "grace over: EC2's view wins");
  assert.equal(r.size, 1);
  r.note(["10.0.0.7"], true, 5000); // prunes what the grace has passed
  assert.equal(r.size, 1);
  r.note(["10.0.0.7"], false, 5001);
  assert.equal(r.pending("10.0.0.7", true, 5002), false, "the latest change counts");
  assert.equal(r.pending("10.0.0.7", false, 5002), true);
});
