import assert from "node:assert/strict";
import fc from "../../harness/fast_check.ts";
import { ConfigError, type IpamdConfig, loadConfig } from "./config.ts";
import { configSettings } from "./config_settings.ts";

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
    additionalEniTags: {},
    manageEnisNonSchedulable: false,
    manageUntaggedEni: true,
    nodePortSupport: true,
    connmark: 0x80,
    externalServiceCidrs: [],
    disableEniProvisioning: false,
    imdsOnly: false,
    annotatePodIp: false,
    clusterEndpoint: undefined,
    enableBandwidthPlugin: false,
    enableIpv4: true,
    enableIpv6: false,
    enableV4Egress: true,
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
    ADDITIONAL_ENI_TAGS: '{"team":"net","cost-center":""}',
    AWS_MANAGE_ENIS_NON_SCHEDULABLE: "true",
    MANAGE_UNTAGGED_ENI: "false",
    AWS_VPC_CNI_NODE_PORT_SUPPORT: "false",
    AWS_VPC_K8S_CNI_CONNMARK: "0x4000",
    AWS_EXTERNAL_SERVICE_CIDRS: "203.0.113.0/24, 198.51.100.7/32",
    DISABLE_NETWORK_RESOURCE_PROVISIONING: "true",
    ENABLE_IMDS_ONLY_MODE: "false",
    ANNOTATE_POD_IP: "true",
    CLUSTER_ENDPOINT: "https://ABCD.gr7.us-west-2.eks.amazonaws.com/",
    ENABLE_BANDWIDTH_PLUGIN: "true",
    ENABLE_IPv4: "true",
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
    additionalEniTags: { team: "net", "cost-center": "" },
    manageEnisNonSchedulable: true,
    manageUntaggedEni: false,
    nodePortSupport: false,
    connmark: 0x4000,
    externalServiceCidrs: ["203.0.113.0/24", "198.51.100.7/32"],
    disableEniProvisioning: true,
    imdsOnly: false,
    annotatePodIp: true,
    clusterEndpoint: "https://ABCD.gr7.us-west-2.eks.amazonaws.com",
    enableBandwidthPlugin: true,
    enableIpv4: true,
    enableIpv6: false,
    enableV4Egress: true,
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

Deno.test("loadConfig: MAX_ENI: unset, 0 or lower is no limit (upstream's README); junk is an error", () => {
  for (const v of ["-1", "0", "-2"]) assert.equal(loadConfig({ MAX_ENI: v }).maxEni, undefined, v);
  assert.equal(loadConfig({ MAX_ENI: "1" }).maxEni, 1);
  throwsConfig({ MAX_ENI: "many" }, "MAX_ENI", "many", /≥ 0/);
  throwsConfig({ MAX_ENI: "1.5" }, "MAX_ENI", "1.5", /≥ 0/);
});

Deno.test("loadConfig: non-positive IP targets are unset, as upstream documents", () => {
  const c = loadConfig({ WARM_IP_TARGET: "-3", MINIMUM_IP_TARGET: "-1", WARM_PREFIX_TARGET: "-2" });
  assert.equal(c.warmIpTarget, undefined);
  assert.equal(c.minimumIpTarget, undefined);
  assert.equal(c.warmPrefixTarget, 0);
});

Deno.test("loadConfig: ADDITIONAL_ENI_TAGS is a JSON map of strings without reserved keys", () => {
  assert.deepEqual(loadConfig({ ADDITIONAL_ENI_TAGS: "{}" }).additionalEniTags, {});
  const name = "ADDITIONAL_ENI_TAGS";
  for (const bad of ["[1]", "team=net", '{"n":1}', "null", `{"${"k".repeat(129)}":"v"}`]) {
    throwsConfig({ [name]: bad }, name, bad, /JSON object|keys of 1–128/);
  }
  for (
    const key of [
      "k8s.amazonaws.com/x",
      "node.k8s.amazonaws.com/no_manage",
      "cluster.k8s.amazonaws.com/name",
      "aws:cloudformation:stack",
    ]
  ) {
    const v = JSON.stringify({ [key]: "true" });
    throwsConfig({ [name]: v }, name, v, new RegExp(`no reserved key: "${key.replace(/\./g, "\.")}"`));
  }
});

