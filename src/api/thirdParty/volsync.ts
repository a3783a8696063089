/** VolSync `ReplicationSource` and `ReplicationDestination` (volsync.backube/v1alpha1). */
import { Schema } from "effect"
import { ObjectMeta, typeMeta } from "../meta.js"
import { FreeFormObject } from "../schemaKit.js"
import { ForeignCondition } from "./common.js"

export const CopyMethod = Schema.Literal("Direct", "None", "Clone", "Snapshot")

export const ReplicationTrigger = Schema.Struct({
  /** Cron schedule. */
  schedule: Schema.optional(Schema.String),
  /** Any new value starts one sync; reflected in `status.lastManualSync` once done. */
  manual: Schema.optional(Schema.String)
})

/**
 * Mover settings (`restic`, `rsync`, `rsyncTLS`, `rclone`, `syncthing`): the keys the operator sets
 * are typed, everything else is kept as written.
 */
const MoverSpec = Schema.Struct({
  copyMethod: Schema.optional(CopyMethod),
  repository: Schema.optional(Schema.String),
  storageClassName: Schema.optional(Schema.String),
  volumeSnapshotClassName: Schema.optional(Schema.String),
  capacity: Schema.optional(Schema.String),
  accessModes: Schema.optional(Schema.Array(Schema.String)),
  destinationPVC: Schema.optional(Schema.String),
  moverServiceAccount: Schema.optional(Schema.String)
})
export type MoverSpec = typeof MoverSpec.Type

export const ReplicationSourceSpec = Schema.Struct({
  sourcePVC: Schema.optional(Schema.String),
  trigger: Schema.optional(ReplicationTrigger),
  restic: Schema.optional(MoverSpec),
  rsync: Schema.optional(FreeFormObject),
  rsyncTLS: Schema.optional(FreeFormObject),
  rclone: Schema.optional(FreeFormObject),
  syncthing: Schema.optional(FreeFormObject),
  external: Schema.optional(FreeFormObject),
  paused: Schema.optional(Schema.Boolean)
})

const MoverStatus = Schema.Struct({
  result: Schema.optional(Schema.String),
  logs: Schema.optional(Schema.String)
})

export const ReplicationSourceStatus = Schema.Struct({
  conditions: Schema.optional(Schema.Array(ForeignCondition)),
  lastSyncTime: Schema.optional(Schema.String),
  lastSyncStartTime: Schema.optional(Schema.String),
  lastSyncDuration: Schema.optional(Schema.String),
  nextSyncTime: Schema.optional(Schema.String),
  lastManualSync: Schema.optional(Schema.String),
  latestMoverStatus: Schema.optional(MoverStatus)
})

export const ReplicationSource = Schema.Struct({
  ...typeMeta("volsync.backube/v1alpha1", "ReplicationSource"),
  metadata: ObjectMeta,
  spec: Schema.optional(ReplicationSourceSpec),
  status: Schema.optional(ReplicationSourceStatus)
})
export type ReplicationSource = typeof ReplicationSource.Type

export const ReplicationDestinationSpec = Schema.Struct({
  trigger: Schema.optional(ReplicationTrigger),
  restic: Schema.optional(MoverSpec),
  rsync: Schema.optional(FreeFormObject),
  rsyncTLS: Schema.optional(FreeFormObject),
  rclone: Schema.optional(FreeFormObject),
  syncthing: Schema.optional(FreeFormObject),
  external: Schema.optional(FreeFormObject),
  paused: Schema.optional(Schema.Boolean)
})

export const ReplicationDestinationStatus = Schema.Struct({
  conditions: Schema.optional(Schema.Array(ForeignCondition)),
  lastSyncTime: Schema.optional(Schema.String),
  lastSyncStartTime: Schema.optional(Schema.String),
  lastSyncDuration: Schema.optional(Schema.String),
  nextSyncTime: Schema.optional(Schema.String),
  lastManualSync: Schema.optional(Schema.String),
  latestMoverStatus: Schema.optional(MoverStatus),
  /** The snapshot or PVC holding the latest synced data. */
  latestImage: Schema.optional(
    Schema.Struct({
      apiGroup: Schema.optional(Schema.NullOr(Schema.String)),
      kind: Schema.String,
      name: Schema.String
    })
  )
})

export const ReplicationDestination = Schema.Struct({
  ...typeMeta("volsync.backube/v1alpha1", "ReplicationDestination"),
  metadata: ObjectMeta,
  spec: Schema.optional(ReplicationDestinationSpec),
  status: Schema.optional(ReplicationDestinationStatus)
})
export type ReplicationDestination = typeof ReplicationDestination.Type
