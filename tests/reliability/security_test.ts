/**
 * Security properties of a lab node running ipamd and aws-cni:
 * - the ipamd socket is mode 0660 and owned by root; the checkpoint is 0600;
 * - in the node namespace only introspection (127.0.0.1:61679) and metrics (:61678, every interface, as
 *   upstream) listen; a pod, and another VPC host, reach metrics but not introspection;
 * - IMDS is v2 only: a GET without a token is 401, and ipamd never sends one, even when the token request
 *   is refused (observed through a recording proxy between ipamd and the lab's IMDS);
 * - no log line holds an IMDS token ipamd was issued, the instance role's secret key (its SDK fetched it
 *   through the proxy), or a bearer token.
 * The socket is a file: a pod cannot reach it only because a real pod has its own mount namespace, which
 * the lab (network namespaces only) does not model. Root only.
 * @module
 */
import assert from "node:assert/strict";
import { podAdd } from "../../src/sim/runtime_pod.ts";
import { withLab } from "../helpers/lab.ts";
import { until } from "../../harness/poll.ts";
import { rootOnly } from "../helpers/root.ts";
import { ipamdCall, waitIpamdReady } from "./invariants.ts";

const PROXY_PORT = 18080;

/** A recording IMDS proxy: forwards to the lab's IMDS, refuses the token request while `mode` says so. */
const PROXY = `
const [port, logPath, modePath] = Deno.args;
const log = (o) => Deno.writeTextFileSync(logPath, JSON.stringify(o) + "\\n", { append: true });
Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() {} }, async (req) => {
  const u = new URL(req.url);
  let mode = "pass";
  try { mode = Deno.readTextFileSync(modePath).trim(); } catch { /* pass */ }
  const rec = { method: req.method, path: u.pathname, token: req.headers.get("x-aws-ec2-metadata-token"), mode };
  if (mode === "refuse-token" && u.pathname === "/latest/api/token") {
    log({ ...rec, status: 403 });
    return new Response("Forbidden", { status: 403 });
  }
  const headers = new Headers(req.headers);
  headers.delete("host");
  const r = await fetch("http://169.254.169.254" + u.pathname + u.search, { method: req.method, headers });
  const body = await r.text();
  const role = u.pathname.includes("/iam/security-credentials/") && r.ok && body.trim().startsWith("{");
  const issued = u.pathname === "/latest/api/token" && r.ok ? body.trim() : undefined;
  log({ ...rec, status: r.status, issued, roleSecret: role ? JSON.parse(body).SecretAccessKey : undefined });
  return new Response(body, { status: r.status, headers: r.headers });
});
`;

interface ProxyRecord {
  method: string;
  path: string;
  token: string | null;
  mode: string;
  status: number;
  issued?: string;
  /** The instance role's secret key, when this was a credentials document. */
  roleSecret?: string;
}

/** LISTEN sockets of /proc/net/tcp{,6} text as `addr:port`. */
function listeners(tcp: string, v6: boolean): string[] {
  const out: string[] = [];
  for (const line of tcp.trim().split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] !== "0A") continue;
    const [hex, portHex] = f[1].split(":");
    const port = parseInt(portHex, 16);
    if (!v6) {
      const b = hex.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
      out.push(`${b.join(".")}:${port}`);
    } else {
      out.push(
        `[${/^0+$/.test(hex) ? "::" : hex === "00000000000000000000000001000000" ? "::1" : hex}]:${port}`,
      );
    }
  }
  return out;
}

