/** The tags ipamd puts on (and reads from) its ENIs, as upstream names them. */

/** The instance an ENI was made for. */
export const TAG_INSTANCE_ID = "node.k8s.amazonaws.com/instance_id";
/** When the ENI was made (RFC 3339). */
export const TAG_CREATED_AT = "node.k8s.amazonaws.com/createdAt";
/** The cluster (CLUSTER_NAME), when set. */
export const TAG_CLUSTER_NAME = "cluster.k8s.amazonaws.com/name";
/** `true`: ipamd leaves the ENI alone. */
export const TAG_NO_MANAGE = "node.k8s.amazonaws.com/no_manage";

/** What the description of every ENI ipamd makes starts with (then the instance ID). */
export const ENI_DESCRIPTION_PREFIX = "aws-K8S-";