Deno.test("loadConfig: connmark, external service CIDRs, cluster endpoint, log level FATAL", () => {
  assert.equal(loadConfig({ AWS_VPC_K8S_CNI_CONNMARK: "128" }).connmark, 0x80);
  assert.equal(loadConfig({ AWS_VPC_K8S_CNI_CONNMARK: "0xffffffff" }).connmark, 0xffffffff);
  for (const bad of ["0", "0x100000000", "mark", "-1"]) {
    throwsConfig({ AWS_VPC_K8S_CNI_CONNMARK: bad }, "AWS_VPC_K8S_CNI_CONNMARK", bad, /1 to 0xffffffff/);
  }
  throwsConfig(
    { AWS_EXTERNAL_SERVICE_CIDRS: "10.0.0.0/8,nope" },
    "AWS_EXTERNAL_SERVICE_CIDRS",
    "10.0.0.0/8,nope",
    /"nope"/,
  );
  for (const bad of ["ABCD.eks.amazonaws.com", "ftp://x", "https://x/api"]) {
    throwsConfig({ CLUSTER_ENDPOINT: bad }, "CLUSTER_ENDPOINT", bad, /API server's URL/);
  }
  assert.equal(loadConfig({ AWS_VPC_K8S_CNI_LOGLEVEL: "FATAL" }).logLevel, "error");
});

Deno.test("loadConfig: ENABLE_IMDS_ONLY_MODE implies no provisioning and no leaked-ENI GC", () => {
  const c = loadConfig({ ENABLE_IMDS_ONLY_MODE: "true" });
  assert.equal(c.imdsOnly, true);
  assert.equal(c.disableEniProvisioning, true);
  assert.equal(c.disableLeakedEniCleanup, true);
  assert.equal(loadConfig({ DISABLE_NETWORK_RESOURCE_PROVISIONING: "1" }).disableLeakedEniCleanup, true);
});

Deno.test("loadConfig: ENABLE_IPv4 and ENABLE_IPv6: exactly one", () => {
  assert.equal(loadConfig({ ENABLE_IPv4: "true", ENABLE_IPv6: "false" }).enableIpv4, true);
  throwsConfig({ ENABLE_IPv4: "false" }, "ENABLE_IPv4", "false", /both disabled/);
  throwsConfig({ ENABLE_IPv4: "true", ENABLE_IPv6: "true" }, "ENABLE_IPv4", "true", /dual stack/);
});

Deno.test("loadConfig: ENABLE_IPv6=true needs prefix delegation and ENABLE_IPv4=false, no custom networking", () => {
  const v6 = { ENABLE_IPv6: "true", ENABLE_IPv4: "false", ENABLE_PREFIX_DELEGATION: "true" };
  const c = loadConfig(v6);
  assert.deepEqual([c.enableIpv4, c.enableIpv6, c.enableV4Egress], [false, true, true]);
  assert.equal(loadConfig({ ...v6, ENABLE_V4_EGRESS: "false" }).enableV4Egress, false);
  throwsConfig({ ...v6, ENABLE_PREFIX_DELEGATION: "false" }, "ENABLE_PREFIX_DELEGATION", "false", /prefix/);
  throwsConfig(
    { ENABLE_IPv6: "true", ENABLE_IPv4: "false" },
    "ENABLE_PREFIX_DELEGATION",
    "",
    /ENABLE_IPv6=true/,
  );
  throwsConfig({ ...v6, ENABLE_IPv4: "true" }, "ENABLE_IPv4", "true", /dual stack/);
  throwsConfig(
    { ...v6, AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: "true" },
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG",
    "true",
    /not supported in IPv6 mode/,
  );
  assert.deepEqual(loadConfig(configSettings(c)), c);
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
    /debug, info, warn, error, fatal/,
  );
  throwsConfig(
    { INTROSPECTION_BIND_ADDRESS: "localhost" },
    "INTROSPECTION_BIND_ADDRESS",
    "localhost",
    /host:port/,
  );
  throwsConfig({ INTROSPECTION_BIND_ADDRESS: ":0" }, "INTROSPECTION_BIND_ADDRESS", ":0", /host:port/);
  assert.equal(
    loadConfig({ INTROSPECTION_BIND_ADDRESS: "unix:/run/x.sock" }).introspectionBindAddress,
    "unix:/run/x.sock",
  );
});

Deno.test("configSettings: names every variable and round-trips through loadConfig", () => {
  const names = Object.keys(configSettings(loadConfig({})));
  assert.equal(names.length, 43);
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
