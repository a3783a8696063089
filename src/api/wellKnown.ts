/**
 * Label, annotation and finalizer keys, field managers and fixed object names. These strings are
 * part of the wire contract (spec/api.md §6): keep them byte-identical.
 */

export const Groups = {
  apps: "apps.vworkspace.io",
  ops: "ops.vworkspace.io"
} as const

export const ApiVersions = {
  ApplicationInstance: "apps.vworkspace.io/v1alpha1",
  Operation: "ops.vworkspace.io/v1alpha1",
  Cluster: "ops.vworkspace.io/v1alpha1"
} as const

export const Labels = {
  /** On AI/Operation (value `control-plane`, set by the Pull applier) and on everything the operator creates. */
  managedBy: "app.vworkspace.io/managed-by",
  clusterId: "app.vworkspace.io/cluster-id",
  /** On HelmRelease, chart source and other children of an ApplicationInstance: the AI's name. */
  applicationInstance: "app.vworkspace.io/application-instance",
  /** On engine workloads (Job + pod template, Workflow, Velero objects, …): the Operation's UID. */
  operation: "ops.vworkspace.io/operation",
  /** On helmHookJob Jobs and their pod template: `parameters.hookName`. */
  hookName: "ops.vworkspace.io/hook-name",
  /** Reserved (ADR 0004): the parent Operation's UID on child Operations. */
  parentOperation: "ops.vworkspace.io/parent-operation"
} as const

export const ManagedBy = {
  /** Value of `app.vworkspace.io/managed-by` on objects the control plane asked for. */
  controlPlane: "control-plane",
  /** Value of `app.vworkspace.io/managed-by` on objects the operator materialises. */
  operator: "vworkspace-operator",
  /** Historic value (before v0.0.6); read-compatible only. */
  legacyOdoo: "odoo"
} as const

/** The namespace gate: the operator acts only in namespaces labelled `managed-by=vworkspace`. */
export const NamespaceGate = {
  label: "managed-by",
  value: "vworkspace",
  selector: "managed-by=vworkspace"
} as const

/** Operation verbs whose capability annotation an ApplicationInstance carries (`ops.vworkspace.io/<verb>`). */
export const CapabilityVerbs = ["backup", "restore", "upgrade", "migration", "runcommand", "runbook"] as const
export type CapabilityVerb = (typeof CapabilityVerbs)[number]

export const capabilityAnnotation = (verb: string): string => `ops.vworkspace.io/${verb.trim()}`

export const Annotations = {
  capabilityBackup: "ops.vworkspace.io/backup",
  capabilityRestore: "ops.vworkspace.io/restore",
  capabilityUpgrade: "ops.vworkspace.io/upgrade",
  capabilityMigration: "ops.vworkspace.io/migration",
  capabilityRunCommand: "ops.vworkspace.io/runcommand",
  capabilityRunbook: "ops.vworkspace.io/runbook",
  /** Documented capabilities that no built-in template uses. */
  capabilityQuiesce: "ops.vworkspace.io/quiesce",
  capabilitySnapshot: "ops.vworkspace.io/snapshot",
  capabilityReplicate: "ops.vworkspace.io/replicate",
  /** On a Namespace: comma-separated Operation types allowed there. */
  allowedTypes: "ops.vworkspace.io/allowed-types",
  /** On a Cluster: forces a registration-token re-exchange; removed after success. */
  rotateCredentials: "ops.vworkspace.io/rotate-credentials",
  /** On an ApplicationInstance: `disabled` suspends the HelmRelease (`Suspended=True`). */
  reconcile: "apps.vworkspace.io/reconcile",
  /** On an Operation: `true` cancels it (workload deleted, phase `Cancelled/UserCancelled`). */
  cancel: "ops.vworkspace.io/cancel",
  reportedManagedStorageKey: "vworkspace.io/reported-managed-storage-key",
  managedStorageClaim: "vworkspace.io/managed-storage-claim",
  managedStorageAckRetry: "vworkspace.io/managed-storage-ack-retry",
  reportedManagedStorageFailed: "vworkspace.io/reported-managed-storage-failed",
  appliedIntentHash: "vworkspace.io/applied-intent-hash",
  lastAppliedGeneration: "vworkspace.io/last-applied-generation",
  /** On helmHookJob Jobs: `parameters.hookName`. */
  helmHook: "helm.sh/hook"
} as const

export const AnnotationValues = {
  reconcileDisabled: "disabled",
  cancelTrue: "true"
} as const

export const Finalizers = {
  applicationInstance: "apps.vworkspace.io/finalizer",
  operation: "ops.vworkspace.io/finalizer",
  cluster: "ops.vworkspace.io/cluster-cleanup"
} as const

export const FieldManagers = {
  /** Controllers (reconcilers, engines, status writes). */
  operator: "vworkspace-operator",
  /** The Pull-mode applier (server-side apply with force). */
  agent: "vworkspace-agent",
  /** `vworkspace-operator register`. */
  cli: "vworkspace-cli"
} as const

export const Names = {
  defaultOperatorNamespace: "vworkspace-system",
  operationRunnerServiceAccount: "vworkspace-operation-runner",
  defaultVeleroNamespace: "velero",
  agentCredentialsSecret: "vworkspace-agent-credentials",
  appliedJobsConfigMap: "vworkspace-applied-jobs",
  appliedJobsKey: "applied-keys.json",
  defaultRegistrationTokenKey: "registrationToken"
} as const

/** Data keys of the agent credentials Secret. */
export const CredentialKeys = {
  controlPlaneBaseUrl: "control-plane-base-url",
  clusterId: "cluster-id",
  token: "token"
} as const

export const Webhooks = {
  operation: { name: "voperation.kb.io", path: "/validate-ops-vworkspace-io-v1alpha1-operation" },
  applicationInstance: {
    name: "vapplicationinstance.kb.io",
    path: "/validate-apps-vworkspace-io-v1alpha1-applicationinstance"
  }
} as const
