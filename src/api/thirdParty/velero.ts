/** Velero `Backup` and `Restore` (velero.io/v1), as far as the velero engine uses them. */
import { Schema } from "effect"
import { ObjectMeta, typeMeta } from "../meta.js"
import { FreeFormObject, StringMap } from "../schemaKit.js"

const StringList = Schema.Array(Schema.String)

/** A Kubernetes label selector (`matchLabels` / `matchExpressions`). */
export const LabelSelector = Schema.Struct({
  matchLabels: Schema.optional(StringMap),
  matchExpressions: Schema.optional(
    Schema.Array(
      Schema.Struct({
        key: Schema.String,
        operator: Schema.String,
        values: Schema.optional(StringList)
      })
    )
  )
})

export const VeleroBackupSpec = Schema.Struct({
  includedNamespaces: Schema.optional(StringList),
  excludedNamespaces: Schema.optional(StringList),
  includedResources: Schema.optional(StringList),
  excludedResources: Schema.optional(StringList),
  labelSelector: Schema.optional(LabelSelector),
  snapshotVolumes: Schema.optional(Schema.Boolean),
  /** A Go duration such as `720h0m0s`. */
  ttl: Schema.optional(Schema.String),
  storageLocation: Schema.optional(Schema.String),
  volumeSnapshotLocations: Schema.optional(StringList),
  includeClusterResources: Schema.optional(Schema.Boolean),
  defaultVolumesToFsBackup: Schema.optional(Schema.Boolean),
  snapshotMoveData: Schema.optional(Schema.Boolean),
  csiSnapshotTimeout: Schema.optional(Schema.String),
  itemOperationTimeout: Schema.optional(Schema.String),
  hooks: Schema.optional(FreeFormObject)
})
export type VeleroBackupSpec = typeof VeleroBackupSpec.Type

/** Backup phases; terminal: Completed, PartiallyFailed, Failed, FailedValidation. */
export const VeleroBackupPhases = [
  "New",
  "Queued",
  "ReadyToStart",
  "FailedValidation",
  "InProgress",
  "WaitingForPluginOperations",
  "WaitingForPluginOperationsPartiallyFailed",
  "Finalizing",
  "FinalizingPartiallyFailed",
  "Completed",
  "PartiallyFailed",
  "Failed",
  "Deleting"
] as const

const ProgressCounts = Schema.Struct({
  totalItems: Schema.optional(Schema.Number),
  itemsBackedUp: Schema.optional(Schema.Number),
  itemsRestored: Schema.optional(Schema.Number)
})

export const VeleroBackupStatus = Schema.Struct({
  phase: Schema.optional(Schema.String),
  failureReason: Schema.optional(Schema.String),
  validationErrors: Schema.optional(StringList),
  warnings: Schema.optional(Schema.Number),
  errors: Schema.optional(Schema.Number),
  startTimestamp: Schema.optional(Schema.String),
  completionTimestamp: Schema.optional(Schema.String),
  expiration: Schema.optional(Schema.String),
  progress: Schema.optional(ProgressCounts),
  volumeSnapshotsAttempted: Schema.optional(Schema.Number),
  volumeSnapshotsCompleted: Schema.optional(Schema.Number),
  csiVolumeSnapshotsAttempted: Schema.optional(Schema.Number),
  csiVolumeSnapshotsCompleted: Schema.optional(Schema.Number)
})
export type VeleroBackupStatus = typeof VeleroBackupStatus.Type

export const VeleroBackup = Schema.Struct({
  ...typeMeta("velero.io/v1", "Backup"),
  metadata: ObjectMeta,
  spec: Schema.optional(VeleroBackupSpec),
  status: Schema.optional(VeleroBackupStatus)
})
export type VeleroBackup = typeof VeleroBackup.Type

export const VeleroRestoreSpec = Schema.Struct({
  backupName: Schema.optional(Schema.String),
  scheduleName: Schema.optional(Schema.String),
  includedNamespaces: Schema.optional(StringList),
  excludedNamespaces: Schema.optional(StringList),
  includedResources: Schema.optional(StringList),
  excludedResources: Schema.optional(StringList),
  namespaceMapping: Schema.optional(StringMap),
  labelSelector: Schema.optional(LabelSelector),
  restorePVs: Schema.optional(Schema.Boolean),
  preserveNodePorts: Schema.optional(Schema.Boolean),
  includeClusterResources: Schema.optional(Schema.Boolean),
  existingResourcePolicy: Schema.optional(Schema.String),
  itemOperationTimeout: Schema.optional(Schema.String),
  hooks: Schema.optional(FreeFormObject)
})
export type VeleroRestoreSpec = typeof VeleroRestoreSpec.Type

/** Restore phases; terminal: Completed, PartiallyFailed, Failed, FailedValidation. */
export const VeleroRestorePhases = [
  "New",
  "FailedValidation",
  "InProgress",
  "WaitingForPluginOperations",
  "WaitingForPluginOperationsPartiallyFailed",
  "Finalizing",
  "FinalizingPartiallyFailed",
  "Completed",
  "PartiallyFailed",
  "Failed"
] as const

export const VeleroRestoreStatus = Schema.Struct({
  phase: Schema.optional(Schema.String),
  failureReason: Schema.optional(Schema.String),
  validationErrors: Schema.optional(StringList),
  warnings: Schema.optional(Schema.Number),
  errors: Schema.optional(Schema.Number),
  startTimestamp: Schema.optional(Schema.String),
  completionTimestamp: Schema.optional(Schema.String),
  progress: Schema.optional(ProgressCounts)
})
export type VeleroRestoreStatus = typeof VeleroRestoreStatus.Type

export const VeleroRestore = Schema.Struct({
  ...typeMeta("velero.io/v1", "Restore"),
  metadata: ObjectMeta,
  spec: Schema.optional(VeleroRestoreSpec),
  status: Schema.optional(VeleroRestoreStatus)
})
export type VeleroRestore = typeof VeleroRestore.Type
