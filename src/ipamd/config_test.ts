import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError, configSettings, type IpamdConfig, loadConfig } from "./config.ts";

function throwsConfig(env: Record<string, string>, variable: string, value: string, accepts: RegExp) {
  assert.throws(() => loadConfig(env), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `ConfigError, got ${e}`);
    assert.equal(e.variable, variable);
    assert.ok(e.message.startsWith(`${variable}=${JSON.stringify(value)}: expected `), e.message);
    assert.match(e.message, accepts);
    return true;
  });
}

Deno.test("loadConfig: upstream's defaults", () => {
  const c = loadConfig({});
  const want: IpamdConfig = {
    warmEniTarget: 1,
    warmIpTarget: undefined,
    minimumIpTarget: undefined,
    warmPrefixTarget: undefined,
    enablePrefixDelegation: false,
    maxEni: undefined,
    ipCooldownMs: 30_000,
    eniMtu: 9001,
    podMtu: 9001,
    externalSnat: false,
    excludeSnatCidrs: [],
    randomizeSnat: "prng",
    logLevel: "debug",
    logFile: "/var/log/aws-routed-eni/ipamd.log",
    backingStore: "/var/run/aws-node/ipam.json",
    clusterName: "",
    disableIntrospection: false,
    disableMetrics: false,
    introspectionBindAddress: "127.0.0.1:61679",
    metricsPort: 61678,
    nodeName: "",
    ec2Endpoint: undefined,
    vethPrefix: "eni",
    customNetworking: false,
    eniConfigLabelDef: "k8s.amazonaws.com/eniConfig",
    eniConfigAnnotationDef: "k8s.amazonaws.com/eniConfig",
    podLeakGraceMs: 600_000,
    ipamdSocket: "/var/run/aws-node/ipamd.sock",
    disableLeakedEniCleanup: false,
  };
  assert.deepEqual(c, want);
  // Empty strings are unset.
  assert.deepEqual(
    loadConfig({ WARM_ENI_TARGET: "", AWS_VPC_ENI_MTU: " ", AWS_VPC_K8S_CNI_VETHPREFIX: "" }),
    want,
  );
});

Deno.test("loadConfig: every variable is read", () => {
  const c = loadConfig({
    WARM_ENI_TARGET: "0",
    WARM_IP_TARGET: "5",
    MINIMUM_IP_TARGET: "10",
    WARM_PREFIX_TARGET: "2",
    ENABLE_PREFIX_DELEGATION: "TRUE",
    MAX_ENI: "3",
    IP_COOLDOWN_PERIOD: "5",
    AWS_VPC_ENI_MTU: "1500",
    POD_MTU: "1400",
    AWS_VPC_K8S_CNI_EXTERNALSNAT: "1",
    AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: " 10.1.0.0/16, ,192.168.0.0/24,",
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: "HashRandom",
    AWS_VPC_K8S_CNI_LOGLEVEL: "INFO",
    AWS_VPC_K8S_CNI_LOG_FILE: "stdout",
    AWS_VPC_K8S_CNI_BACKING_STORE: "/tmp/ipam.json",
    CLUSTER_NAME: "lab",
    DISABLE_INTROSPECTION: "true",
    DISABLE_METRICS: "True",
    INTROSPECTION_BIND_ADDRESS: "0.0.0.0:9999",
    METRICS_PORT: "9100",
    MY_NODE_NAME: "node-1",
    AWS_EC2_ENDPOINT: "http://10.0.255.254",
    AWS_VPC_K8S_CNI_VETHPREFIX: "abc",
    AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true",
    ENI_CONFIG_LABEL_DEF: "topology.kubernetes.io/zone",
    ENI_CONFIG_ANNOTATION_DEF: "x/y",
    POD_LEAK_GRACE_PERIOD: "60",
    IPAMD_SOCKET: "/run/x.sock",
    DISABLE_LEAKED_ENI_CLEANUP: "true",
  });
  assert.deepEqual(c, {
    warmEniTarget: 0,
    warmIpTarget: 5,
    minimumIpTarget: 10,
    warmPrefixTarget: 2,
    enablePrefixDelegation: true,
    maxEni: 3,
    ipCooldownMs: 5000,
    eniMtu: 1500,
    podMtu: 1400,
    externalSnat: true,
    excludeSnatCidrs: ["10.1.0.0/16", "192.168.0.0/24"],
    randomizeSnat: "hashrandom",
    logLevel: "info",
    logFile: "stdout",
    backingStore: "/tmp/ipam.json",
    clusterName: "lab",
    disableIntrospection: true,
    disableMetrics: true,
    introspectionBindAddress: "0.0.0.0:9999",
    metricsPort: 9100,
    nodeName: "node-1",
    ec2Endpoint: "http://10.0.255.254",
    vethPrefix: "abc",
    customNetworking: true,
    eniConfigLabelDef: "topology.kubernetes.io/zone",
    eniConfigAnnotationDef: "x/y",
    podLeakGraceMs: 60_000,
    ipamdSocket: "/run/x.sock",
    disableLeakedEniCleanup: true,
  });
});

