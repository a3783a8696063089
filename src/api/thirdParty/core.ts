/**
 * Built-in kinds the operator reads or writes: batch `Job`, coordination `Lease`, core `Event`,
 * `Secret`, `ConfigMap` and `Namespace`. Only the fields the operator touches are modelled.
 */
import { Schema } from "effect"
import { ObjectMeta, typeMeta } from "../meta.js"
import { FreeFormObject, StringMap } from "../schemaKit.js"
import { ForeignCondition } from "./common.js"

// ---------------------------------------------------------------------------------------------
// batch/v1 Job
// ---------------------------------------------------------------------------------------------

export const EnvVar = Schema.Struct({
  name: Schema.String,
  value: Schema.optional(Schema.String),
  /** `secretKeyRef`, `configMapKeyRef`, `fieldRef` or `resourceFieldRef`, kept as written. */
  valueFrom: Schema.optional(FreeFormObject)
})
export type EnvVar = typeof EnvVar.Type

export const Container = Schema.Struct({
  name: Schema.String,
  image: Schema.optional(Schema.String),
  command: Schema.optional(Schema.Array(Schema.String)),
  args: Schema.optional(Schema.Array(Schema.String)),
  env: Schema.optional(Schema.Array(EnvVar)),
  imagePullPolicy: Schema.optional(Schema.String),
  securityContext: Schema.optional(FreeFormObject),
  resources: Schema.optional(FreeFormObject)
})
export type Container = typeof Container.Type

export const PodTemplateSpec = Schema.Struct({
  metadata: Schema.optional(
    Schema.Struct({
      labels: Schema.optional(StringMap),
      annotations: Schema.optional(StringMap)
    })
  ),
  spec: Schema.Struct({
    containers: Schema.Array(Container),
    restartPolicy: Schema.optional(Schema.Literal("Never", "OnFailure", "Always")),
    serviceAccountName: Schema.optional(Schema.String),
    securityContext: Schema.optional(FreeFormObject)
  })
})
export type PodTemplateSpec = typeof PodTemplateSpec.Type

export const JobSpec = Schema.Struct({
  template: PodTemplateSpec,
  backoffLimit: Schema.optional(Schema.Number),
  activeDeadlineSeconds: Schema.optional(Schema.Number),
  ttlSecondsAfterFinished: Schema.optional(Schema.Number),
  suspend: Schema.optional(Schema.Boolean)
})
export type JobSpec = typeof JobSpec.Type

/** Job condition types that end a Job: `Complete` and `Failed` (True). */
export const JobConditionTypes = ["Complete", "Failed", "Suspended", "FailureTarget", "SuccessCriteriaMet"] as const

export const JobStatus = Schema.Struct({
  conditions: Schema.optional(Schema.Array(ForeignCondition)),
  active: Schema.optional(Schema.Number),
  succeeded: Schema.optional(Schema.Number),
  failed: Schema.optional(Schema.Number),
  startTime: Schema.optional(Schema.String),
  completionTime: Schema.optional(Schema.String)
})
export type JobStatus = typeof JobStatus.Type

export const Job = Schema.Struct({
  ...typeMeta("batch/v1", "Job"),
  metadata: ObjectMeta,
  spec: Schema.optional(JobSpec),
  status: Schema.optional(JobStatus)
})
export type Job = typeof Job.Type

// ---------------------------------------------------------------------------------------------
// coordination.k8s.io/v1 Lease
// ---------------------------------------------------------------------------------------------

export const LeaseSpec = Schema.Struct({
  holderIdentity: Schema.optional(Schema.NullOr(Schema.String)),
  leaseDurationSeconds: Schema.optional(Schema.NullOr(Schema.Number)),
  /** `metav1.MicroTime`: RFC 3339 with microseconds, e.g. `2026-01-02T03:04:05.000006Z`. */
  acquireTime: Schema.optional(Schema.NullOr(Schema.String)),
  renewTime: Schema.optional(Schema.NullOr(Schema.String)),
  leaseTransitions: Schema.optional(Schema.NullOr(Schema.Number))
})
export type LeaseSpec = typeof LeaseSpec.Type

export const Lease = Schema.Struct({
  ...typeMeta("coordination.k8s.io/v1", "Lease"),
  metadata: ObjectMeta,
  spec: Schema.optional(LeaseSpec)
})
export type Lease = typeof Lease.Type

