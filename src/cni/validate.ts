/** libcni's validation rules for container IDs, interface names and network names. */
import { CniError, Code } from "./spec.ts";

const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** Throws code 4 unless `id` is a valid container ID. */
export function validateContainerId(id: string): void {
  if (id === "") throw new CniError(Code.INVALID_ENV, "CNI_CONTAINERID is empty");
  if (!ID_PATTERN.test(id)) {
    throw new CniError(Code.INVALID_ENV, `CNI_CONTAINERID "${id}" is invalid`, "must match " + ID_PATTERN);
  }
}

/** Returns why `name` is not a valid interface name, or undefined when it is. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (new TextEncoder().encode(name).length > 15) return "is longer than 15 bytes";
  if (name === "." || name === "..") return "is . or ..";
  if (/[/:\s]/.test(name)) return "contains /, : or whitespace";
  return undefined;
}

/** Throws code 4 unless `name` is a valid interface name (`CNI_IFNAME`). */
export function validateIfName(name: string): void {
  const p = interfaceNameProblem(name);
  if (p) throw new CniError(Code.INVALID_ENV, `CNI_IFNAME "${name}" ${p}`);
}

/** Throws code 7 unless `name` is a valid network name. */
export function validateNetworkName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name === "") {
    throw new CniError(Code.INVALID_CONFIG, "network config: name is missing");
  }
  if (!ID_PATTERN.test(name)) {
    throw new CniError(
      Code.INVALID_CONFIG,
      `network config: name "${name}" is invalid`,
      "must match " + ID_PATTERN,
    );
  }
}
