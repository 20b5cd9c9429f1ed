/** The EC2 model's CreateTags on ENIs, instances and subnets. */
import { Ec2Error, type Tag } from "../aws/ec2_port.ts";
import type { Ec2Store } from "./ec2_model_store.ts";

/** EC2's NotFound code for an unknown resource ID, by its prefix. */
function notFoundCode(id: string): string {
  if (id.startsWith("eni-")) return "InvalidNetworkInterfaceID.NotFound";
  if (id.startsWith("i-")) return "InvalidInstanceID.NotFound";
  if (id.startsWith("subnet-")) return "InvalidSubnetID.NotFound";
  return "InvalidID";
}

/** CreateTags (overwrites existing keys); all or nothing. */
export function createTags(s: Ec2Store, resourceIds: string[], tags: Tag[]): void {
  const action = "CreateTags";
  s.settle();
  if (!resourceIds.length) {
    throw new Ec2Error("MissingParameter", "The request must contain ResourceId", action);
  }
  if (!tags.length) throw new Ec2Error("MissingParameter", "The request must contain Tag", action);
  const targets = resourceIds.map((id) => {
    const t = s.enis.get(id)?.tags ?? s.instances.get(id)?.tags ?? s.subnets.get(id)?.tags;
    if (!t) throw new Ec2Error(notFoundCode(id), `The ID '${id}' does not exist`, action);
    return t;
  });
  for (const t of targets) for (const { key, value } of tags) t.set(key, value ?? "");
}
