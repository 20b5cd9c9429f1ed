/**
 * ipamd's iptables rules: upstream's SNAT chain and the NodePort connmark rules, rendered as pure data
 * and applied with `iptables-restore --noflush -w`, touching only the chains and rules we own.
 */

/** What the rules depend on. */
export interface SnatRuleConfig {
  /** The node's primary IP, the SNAT source. */
  primaryIp: string;
  /** The primary interface (usually eth0). */
  primaryIf: string;
  vpcCidrs: string[];
  excludeCidrs: string[];
  externalSnat: boolean;
  randomizeSnat: "prng" | "hashrandom" | "none";
  /** Host veth prefix, "eni" by default. */
  vethPrefix: string;
  /** AWS_VPC_CNI_NODE_PORT_SUPPORT (default true): mark connections arriving on the primary interface. */
  nodePortSupport?: boolean;
  /** AWS_VPC_K8S_CNI_CONNMARK (default 0x80): the connection mark and mask. */
  connmark?: number;
}

export const SNAT_CHAIN = "AWS-SNAT-CHAIN-0";
export const CONNMARK_CHAIN = "AWS-CONNMARK-CHAIN-0";

/** One table's share: our chains with their rules, and rules we own in built-in chains. */
export interface TableRules {
  /** Our chains, in creation order, each with its full rule list (rule specs without `-A chain`). */
  chains: { name: string; rules: string[] }[];
  /** Rules in built-in chains; `insertAt1` rules go first in the chain. */
  builtins: { chain: string; rule: string; insertAt1?: boolean }[];
}

/** The rules for the nat and mangle tables. */
export interface RenderedRules {
  nat: TableRules;
  mangle: TableRules;
}

const q = (s: string) => `"${s}"`;

/** Renders upstream's rules for the given configuration (pure). */
export function renderRules(c: SnatRuleConfig): RenderedRules {
  const veth = `${c.vethPrefix}+`;
  const mark = `0x${(c.connmark ?? 0x80).toString(16)}`;
  const nodePort = c.nodePortSupport ?? true;
  const nat: TableRules = { chains: [], builtins: [] };
  const mangle: TableRules = { chains: [], builtins: [] };
  if (!c.externalSnat) {
    const random = c.randomizeSnat === "prng"
      ? " --random-fully"
      : c.randomizeSnat === "hashrandom"
      ? " --random"
      : "";
    nat.chains.push({
      name: SNAT_CHAIN,
      rules: [
        ...c.vpcCidrs.map((cidr) => `-d ${cidr} -m comment --comment ${q("AWS SNAT CHAIN")} -j RETURN`),
        ...c.excludeCidrs.map((cidr) =>
          `-d ${cidr} -m comment --comment ${q("AWS SNAT CHAIN EXCLUSION")} -j RETURN`
        ),
        `! -o vlan+ -m comment --comment ${
          q("AWS, SNAT")
        } -m addrtype ! --dst-type LOCAL -j SNAT --to-source ${c.primaryIp}${random}`,
      ],
    });
    nat.builtins.push({
      chain: "POSTROUTING",
      rule: `-m comment --comment ${q("AWS SNAT CHAIN")} -j ${SNAT_CHAIN}`,
      insertAt1: true,
    });
    nat.chains.push({
      name: CONNMARK_CHAIN,
      rules: [
        ...c.vpcCidrs.map((cidr) =>
          `-d ${cidr} -m comment --comment ${q("AWS CONNMARK CHAIN, VPC CIDR")} -j RETURN`
        ),
        ...c.excludeCidrs.map((cidr) =>
          `-d ${cidr} -m comment --comment ${q("AWS CONNMARK CHAIN, EXCLUDED CIDR")} -j RETURN`
        ),
        `-m comment --comment ${q("AWS, CONNMARK")} -j CONNMARK --set-xmark ${mark}/${mark}`,
      ],
    });
    nat.builtins.push(
      {
        chain: "PREROUTING",
        rule: `-i ${veth} -m comment --comment ${q("AWS, outbound connections")} -j ${CONNMARK_CHAIN}`,
      },
      {
        chain: "PREROUTING",
        rule: `-m comment --comment ${q("AWS, CONNMARK")} -j CONNMARK --restore-mark --mask ${mark}`,
      },
    );
  }
  // As upstream: the primary-interface mark only with NodePort support; the restore on pod traffic also
  // while ipamd does SNAT (the nat connmark chain above marks pods' outbound connections).
  if (nodePort) {
    mangle.builtins.push({
      chain: "PREROUTING",
      rule: `-i ${c.primaryIf} -m comment --comment ${
        q("AWS, primary ENI")
      } -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-mark ${mark}/${mark}`,
    });
  }
  if (nodePort || !c.externalSnat) {
    mangle.builtins.push({
      chain: "PREROUTING",
      rule: `-i ${veth} -m comment --comment ${
        q("AWS, primary ENI")
      } -j CONNMARK --restore-mark --mask ${mark}`,
    });
  }
  return { nat, mangle };
}

/** Our chain names (any generation), so stale ones are recognised. */
const OWN_CHAIN = /^AWS-(SNAT|CONNMARK)-CHAIN-\d+$/;
/** Comments that mark a rule in a built-in chain as ours. */
const OWN_COMMENT = /--comment "?AWS[ ,]/;

/** Whether a saved rule line (`-A CHAIN ...`) in a built-in chain is one of ours. */
export function isOwnedRule(line: string): boolean {
  return OWN_COMMENT.test(line) || /-j AWS-(SNAT|CONNMARK)-CHAIN-\d+\b/.test(line);
}

