import type { ResourceType } from "./object.js"

const rt = (group: string, version: string, kind: string, plural: string, namespaced = true): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced
})

/** Every kind the operator talks to, in one place. */
export const Resources = {
  ApplicationInstance: rt("apps.vworkspace.io", "v1alpha1", "ApplicationInstance", "applicationinstances"),
  Operation: rt("ops.vworkspace.io", "v1alpha1", "Operation", "operations"),
  Cluster: rt("ops.vworkspace.io", "v1alpha1", "Cluster", "clusters", false),
  Namespace: rt("", "v1", "Namespace", "namespaces", false),
  Secret: rt("", "v1", "Secret", "secrets"),
  ConfigMap: rt("", "v1", "ConfigMap", "configmaps"),
  Event: rt("", "v1", "Event", "events"),
  ServiceAccount: rt("", "v1", "ServiceAccount", "serviceaccounts"),
  PersistentVolumeClaim: rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
  Lease: rt("coordination.k8s.io", "v1", "Lease", "leases"),
  Job: rt("batch", "v1", "Job", "jobs"),
  Pod: rt("", "v1", "Pod", "pods"),
  CustomResourceDefinition: rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false),
  HelmRelease: rt("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
  HelmRepository: rt("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories"),
  OCIRepository: rt("source.toolkit.fluxcd.io", "v1", "OCIRepository", "ocirepositories"),
  GitRepository: rt("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
  Kustomization: rt("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
  VeleroBackup: rt("velero.io", "v1", "Backup", "backups"),
  VeleroRestore: rt("velero.io", "v1", "Restore", "restores"),
  Workflow: rt("argoproj.io", "v1alpha1", "Workflow", "workflows"),
  ReplicationSource: rt("volsync.backube", "v1alpha1", "ReplicationSource", "replicationsources"),
  ReplicationDestination: rt("volsync.backube", "v1alpha1", "ReplicationDestination", "replicationdestinations"),
  VolumeSnapshot: rt("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots")
} as const
