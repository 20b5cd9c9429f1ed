/** EC2 Query-protocol XML rendering: the response envelope, errors, and the shapes ipamd reads. */
import type { InstanceTypeInfo, NetworkInterface, Subnet, Tag } from "../aws/ec2_port.ts";

/** EC2's response namespace. */
export const EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";

/** Escapes text for XML element content (`&`, `<`, `>`; quotes need no escaping there). */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

/** `<name>escaped text</name>`; undefined renders nothing. */
export function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? "" : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** `<name>` wrapping already-rendered XML. */
export function wrap(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}

/** An EC2 item list: `<name><item>…</item>…</name>`. */
export function items<T>(name: string, list: T[], render: (t: T) => string): string {
  return wrap(name, list.map((x) => wrap("item", render(x))).join(""));
}

/** The success envelope `<ActionResponse xmlns><requestId/>…</ActionResponse>`. */
export function responseXml(action: string, requestId: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">` +
    `${el("requestId", requestId)}${inner}</${action}Response>`;
}

/** EC2's error document. */
export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el("Code", code)}${
    el("Message", message)
  }</Error></Errors>${el("RequestID", requestId)}</Response>`;
}

/** `tagSet`. */
export function tagSetXml(tags: Tag[]): string {
  return items("tagSet", tags, (t) => el("key", t.key) + el("value", t.value));
}

/** The members of a NetworkInterface (DescribeNetworkInterfaces / CreateNetworkInterface shape). */
export function eniXml(e: NetworkInterface, ownerId: string): string {
  const a = e.attachment;
  return el("networkInterfaceId", e.networkInterfaceId) +
    el("subnetId", e.subnetId) +
    el("vpcId", e.vpcId) +
    el("availabilityZone", e.availabilityZone) +
    el("description", e.description) +
    el("ownerId", ownerId) +
    el("requesterManaged", false) +
    el("status", e.status) +
    el("macAddress", e.macAddress) +
    el("privateIpAddress", e.privateIpAddress) +
    el("sourceDestCheck", e.sourceDestCheck) +
    el("interfaceType", "interface") +
    items("groupSet", e.securityGroupIds, (g) => el("groupId", g) + el("groupName", g)) +
    (a
      ? wrap(
        "attachment",
        el("attachmentId", a.attachmentId) + el("instanceId", a.instanceId) + el("instanceOwnerId", ownerId) +
          el("deviceIndex", a.deviceIndex) + el("networkCardIndex", 0) + el("status", a.status) +
          el("attachTime", a.attachTime) + el("deleteOnTermination", a.deleteOnTermination),
      )
      : "") +
    tagSetXml(e.tags) +
    items(
      "privateIpAddressesSet",
      e.privateIps,
      (p) => el("privateIpAddress", p.address) + el("primary", p.primary),
    ) +
    items("ipv4PrefixSet", e.ipv4Prefixes, (p) => el("ipv4Prefix", p)) +
    ipv6Xml(e);
}

/** An interface's `ipv6AddressesSet` and `ipv6PrefixSet`. */
function ipv6Xml(e: NetworkInterface): string {
  return items(
    "ipv6AddressesSet",
    e.ipv6Addresses ?? [],
    (a) => el("ipv6Address", a) + el("isPrimaryIpv6", false),
  ) +
    items("ipv6PrefixSet", e.ipv6Prefixes ?? [], (p) => el("ipv6Prefix", p));
}

/** The members of an InstanceNetworkInterface (inside DescribeInstances). */
export function instanceEniXml(e: NetworkInterface, ownerId: string): string {
  const a = e.attachment;
  return el("networkInterfaceId", e.networkInterfaceId) +
    el("subnetId", e.subnetId) +
    el("vpcId", e.vpcId) +
    el("description", e.description) +
    el("ownerId", ownerId) +
    el("status", e.status) +
    el("macAddress", e.macAddress) +
    el("privateIpAddress", e.privateIpAddress) +
    el("sourceDestCheck", e.sourceDestCheck) +
    el("interfaceType", "interface") +
    items("groupSet", e.securityGroupIds, (g) => el("groupId", g) + el("groupName", g)) +
    (a
      ? wrap(
        "attachment",
        el("attachmentId", a.attachmentId) + el("deviceIndex", a.deviceIndex) + el("networkCardIndex", 0) +
          el("status", a.status) + el("attachTime", a.attachTime) +
          el("deleteOnTermination", a.deleteOnTermination),
      )
      : "") +
    tagSetXml(e.tags) +
    items(
      "privateIpAddressesSet",
      e.privateIps,
      (p) => el("privateIpAddress", p.address) + el("primary", p.primary),
    ) +
    items("ipv4PrefixSet", e.ipv4Prefixes, (p) => el("ipv4Prefix", p)) +
    ipv6Xml(e);
}

/** A Subnet item. */
export function subnetXml(s: Subnet, ownerId: string): string {
  return el("subnetId", s.subnetId) + el("subnetArn", `arn:aws:ec2:::subnet/${s.subnetId}`) +
    el("state", "available") +
    el("ownerId", ownerId) + el("vpcId", s.vpcId) + el("cidrBlock", s.cidrBlock) +
    el("availableIpAddressCount", s.availableIpAddressCount) + el("availabilityZone", s.availabilityZone) +
    el("defaultForAz", false) + el("mapPublicIpOnLaunch", false) + tagSetXml(s.tags) +
    el("assignIpv6AddressOnCreation", s.assignIpv6AddressOnCreation ?? false) +
    items(
      "ipv6CidrBlockAssociationSet",
      s.ipv6CidrBlocks ?? [],
      (c) =>
        el("ipv6CidrBlock", c) + el("associationId", `subnet-cidr-assoc-${s.subnetId.slice(7)}`) +
        wrap("ipv6CidrBlockState", el("state", "associated")),
    ) + el("ipv6Native", false);
}

/** An InstanceTypeInfo item. */
export function instanceTypeXml(t: InstanceTypeInfo): string {
  return el("instanceType", t.instanceType) + el("currentGeneration", true) + el("hypervisor", t.hypervisor) +
    el("bareMetal", false) +
    wrap("vCpuInfo", el("defaultVCpus", t.vcpus)) +
    wrap(
      "networkInfo",
      el("maximumNetworkInterfaces", t.maxEnis) + el("maximumNetworkCards", t.networkCards ?? 1) +
        el("defaultNetworkCardIndex", 0) + el("ipv4AddressesPerInterface", t.ipv4PerEni) +
        el("ipv6AddressesPerInterface", t.ipv4PerEni) + el("ipv6Supported", true) +
        items(
          "networkCards",
          Array.from({ length: t.networkCards ?? 1 }, (_, i) => i),
          (i) => el("networkCardIndex", i) + el("maximumNetworkInterfaces", t.maxEnis),
        ),
    );
}