function readRecords(path: string): ProxyRecord[] {
  try {
    return Deno.readTextFileSync(path).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

Deno.test({
  name:
    "security: socket 0660 root, listeners, pod reachability, IMDSv2 only (no fallback), no secrets in logs",
  ...rootOnly,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rel-sec-" });
    const logPath = `${dir}/imds.jsonl`;
    const modePath = `${dir}/mode`;
    await Deno.writeTextFile(modePath, "refuse-token");
    try {
      await withLab({
        nodes: 1,
        ipamdEnv: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${PROXY_PORT}` },
      }, async (lab) => {
        const node = lab.status.nodes[0];
        const proxy = new Deno.Command("nsenter", {
          args: [
            `--net=/run/netns/${node.netns}`,
            "--",
            Deno.execPath(),
            "eval",
            PROXY,
            String(PROXY_PORT),
            logPath,
            modePath,
          ],
          stdout: "null",
          stderr: "null",
        }).spawn();
        try {
          // Phase 1: the token request is refused. ipamd must keep trying for a token and never GET without.
          // Three refused token requests: ipamd keeps asking (and, were it to fall back to IMDSv1, its tokenless
          // GET would come right after the first refusal, so it would be in the log by now).
          await until(
            "ipamd to ask for an IMDS token three times",
            () => readRecords(logPath).filter((r) => r.path === "/latest/api/token").length >= 3,
            120_000,
          );
          const refused = readRecords(logPath);
          assert.ok(
            refused.some((r) => r.path === "/latest/api/token"),
            "ipamd never asked the proxy for a token",
          );
          const st = await ipamdCall(node.ipamdSocket, "/v1/status", { timeoutMs: 2000 }).catch(() =>
            undefined
          );
          assert.notEqual(st?.status, 200, "ipamd ready without IMDS");

          // Phase 2: tokens are issued; ipamd starts.
          await Deno.writeTextFile(modePath, "pass");
          await waitIpamdReady(lab.names, 0, 60_000);
          const records = readRecords(logPath);
          const gets = records.filter((r) => r.method === "GET");
          assert.ok(gets.length > 0, "ipamd made no IMDS GET through the proxy");
          assert.deepEqual(gets.filter((r) => !r.token).map((r) => `${r.mode} ${r.path}`), [], "IMDSv1 GETs");
          assert.deepEqual(records.filter((r) => r.status === 401).map((r) => r.path), [], "401s from IMDS");
          const issued = records.map((r) => r.issued).filter((t): t is string => !!t);
          assert.ok(issued.length > 0);

          // The lab's IMDS itself: a GET without a token is 401, with one 200.
          const noTok = await lab.inNode(0, [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-m",
            "5",
            "http://169.254.169.254/latest/meta-data/instance-id",
          ]);
          assert.equal(noTok.stdout, "401");
          const tok = await lab.inNode(0, [
            "curl",
            "-s",
            "-m",
            "5",
            "-X",
            "PUT",
            "-H",
            "x-aws-ec2-metadata-token-ttl-seconds: 60",
            "http://169.254.169.254/latest/api/token",
          ]);
          const withTok = await lab.inNode(0, [
            "curl",
            "-s",
            "-m",
            "5",
            "-H",
            `x-aws-ec2-metadata-token: ${tok.stdout}`,
            "http://169.254.169.254/latest/meta-data/instance-id",
          ]);
          assert.equal(withTok.stdout, node.instanceId);

          // The socket and the checkpoint.
          const s = await Deno.stat(node.ipamdSocket);
          assert.equal(s.mode! & 0o777, 0o660, "ipamd socket mode");
          assert.equal(s.uid, 0);
          assert.equal(s.gid, 0);
          const pod = await podAdd(lab.names, "sec1");
          const cp = await Deno.stat(lab.names.backingStore(0));
          assert.equal(cp.mode! & 0o077, 0, "checkpoint readable by group/others");

          // Listeners in the node namespace: introspection on loopback only, metrics on its port.
          const tcp4 = listeners((await lab.inNode(0, ["cat", "/proc/net/tcp"])).stdout, false);
          const tcp6 = listeners((await lab.inNode(0, ["cat", "/proc/net/tcp6"])).stdout, true);
          const all = [...tcp4, ...tcp6].filter((l) => !l.endsWith(`:${PROXY_PORT}`));
          assert.ok(all.includes("127.0.0.1:61679"), `introspection: ${all}`);
          assert.ok(all.includes("0.0.0.0:61678") || all.includes("[::]:61678"), `metrics: ${all}`);
          assert.deepEqual(
            all.filter((l) => l !== "127.0.0.1:61679" && !l.endsWith(":61678")),
            [],
            "unexpected listeners in the node namespace",
          );

          // From the pod and from another VPC host: metrics yes, introspection no.
          const curl = (ns: string, url: string) =>
            lab.inNetns(ns, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3", url]);
          const metrics = await curl(pod.netns, `http://${node.primaryIp}:61678/metrics`);
          assert.equal(metrics.stdout, "200", `pod → metrics: ${metrics.stderr}`);
          for (
            const [ns, url] of [
              [pod.netns, `http://${node.primaryIp}:61679/v1/enis`],
              [pod.netns, `http://127.0.0.1:61679/v1/enis`],
              [pod.netns, `http://${node.primaryIp}:${PROXY_PORT}/latest/api/token`],
              [lab.names.vpcNs, `http://${node.primaryIp}:61679/v1/enis`],
            ]
          ) {
            const r = await curl(ns, url);
            assert.notEqual(r.code, 0, `${ns} → ${url} answered ${r.stdout}`);
            assert.equal(r.stdout, "000", `${ns} → ${url}`);
          }
          const intro = await lab.inNode(0, ["curl", "-s", "-m", "3", "http://127.0.0.1:61679/v1/enis"]);
          assert.equal(intro.code, 0, "introspection answers on the node's loopback");

          // No secret in any log.
          const logs: [string, string][] = [];
          for (const p of [lab.names.ipamdLog(0), lab.names.pluginLog(0), lab.names.daemonLog]) {
            logs.push([p, await Deno.readTextFile(p).catch(() => "")]);
          }
          assert.ok(logs[0][1].length > 0 && logs[1][1].length > 0, "ipamd.log and plugin.log were written");
          const kubeconfig = await Deno.readTextFile(lab.names.kubeconfig).catch(() => "");
          const bearer = kubeconfig.match(/token:\s*"?([^"\s]+)/)?.[1];
          const roleSecrets = readRecords(logPath).map((r) => r.roleSecret).filter((t): t is string => !!t);
          assert.ok(roleSecrets.length > 0, "ipamd's SDK never fetched the instance role's credentials");
          const secrets = [tok.stdout, ...issued, ...roleSecrets, ...(bearer ? [bearer] : [])];
          for (const [p, text] of logs) {
            for (const sec of secrets) {
              assert.ok(!text.includes(sec), `${p} holds a secret (${sec.slice(0, 6)}…)`);
            }
            assert.doesNotMatch(text, /bearer\s+[A-Za-z0-9._~+/-]{8,}/i, `${p} holds a bearer token`);
            assert.doesNotMatch(
              text,
              /x-aws-ec2-metadata-token"?\s*[:=]\s*"?[A-Za-z0-9+/]{20,}/i,
              `${p}: token header`,
            );
          }
          console.log(
            `security: ${records.length} IMDS requests seen (${refused.length} while refused), ${gets.length} GETs all ` +
              `with a token; ${secrets.length} secret values absent from ${logs.length} logs`,
          );
        } finally {
          try {
            proxy.kill("SIGKILL");
          } catch { /* gone */ }
          await proxy.status;
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