Deno.test("loadConfig: POD_MTU follows AWS_VPC_ENI_MTU; MTU range is 576..9001", () => {
  assert.equal(loadConfig({ AWS_VPC_ENI_MTU: "1500" }).podMtu, 1500);
  assert.equal(loadConfig({ AWS_VPC_ENI_MTU: "576" }).eniMtu, 576);
  assert.equal(loadConfig({ POD_MTU: "9001" }).podMtu, 9001);
  throwsConfig({ AWS_VPC_ENI_MTU: "575" }, "AWS_VPC_ENI_MTU", "575", /from 576 to 9001/);
  throwsConfig({ AWS_VPC_ENI_MTU: "9002" }, "AWS_VPC_ENI_MTU", "9002", /from 576 to 9001/);
  throwsConfig({ POD_MTU: "1500.5" }, "POD_MTU", "1500.5", /from 576 to 9001/);
});

Deno.test("loadConfig: whole numbers", () => {
  throwsConfig({ WARM_ENI_TARGET: "abc" }, "WARM_ENI_TARGET", "abc", /expected a whole number ≥ 0$/);
  throwsConfig({ WARM_ENI_TARGET: "-1" }, "WARM_ENI_TARGET", "-1", /≥ 0/);
  throwsConfig({ WARM_IP_TARGET: "1e3" }, "WARM_IP_TARGET", "1e3", /≥ 0/);
  throwsConfig({ MINIMUM_IP_TARGET: "0x10" }, "MINIMUM_IP_TARGET", "0x10", /≥ 0/);
  throwsConfig({ WARM_PREFIX_TARGET: "1.0" }, "WARM_PREFIX_TARGET", "1.0", /≥ 0/);
  throwsConfig({ IP_COOLDOWN_PERIOD: "30s" }, "IP_COOLDOWN_PERIOD", "30s", /≥ 0/);
  throwsConfig({ METRICS_PORT: "70000" }, "METRICS_PORT", "70000", /from 1 to 65535/);
  throwsConfig({ POD_LEAK_GRACE_PERIOD: "soon" }, "POD_LEAK_GRACE_PERIOD", "soon", /≥ 0/);
  assert.equal(loadConfig({ WARM_ENI_TARGET: " 3 " }).warmEniTarget, 3);
});

Deno.test("loadConfig: 0 IP targets are unset, as upstream", () => {
  const c = loadConfig({ WARM_IP_TARGET: "0", MINIMUM_IP_TARGET: "0", WARM_PREFIX_TARGET: "0" });
  assert.equal(c.warmIpTarget, undefined);
  assert.equal(c.minimumIpTarget, undefined);
  assert.equal(c.warmPrefixTarget, 0);
});

Deno.test("loadConfig: MAX_ENI: -1 is no limit, 0 and junk are errors", () => {
  assert.equal(loadConfig({ MAX_ENI: "-1" }).maxEni, undefined);
  assert.equal(loadConfig({ MAX_ENI: "1" }).maxEni, 1);
  throwsConfig({ MAX_ENI: "0" }, "MAX_ENI", "0", /≥ 1/);
  throwsConfig({ MAX_ENI: "-2" }, "MAX_ENI", "-2", /≥ 1/);
  throwsConfig({ MAX_ENI: "many" }, "MAX_ENI", "many", /≥ 1/);
});

