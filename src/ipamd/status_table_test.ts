import assert from "node:assert/strict";
import { renderStatus } from "./status_table.ts";

Deno.test("renderStatus: ENI rows, totals and pods", () => {
  const text = renderStatus({
    enis: [
      {
        eniId: "eni-0a",
        deviceNumber: 0,
        primaryIp: "10.0.0.10",
        subnetCidr: "10.0.0.0/20",
        total: 9,
        assigned: 1,
        cooling: 1,
        free: 7,
      },
      {
        eniId: "eni-0b",
        deviceNumber: 1,
        primaryIp: "10.0.0.20",
        subnetCidr: "10.0.0.0/20",
        total: 9,
        assigned: 0,
        cooling: 0,
        free: 9,
      },
    ],
    totals: { total: 18, assigned: 1, cooling: 1, free: 16 },
    pods: [{
      ip: "10.0.0.11",
      eniId: "eni-0a",
      containerId: "0123456789abcdef",
      ifName: "eth0",
      namespace: "default",
      name: "web",
    }],
    pendingEnis: 1,
    maxEnis: 3,
  });
  const lines = text.split("\n");
  assert.match(lines[0], /^DEV\s+ENI\s+PRIMARY IP\s+SUBNET\s+IPS\s+FREE\s+ASSIGNED\s+COOLING$/);
  assert.match(lines[1], /^0\s+eni-0a\s+10\.0\.0\.10\s+10\.0\.0\.0\/20\s+9\s+7\s+1\s+1$/);
  assert.match(text, /ENIs 2\/3 \(\+1 attaching\) {2}IPs 18: free 16, assigned 1, cooling 1/);
  assert.match(text, /default\/web\s+10\.0\.0\.11\s+eni-0a\s+0123456789ab\s+eth0/);
});

Deno.test("renderStatus: an empty node says so", () => {
  const text = renderStatus({ enis: [], totals: { total: 0, assigned: 0, cooling: 0, free: 0 }, pods: [] });
  assert.match(text, /no pods/);
  assert.match(text, /ENIs 0 {2}IPs 0/);
});

Deno.test("renderStatus: the current plan with its time, and each failing background task", () => {
  const text = renderStatus({
    enis: [],
    totals: { total: 0, assigned: 0, cooling: 0, free: 0 },
    pods: [],
    plan: { reason: "warm ENI: at target 1 ENIs", actions: [], computedAt: "2026-12-06T10:00:00.000Z" },
    failures: [{ task: "eniReconcile", error: "HTTP 500", since: "2026-12-06T09:59:00.000Z", count: 3 }],
  });
  assert.match(text, /^plan \(2026-12-06T10:00:00\.000Z\): warm ENI: at target 1 ENIs$/m);
  assert.match(text, /^FAILING: eniReconcile since 2026-12-06T09:59:00\.000Z \(3 time\(s\)\): HTTP 500$/m);
});
