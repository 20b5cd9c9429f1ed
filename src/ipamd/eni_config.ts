/**
 * Custom networking (AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true): secondary ENIs go in the subnet, with the
 * security groups, of the node's ENIConfig (`crd.k8s.amazonaws.com/v1alpha1`, cluster-scoped).
 *
 * The ENIConfig's name comes from the node: the annotation `ENI_CONFIG_ANNOTATION_DEF` wins, then the label
 * `ENI_CONFIG_LABEL_DEF` (both default `k8s.amazonaws.com/eniConfig`), else the ENIConfig named `default`
 * (upstream's precedence and fallback). An ENIConfig without security groups uses the primary ENI's.
 * A change of the node's label or annotation (seen through `KubePort.watchNode`) applies to ENIs made after it;
 * existing ENIs stay where they are.
 */
import type { EniConfigSpec, KubePort, NodeInfo } from "../k8s/port.ts";
import type { Logger } from "./log.ts";

/** The ENIConfig used when the node names none. */
export const ENI_CONFIG_DEFAULT = "default";

/** Where the ENIConfig name of a node comes from. */
export interface EniConfigKeys {
  eniConfigLabelDef: string;
  eniConfigAnnotationDef: string;
}

/** The node's ENIConfig name and where it came from. Pure. */
export function eniConfigName(
  node: Pick<NodeInfo, "labels" | "annotations">,
  k: EniConfigKeys,
): { name: string; source: "annotation" | "label" | "default" } {
  const a = node.annotations[k.eniConfigAnnotationDef];
  if (a) return { name: a, source: "annotation" };
  const l = node.labels[k.eniConfigLabelDef];
  if (l) return { name: l, source: "label" };
  return { name: ENI_CONFIG_DEFAULT, source: "default" };
}

/** Subnet and security groups for new ENIs. */
export interface EniPlacement {
  subnetId: string;
  securityGroupIds: string[];
  /** The ENIConfig it came from, if any. */
  eniConfig?: string;
}

/** The placement an ENIConfig gives; `fallbackGroups` (the primary ENI's) when it lists none. Pure. */
export function placementFor(spec: EniConfigSpec, fallbackGroups: string[]): EniPlacement {
  return {
    subnetId: spec.subnet,
    securityGroupIds: spec.securityGroups.length ? [...spec.securityGroups] : [...fallbackGroups],
    eniConfig: spec.name,
  };
}

/** The node has no usable ENIConfig (start-up fails with this message). */
export class EniConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EniConfigError";
  }
}

/** Options for {@link EniConfigWatcher}. */
export interface EniConfigWatcherOptions {
  kube: Pick<KubePort, "getNode" | "getEniConfig" | "watchNode">;
  nodeName: string;
  keys: EniConfigKeys;
  /** The primary ENI's security groups, for an ENIConfig that lists none. */
  fallbackGroups: string[];
  /** Called when a node change selects a different placement. */
  onChange?: (p: EniPlacement) => void;
  log?: Logger;
}

/** Resolves the node's ENIConfig and follows node changes. */
export class EniConfigWatcher {
  current?: EniPlacement;
  /** Every ENIConfig seen, by name (for `/v1/eni-configs`). */
  readonly seen: Record<string, EniConfigSpec> = {};

  constructor(readonly o: EniConfigWatcherOptions) {}

  async #resolve(node: Pick<NodeInfo, "labels" | "annotations">): Promise<EniPlacement> {
    const { name, source } = eniConfigName(node, this.o.keys);
    const spec = await this.o.kube.getEniConfig(name);
    if (!spec) {
      throw new EniConfigError(
        `custom networking: ENIConfig "${name}" (from the node's ${source}${
          source === "default"
            ? ": neither " + this.o.keys.eniConfigAnnotationDef + " annotation nor label"
            : ""
        }) does not exist for node ${this.o.nodeName}`,
      );
    }
    if (!spec.subnet) throw new EniConfigError(`custom networking: ENIConfig "${name}" has no spec.subnet`);
    this.seen[spec.name] = spec;
    return placementFor(spec, this.o.fallbackGroups);
  }

  /** Reads the node and its ENIConfig; throws {@link EniConfigError} when there is none. */
  async init(): Promise<EniPlacement> {
    const node = await this.o.kube.getNode(this.o.nodeName);
    return this.current = await this.#resolve(node);
  }

  /**
   * The placement for the next ENI: re-reads the current ENIConfig (one GET), so an edited `spec.subnet` or
   * `spec.securityGroups` applies too; keeps the last good placement when the read fails or it is gone.
   */
  async placement(): Promise<EniPlacement> {
    const cur = this.current;
    if (!cur?.eniConfig) return this.init();
    const seq = this.#seq;
    try {
      const spec = await this.o.kube.getEniConfig(cur.eniConfig);
      if (!spec?.subnet) {
        throw new EniConfigError(`ENIConfig "${cur.eniConfig}" is gone or has no spec.subnet`);
      }
      this.seen[spec.name] = spec;
      const p = placementFor(spec, this.o.fallbackGroups);
      if (seq === this.#seq && this.current === cur) this.current = p;
      return this.current!;
    } catch (e) {
      this.o.log?.warn("ENIConfig unreadable; using the last one", {
        err: (e as Error).message,
        keeping: cur.eniConfig,
      });
      return cur;
    }
  }

  /** Watches the node until `signal` aborts; a node change that resolves applies to the next ENIs. */
  watch(signal: AbortSignal): Promise<void> {
    return this.o.kube.watchNode(this.o.nodeName, (n) => void this.#onNode(n), signal);
  }

  #seq = 0;

  async #onNode(n: NodeInfo): Promise<void> {
    const seq = ++this.#seq;
    try {
      const p = await this.#resolve(n);
      if (seq !== this.#seq) return; // a newer node state is being resolved
      const same = this.current && p.subnetId === this.current.subnetId &&
        p.securityGroupIds.join() === this.current.securityGroupIds.join();
      if (same) return;
      this.current = p;
      this.o.log?.info("ENIConfig changed; new ENIs use it", { ...p });
      this.o.onChange?.(p);
    } catch (e) {
      this.o.log?.warn("node's ENIConfig unusable; keeping the previous one", {
        err: (e as Error).message,
        keeping: this.current?.eniConfig,
      });
    }
  }
}