// ---------------------------------------------------------------------------------------------
// core/v1 Event
// ---------------------------------------------------------------------------------------------

export const ObjectReference = Schema.Struct({
  apiVersion: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  namespace: Schema.optional(Schema.String),
  uid: Schema.optional(Schema.String),
  resourceVersion: Schema.optional(Schema.String),
  fieldPath: Schema.optional(Schema.String)
})
export type ObjectReference = typeof ObjectReference.Type

export const EventType = Schema.Literal("Normal", "Warning")
export type EventType = typeof EventType.Type

export const Event = Schema.Struct({
  ...typeMeta("v1", "Event"),
  metadata: ObjectMeta,
  involvedObject: ObjectReference,
  reason: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  source: Schema.optional(
    Schema.Struct({
      component: Schema.optional(Schema.String),
      host: Schema.optional(Schema.String)
    })
  ),
  firstTimestamp: Schema.optional(Schema.NullOr(Schema.String)),
  lastTimestamp: Schema.optional(Schema.NullOr(Schema.String)),
  eventTime: Schema.optional(Schema.NullOr(Schema.String)),
  count: Schema.optional(Schema.Number),
  action: Schema.optional(Schema.String),
  reportingComponent: Schema.optional(Schema.String),
  reportingInstance: Schema.optional(Schema.String),
  related: Schema.optional(ObjectReference)
})
export type Event = typeof Event.Type

// ---------------------------------------------------------------------------------------------
// core/v1 Secret, ConfigMap, Namespace
// ---------------------------------------------------------------------------------------------

export const Secret = Schema.Struct({
  ...typeMeta("v1", "Secret"),
  metadata: ObjectMeta,
  type: Schema.optional(Schema.String),
  /** Base64-encoded values. Secret material: never log. */
  data: Schema.optional(StringMap),
  /** Write-only plain values; the API server folds them into `data`. */
  stringData: Schema.optional(StringMap),
  immutable: Schema.optional(Schema.Boolean)
})
export type Secret = typeof Secret.Type

export const ConfigMap = Schema.Struct({
  ...typeMeta("v1", "ConfigMap"),
  metadata: ObjectMeta,
  data: Schema.optional(StringMap),
  binaryData: Schema.optional(StringMap),
  immutable: Schema.optional(Schema.Boolean)
})
export type ConfigMap = typeof ConfigMap.Type

export const Namespace = Schema.Struct({
  ...typeMeta("v1", "Namespace"),
  metadata: ObjectMeta,
  status: Schema.optional(Schema.Struct({ phase: Schema.optional(Schema.String) }))
})
export type Namespace = typeof Namespace.Type

// ---------------------------------------------------------------------------------------------
// core/v1 PersistentVolumeClaim
// ---------------------------------------------------------------------------------------------

export const PersistentVolumeClaimSpec = Schema.Struct({
  accessModes: Schema.optional(Schema.Array(Schema.String)),
  storageClassName: Schema.optional(Schema.NullOr(Schema.String)),
  volumeName: Schema.optional(Schema.String),
  volumeMode: Schema.optional(Schema.String),
  resources: Schema.optional(
    Schema.Struct({
      /** Quantities such as `1Gi`. */
      requests: Schema.optional(StringMap),
      limits: Schema.optional(StringMap)
    })
  ),
  /** Where a new volume's content comes from, e.g. a VolumeSnapshot. */
  dataSource: Schema.optional(
    Schema.Struct({ apiGroup: Schema.optional(Schema.String), kind: Schema.String, name: Schema.String })
  ),
  dataSourceRef: Schema.optional(
    Schema.Struct({
      apiGroup: Schema.optional(Schema.String),
      kind: Schema.String,
      name: Schema.String,
      namespace: Schema.optional(Schema.String)
    })
  )
})

export const PersistentVolumeClaimStatus = Schema.Struct({
  /** Pending, Bound or Lost. */
  phase: Schema.optional(Schema.String),
  capacity: Schema.optional(StringMap),
  accessModes: Schema.optional(Schema.Array(Schema.String))
})

export const PersistentVolumeClaim = Schema.Struct({
  ...typeMeta("v1", "PersistentVolumeClaim"),
  metadata: ObjectMeta,
  spec: Schema.optional(PersistentVolumeClaimSpec),
  status: Schema.optional(PersistentVolumeClaimStatus)
})
export type PersistentVolumeClaim = typeof PersistentVolumeClaim.Type
