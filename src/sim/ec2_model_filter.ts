/** EC2 Describe* filters (`Filter.N.Name` / `Filter.N.Value.M`, with `*` and `?` wildcards) and NextToken pages. */
import { Ec2Error, type Filter, type NetworkInterface, type Subnet, type Tag } from "../aws/ec2_port.ts";

/** Glob match as EC2 does for filter values: `*` any run, `?` one character, case-sensitive. */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes("*") && !pattern.includes("?")) return pattern === value;
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${re}$`, "s").test(value);
}

/**
 * Reads the values a named filter looks at on one resource; undefined means "unknown filter".
 * Called with `null` to ask only whether the name is known.
 */
export type FilterFields<T> = (item: T | null, name: string) => string[] | undefined;

/** Field reader for the `tag:<key>` and `tag-key` / `tag-value` filters. */
export function tagFilterValues(tags: Tag[] | undefined, name: string): string[] | undefined {
  if (name.startsWith("tag:")) {
    const key = name.slice(4);
    return (tags ?? []).filter((t) => t.key === key).map((t) => t.value);
  }
  if (name === "tag-key") return (tags ?? []).map((t) => t.key);
  if (name === "tag-value") return (tags ?? []).map((t) => t.value);
  return undefined;
}

/**
 * Keeps the items matching every filter (AND across filters, OR across one filter's values).
 * Throws InvalidParameterValue for a filter name `fields` does not know.
 */
export function applyFilters<T>(items: T[], filters: Filter[] | undefined, fields: FilterFields<T>): T[] {
  if (!filters?.length) return items;
  for (const f of filters) {
    if (!f.name) throw new Ec2Error("InvalidParameterValue", "The filter name must not be empty");
    if (fields(null, f.name) === undefined) {
      throw new Ec2Error("InvalidParameterValue", `The filter '${f.name}' is invalid`);
    }
    if (!f.values?.length) {
      throw new Ec2Error("InvalidParameterValue", `The filter '${f.name}' needs at least one value`);
    }
  }
  return items.filter((item) =>
    filters.every((f) => {
      const have = fields(item, f.name) ?? [];
      return f.values.some((want) => have.some((v) => globMatch(want, v)));
    })
  );
}

/** Validates MaxResults against EC2's range for a call. */
export function checkMaxResults(maxResults: number | undefined, min = 5, max = 1000): void {
  if (maxResults === undefined) return;
  if (!Number.isInteger(maxResults) || maxResults < min || maxResults > max) {
    throw new Ec2Error(
      "InvalidParameterValue",
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
}

/** Encodes the resume point (sequence number of the last item returned). */
export function encodeToken(lastSeq: number): string {
  return btoa(`vpc-cni-lab:${lastSeq}`);
}

/** Decodes a NextToken; InvalidPaginationToken when it is not ours. */
export function decodeToken(token: string): number {
  let text = "";
  try {
    text = atob(token);
  } catch {
    // falls through to the error below
  }
  const m = /^vpc-cni-lab:(\d+)$/.exec(text);
  if (!m) throw new Ec2Error("InvalidPaginationToken", `Invalid pagination token: ${token}`);
  return Number(m[1]);
}

/** One page of items ordered by `seq`, starting after the token's sequence number. */
export function paginate<T>(
  items: T[],
  seqOf: (t: T) => number,
  maxResults: number | undefined,
  nextToken: string | undefined,
): { items: T[]; nextToken?: string } {
  const after = nextToken ? decodeToken(nextToken) : -1;
  const rest = items.filter((i) => seqOf(i) > after).sort((a, b) => seqOf(a) - seqOf(b));
  if (maxResults === undefined || rest.length <= maxResults) return { items: rest };
  const page = rest.slice(0, maxResults);
  return { items: page, nextToken: encodeToken(seqOf(page[page.length - 1])) };
}

/** Values a DescribeNetworkInterfaces filter looks at; undefined for an unknown filter name. */
export function eniFilterValues(v: NetworkInterface | null, name: string): string[] | undefined {
  const a = v?.attachment;
  const one = (x: string | undefined) => (x === undefined ? [] : [x]);
  switch (name) {
    case "network-interface-id":
      return one(v?.networkInterfaceId);
    case "attachment.instance-id":
      return one(a?.instanceId);
    case "attachment.attachment-id":
      return one(a?.attachmentId);
    case "attachment.status":
      return one(a?.status);
    case "attachment.device-index":
      return one(a && String(a.deviceIndex));
    case "attachment.delete-on-termination":
      return one(a && String(a.deleteOnTermination));
    case "status":
      return one(v?.status);
    case "subnet-id":
      return one(v?.subnetId);
    case "vpc-id":
      return one(v?.vpcId);
    case "availability-zone":
      return one(v?.availabilityZone);
    case "description":
      return one(v?.description);
    case "mac-address":
      return one(v?.macAddress);
    case "private-ip-address":
    case "addresses.private-ip-address":
      return (v?.privateIps ?? []).map((p) => p.address);
    case "ipv4-prefixes.ipv4-prefix":
      return v?.ipv4Prefixes ?? [];
    case "group-id":
      return v?.securityGroupIds ?? [];
    case "source-dest-check":
      return one(v ? String(v.sourceDestCheck) : undefined);
    default:
      return tagFilterValues(v?.tags, name);
  }
}

/** Values a DescribeSubnets filter looks at; undefined for an unknown filter name. */
export function subnetFilterValues(s: Subnet | null, name: string): string[] | undefined {
  const one = (x: string | undefined) => (x === undefined ? [] : [x]);
  switch (name) {
    case "subnet-id":
      return one(s?.subnetId);
    case "vpc-id":
      return one(s?.vpcId);
    case "availability-zone":
      return one(s?.availabilityZone);
    case "cidr-block":
    case "cidr":
      return one(s?.cidrBlock);
    case "state":
      return ["available"];
    default:
      return tagFilterValues(s?.tags, name);
  }
}
