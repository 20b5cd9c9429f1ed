/**
 * Embedded EC2 instance-type limits: the fast path before DescribeInstanceTypes, and the lab's catalogue.
 * Figures are EC2's published limits (ENIs, IPv4 addresses per ENI, vCPUs, hypervisor).
 */
import type { InstanceTypeInfo } from "./ec2_port.ts";

const TABLE: InstanceTypeInfo[] = [
  { instanceType: "t2.micro", maxEnis: 2, ipv4PerEni: 2, vcpus: 1, hypervisor: "xen" },
  { instanceType: "t3.medium", maxEnis: 3, ipv4PerEni: 6, vcpus: 2, hypervisor: "nitro" },
  { instanceType: "t3.large", maxEnis: 3, ipv4PerEni: 12, vcpus: 2, hypervisor: "nitro" },
  { instanceType: "m5.large", maxEnis: 3, ipv4PerEni: 10, vcpus: 2, hypervisor: "nitro" },
  { instanceType: "m5.xlarge", maxEnis: 4, ipv4PerEni: 15, vcpus: 4, hypervisor: "nitro" },
  { instanceType: "m4.4xlarge", maxEnis: 8, ipv4PerEni: 30, vcpus: 16, hypervisor: "xen" },
  { instanceType: "m5.4xlarge", maxEnis: 8, ipv4PerEni: 30, vcpus: 16, hypervisor: "nitro" },
  { instanceType: "c5.18xlarge", maxEnis: 15, ipv4PerEni: 50, vcpus: 72, hypervisor: "nitro" },
  { instanceType: "m5.24xlarge", maxEnis: 15, ipv4PerEni: 50, vcpus: 96, hypervisor: "nitro" },
];

const BY_NAME = new Map(TABLE.map((t) => [t.instanceType, t]));

/** The embedded limits of an instance type, or undefined when the table does not know it. */
export function lookupInstanceType(instanceType: string): InstanceTypeInfo | undefined {
  const t = BY_NAME.get(instanceType);
  return t && { ...t };
}

/** Every instance type the table knows. */
export function knownInstanceTypes(): string[] {
  return TABLE.map((t) => t.instanceType);
}
