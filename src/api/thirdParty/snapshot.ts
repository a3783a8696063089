/** CSI `VolumeSnapshot` (snapshot.storage.k8s.io/v1), as far as the snapshot engine uses it. */
import { Schema } from "effect"
import { ObjectMeta, typeMeta } from "../meta.js"

export const VolumeSnapshotSpec = Schema.Struct({
  /** Exactly one of the two. */
  source: Schema.Struct({
    persistentVolumeClaimName: Schema.optional(Schema.String),
    volumeSnapshotContentName: Schema.optional(Schema.String)
  }),
  volumeSnapshotClassName: Schema.optional(Schema.String)
})
export type VolumeSnapshotSpec = typeof VolumeSnapshotSpec.Type

export const VolumeSnapshotStatus = Schema.Struct({
  boundVolumeSnapshotContentName: Schema.optional(Schema.String),
  creationTime: Schema.optional(Schema.String),
  readyToUse: Schema.optional(Schema.Boolean),
  /** A resource quantity such as `1Gi`. */
  restoreSize: Schema.optional(Schema.String),
  error: Schema.optional(
    Schema.Struct({
      time: Schema.optional(Schema.String),
      message: Schema.optional(Schema.String)
    })
  )
})
export type VolumeSnapshotStatus = typeof VolumeSnapshotStatus.Type

export const VolumeSnapshot = Schema.Struct({
  ...typeMeta("snapshot.storage.k8s.io/v1", "VolumeSnapshot"),
  metadata: ObjectMeta,
  spec: Schema.optional(VolumeSnapshotSpec),
  status: Schema.optional(VolumeSnapshotStatus)
})
export type VolumeSnapshot = typeof VolumeSnapshot.Type