Deno.test("loadConfig: booleans accept true/false/1/0, any case, nothing else", () => {
  for (
    const [v, b] of [
      ["true", true],
      ["TRUE", true],
      ["True", true],
      ["1", true],
      ["false", false],
      [
        "FALSE",
        false,
      ],
      ["0", false],
      [" false ", false],
    ] as const
  ) {
    assert.equal(loadConfig({ AWS_VPC_K8S_CNI_EXTERNALSNAT: v }).externalSnat, b, v);
  }
  for (const v of ["yes", "t", "f", "2", "on"]) {
    throwsConfig({ DISABLE_METRICS: v }, "DISABLE_METRICS", v, /true or false/);
  }
  throwsConfig(
    { ENABLE_PREFIX_DELEGATION: "enabled" },
    "ENABLE_PREFIX_DELEGATION",
    "enabled",
    /true or false/,
  );
});

Deno.test("loadConfig: exclude-SNAT CIDRs are validated", () => {
  const v = "10.0.0.0/8,300.1.1.1/32";
  throwsConfig(
    { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: v },
    "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
    v,
    /"300\.1\.1\.1\/32"/,
  );
  throwsConfig(
    { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.0.0.1" },
    "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
    "10.0.0.1",
    /CIDRs/,
  );
  throwsConfig(
    { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: "10.0.0.0/33" },
    "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS",
    "10.0.0.0/33",
    /CIDRs/,
  );
});

Deno.test("loadConfig: veth prefix at most 4 characters, not eth/lo/vlan", () => {
  for (const ok of ["e", "cali", "veth", "ab_1"]) {
    assert.equal(loadConfig({ AWS_VPC_K8S_CNI_VETHPREFIX: ok }).vethPrefix, ok);
  }
  for (const bad of ["eth", "lo", "vlan", "abcde", "a/b", "a b"]) {
    throwsConfig({ AWS_VPC_K8S_CNI_VETHPREFIX: bad }, "AWS_VPC_K8S_CNI_VETHPREFIX", bad, /at most 4/);
  }
});

Deno.test("loadConfig: enumerations", () => {
  for (const v of ["prng", "hashrandom", "none", "NONE"]) {
    assert.equal(loadConfig({ AWS_VPC_K8S_CNI_RANDOMIZESNAT: v }).randomizeSnat, v.toLowerCase());
  }
  throwsConfig(
    { AWS_VPC_K8S_CNI_RANDOMIZESNAT: "random" },
    "AWS_VPC_K8S_CNI_RANDOMIZESNAT",
    "random",
    /prng, hashrandom, none/,
  );
  for (const v of ["DEBUG", "info", "Warn", "ERROR"]) {
    assert.equal(loadConfig({ AWS_VPC_K8S_CNI_LOGLEVEL: v }).logLevel, v.toLowerCase());
  }
  throwsConfig(
    { AWS_VPC_K8S_CNI_LOGLEVEL: "trace" },
    "AWS_VPC_K8S_CNI_LOGLEVEL",
    "trace",
    /debug, info, warn, error/,
  );
  throwsConfig(
    { INTROSPECTION_BIND_ADDRESS: "localhost" },
    "INTROSPECTION_BIND_ADDRESS",
    "localhost",
    /host:port/,
  );
  throwsConfig({ INTROSPECTION_BIND_ADDRESS: ":0" }, "INTROSPECTION_BIND_ADDRESS", ":0", /host:port/);
});

Deno.test("configSettings: names every variable and round-trips through loadConfig", () => {
  const names = Object.keys(configSettings(loadConfig({})));
  assert.equal(names.length, 29);
  fc.assert(
    fc.property(
      fc.record({
        WARM_ENI_TARGET: fc.nat(10).map(String),
        WARM_IP_TARGET: fc.nat(50).map(String),
        MINIMUM_IP_TARGET: fc.nat(50).map(String),
        MAX_ENI: fc.oneof(fc.constant("-1"), fc.integer({ min: 1, max: 15 }).map(String)),
        AWS_VPC_ENI_MTU: fc.integer({ min: 576, max: 9001 }).map(String),
        ENABLE_PREFIX_DELEGATION: fc.boolean().map(String),
        AWS_VPC_K8S_CNI_RANDOMIZESNAT: fc.constantFrom("prng", "hashrandom", "none"),
        AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: fc.array(
          fc.tuple(fc.nat(255), fc.integer({ min: 8, max: 32 })).map(([a, l]) => `10.${a}.0.0/${l}`),
          { maxLength: 3 },
        ).map((a) => a.join(",")),
      }, { requiredKeys: [] }),
      (env) => {
        const c = loadConfig(env);
        const s = configSettings(c);
        assert.deepEqual(Object.keys(s), names);
        assert.deepEqual(loadConfig(s), c);
      },
    ),
    { numRuns: 300 },
  );
});
