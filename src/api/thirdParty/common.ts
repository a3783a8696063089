/** Shapes shared by the third-party kinds: read leniently, because other controllers write them. */
import { Schema } from "effect"

/**
 * A condition written by another controller. Only `type` and `status` are certain: Job
 * conditions, for example, may lack a reason, and statuses are not pattern-checked here.
 */
export const ForeignCondition = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  reason: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  lastTransitionTime: Schema.optional(Schema.NullOr(Schema.String)),
  lastProbeTime: Schema.optional(Schema.NullOr(Schema.String)),
  observedGeneration: Schema.optional(Schema.Number)
})
export type ForeignCondition = typeof ForeignCondition.Type

/** `{ kind, name, namespace? }` references (Flux `sourceRef`, `chartRef`, …). */
export const KindNameRef = Schema.Struct({
  apiVersion: Schema.optional(Schema.String),
  kind: Schema.String,
  name: Schema.String,
  namespace: Schema.optional(Schema.String)
})
export type KindNameRef = typeof KindNameRef.Type

/** `{ name }` reference to a Secret or ConfigMap in the same namespace. */
export const LocalObjectReference = Schema.Struct({ name: Schema.String })
export type LocalObjectReference = typeof LocalObjectReference.Type