/**
 * Renders the `iptables-restore --noflush` input that moves one table from its current `iptables-save`
 * text to exactly `want`: our chains flushed and refilled, stale chains of ours removed, and every rule
 * of ours in built-in chains deleted then re-added once (pure).
 */
export function renderRestore(table: "nat" | "mangle", current: string, want: TableRules): string {
  const existingChains = new Set<string>();
  const ownBuiltinLines: string[] = [];
  let inTable = false;
  for (const line of current.split("\n")) {
    if (line.startsWith("*")) inTable = line === `*${table}`;
    if (!inTable) continue;
    const chainDecl = line.match(/^:(\S+)/);
    if (chainDecl) existingChains.add(chainDecl[1]);
    const rule = line.match(/^-A (\S+) /);
    if (rule && !OWN_CHAIN.test(rule[1]) && isOwnedRule(line)) ownBuiltinLines.push(line);
  }
  const out = [`*${table}`];
  const wanted = new Set(want.chains.map((c) => c.name));
  // Declaring a chain under --noflush creates it, or flushes it when it exists.
  for (const c of want.chains) out.push(`:${c.name} - [0:0]`);
  for (const line of ownBuiltinLines) out.push("-D" + line.slice(2));
  for (const name of existingChains) {
    if (OWN_CHAIN.test(name) && !wanted.has(name)) out.push(`-F ${name}`);
  }
  for (const name of existingChains) {
    if (OWN_CHAIN.test(name) && !wanted.has(name)) out.push(`-X ${name}`);
  }
  for (const c of want.chains) for (const r of c.rules) out.push(`-A ${c.name} ${r}`);
  for (const b of want.builtins) {
    out.push(b.insertAt1 ? `-I ${b.chain} 1 ${b.rule}` : `-A ${b.chain} ${b.rule}`);
  }
  out.push("COMMIT", "");
  return out.join("\n");
}

/** iptables-save / iptables-restore failed. */
export class IptablesError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly input = "") {
    super(`${command} failed: ${stderr.trim()}`);
    this.name = "IptablesError";
  }
}

async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  if (!r.success) throw new IptablesError(`${cmd} ${args.join(" ")}`, dec.decode(r.stderr), input ?? "");
  return dec.decode(r.stdout);
}

/**
 * Where and how to run the binaries: `nsenter --net=<netnsPath>` when set (tests), else the current namespace;
 * `backend` picks `iptables-legacy-*` or `iptables-nft-*` (iptables_backend.ts detects it), else the system's
 * `iptables-*` alternative.
 */
export interface IptablesRunner {
  netnsPath?: string;
  backend?: "legacy" | "nft";
}

function wrap(r: IptablesRunner, cmd: string, args: string[]): [string, string[]] {
  return r.netnsPath ? ["nsenter", [`--net=${r.netnsPath}`, cmd, ...args]] : [cmd, args];
}

/** `iptables-save`, `iptables-legacy-restore`, ...: the command for `verb` in this runner's backend and family. */
function binary(r: IptablesRunner, family: 4 | 6, verb: "save" | "restore"): string {
  return `${family === 6 ? "ip6tables" : "iptables"}${r.backend ? `-${r.backend}` : ""}-${verb}`;
}

/** `iptables-save [-t <table>]` text (`ip6tables-save` for family 6), in the runner's backend. */
export function iptablesSaveWith(r: IptablesRunner, family: 4 | 6, table?: string): Promise<string> {
  const [cmd, args] = wrap(r, binary(r, family, "save"), table ? ["-t", table] : []);
  return run(cmd, args);
}

/** `iptables-save -t <table>` text (`ip6tables-save` for family 6). */
export function iptablesSave(table: string, r: IptablesRunner = {}, family: 4 | 6 = 4): Promise<string> {
  return iptablesSaveWith(r, family, table);
}

/** `iptables-restore -w 5 --noflush` of `input` (`ip6tables-restore` for family 6). */
export function iptablesRestore(input: string, r: IptablesRunner = {}, family: 4 | 6 = 4): Promise<string> {
  const [cmd, args] = wrap(r, binary(r, family, "restore"), ["-w", "5", "--noflush"]);
  return run(cmd, args, input);
}

/** Applies the rendered rules idempotently: a second apply changes nothing, a changed config replaces ours. */
export async function applyRules(rules: RenderedRules, r: IptablesRunner = {}): Promise<void> {
  for (const table of ["nat", "mangle"] as const) {
    const current = await iptablesSave(table, r);
    await iptablesRestore(renderRestore(table, current, rules[table]), r);
  }
}

/**
 * Removes every rule and chain of ours from `r`'s backend, if it holds any (after a move to the other backend).
 * Reads the backend whole, so a table that does not exist is not created. Resolves whether it removed any.
 */
export async function removeOwnRules(r: IptablesRunner): Promise<boolean> {
  const current = await iptablesSaveWith(r, 4).catch(() => "");
  const ours = current.split("\n").some((l) => /^:AWS-(SNAT|CONNMARK)-CHAIN-\d+ /.test(l) || isOwnedRule(l));
  if (!ours) return false;
  const none: TableRules = { chains: [], builtins: [] };
  for (const table of ["nat", "mangle"] as const) {
    if (current.includes(`*${table}\n`)) await iptablesRestore(renderRestore(table, current, none), r);
  }
  return true;
}
