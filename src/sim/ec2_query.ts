/** EC2 Query-protocol request parsing: flat `Name.N.Member` form parameters into typed values. */
import { Ec2Error, type Filter, type Tag } from "../aws/ec2_port.ts";

/** The decoded parameters of one Query request. */
export class QueryParams {
  readonly #p: Map<string, string>;

  constructor(entries: Iterable<[string, string]>) {
    this.#p = new Map(entries);
  }

  /** Parses a form body and/or a query string. */
  static parse(body: string, search = ""): QueryParams {
    const all = [...new URLSearchParams(search), ...new URLSearchParams(body)];
    return new QueryParams(all);
  }

  /** A raw value. */
  get(name: string): string | undefined {
    return this.#p.get(name);
  }

  /** A required string (MissingParameter when absent). */
  need(name: string): string {
    const v = this.#p.get(name);
    if (v === undefined || v === "") {
      throw new Ec2Error("MissingParameter", `The request must contain the parameter ${name}`);
    }
    return v;
  }

  /** An optional integer (InvalidParameterValue when not an integer). */
  int(name: string): number | undefined {
    const v = this.#p.get(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v.trim())) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Value (${v}) for parameter ${name} is invalid. Expected an integer.`,
      );
    }
    return Number(v);
  }

  /** An optional boolean (`true`/`false`). */
  bool(name: string): boolean | undefined {
    const v = this.#p.get(name);
    if (v === undefined) return undefined;
    if (v !== "true" && v !== "false") {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Value (${v}) for parameter ${name} is invalid. Expected a boolean.`,
      );
    }
    return v === "true";
  }

  /** The values of a flattened list `Name.1`, `Name.2`, ... in index order. */
  list(name: string): string[] {
    return this.#indexed(name).map((i) => this.#p.get(`${name}.${i}`)!).filter((v) => v !== undefined);
  }

  /** `Filter.N.Name` / `Filter.N.Value.M`. */
  filters(name = "Filter"): Filter[] {
    return this.#indexed(name, true).map((i) => ({
      name: this.#p.get(`${name}.${i}.Name`) ?? "",
      values: this.list(`${name}.${i}.Value`),
    }));
  }

  /** `Tag.N.Key` / `Tag.N.Value` under a prefix. */
  tags(prefix: string): Tag[] {
    return this.#indexed(prefix, true).map((i) => ({
      key: this.#p.get(`${prefix}.${i}.Key`) ?? "",
      value: this.#p.get(`${prefix}.${i}.Value`) ?? "",
    }));
  }

  /** Tags of every `TagSpecification.N` whose ResourceType is `resourceType` (or unset). */
  tagSpecifications(resourceType: string): Tag[] {
    return this.#indexed("TagSpecification", true).flatMap((i) => {
      const rt = this.#p.get(`TagSpecification.${i}.ResourceType`);
      if (rt !== undefined && rt !== resourceType) {
        throw new Ec2Error(
          "InvalidParameterValue",
          `'${rt}' is not a valid taggable resource type for this operation.`,
        );
      }
      return this.tags(`TagSpecification.${i}.Tag`);
    });
  }

  /** Sorted distinct N of keys `name.N` (or `name.N.*` when `nested`). */
  #indexed(name: string, nested = false): number[] {
    const out = new Set<number>();
    const pre = `${name}.`;
    for (const k of this.#p.keys()) {
      if (!k.startsWith(pre)) continue;
      const rest = k.slice(pre.length);
      const m = nested ? /^(\d+)\./.exec(rest) : /^(\d+)$/.exec(rest);
      if (m) out.add(Number(m[1]));
    }
    return [...out].sort((a, b) => a - b);
  }
}
