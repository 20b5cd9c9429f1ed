/**
 * Where pod traffic is routed, upstream's numbers in one place: the main table, the policy-rule priorities,
 * and the "device index + 1" table of each ENI. Shared by aws-cni (pod wiring, CHECK, DEL), ipamd (ENI
 * tables and rules, restart clean-up, the socket API's `routeTable`) and the tests' fakes. No npm import.
 * @module
 */

/** The main routing table. The primary ENI (device 0) uses it. */
export const MAIN_TABLE = 254;
/** `to <pod IP> lookup main`: traffic to a pod takes its /32 host route (set up by aws-cni). */
export const TO_RULE_PRIORITY = 512;
/** NodePort replies: `fwmark <mark>/<mark> lookup main`, mark AWS_VPC_K8S_CNI_CONNMARK (set up by ipamd). */
export const FWMARK_RULE_PRIORITY = 1024;
/** `to <CIDR> lookup main`, one per AWS_EXTERNAL_SERVICE_CIDRS item: ahead of the pods' `from` rules (ipamd). */
export const EXTERNAL_SERVICE_RULE_PRIORITY = 1535;
/** `from <pod IP> lookup <ENI table>`: a pod on a secondary ENI leaves through it (aws-cni; not for main). */
export const FROM_RULE_PRIORITY = 1536;
/** `from <ENI primary IP> lookup <ENI table>`, one per secondary ENI (ipamd). */
export const ENI_RULE_PRIORITY = 32765;

/** The route table of the ENI at `deviceNumber`: main for the primary ENI, device index + 1 otherwise. */
export function routeTableOf(deviceNumber: number): number {
  return deviceNumber === 0 ? MAIN_TABLE : deviceNumber + 1;
}
