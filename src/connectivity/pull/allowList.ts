/**
 * The kinds the Pull agent may write. A job for any other kind is refused with a `failed` result
 * before any write: a control plane must not be able to create, say, a ClusterRoleBinding through
 * the agent. The chart's RBAC for the agent is generated from the same list (src/rbac.ts).
 */
import { Resources } from "../../kube/resources.js"
import { apiVersionOf, type ResourceType } from "../../kube/object.js"

export const VeleroBackupStorageLocation: ResourceType = {
  group: "velero.io",
  version: "v1",
  kind: "BackupStorageLocation",
  plural: "backupstoragelocations",
  namespaced: true
}

/** Our three CRDs, Namespace, ConfigMap, Secret, and the third-party kinds the engines need. */
export const defaultAllowedKinds: ReadonlyArray<ResourceType> = [
  Resources.ApplicationInstance,
  Resources.Operation,
  Resources.Cluster,
  Resources.Namespace,
  Resources.ConfigMap,
  Resources.Secret,
  VeleroBackupStorageLocation
]

/** The allowed type of `apiVersion`/`kind`, or undefined. */
export const lookupKind = (
  allowed: ReadonlyArray<ResourceType>,
  apiVersion: string,
  kind: string
): ResourceType | undefined => allowed.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind)

export const describeAllowed = (allowed: ReadonlyArray<ResourceType>): string =>
  allowed.map((t) => `${apiVersionOf(t)} ${t.kind}`).join(", ")
