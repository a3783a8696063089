/**
 * Object metadata and `metav1.Condition`, as effect/Schema. `ObjectMeta.Type` matches the
 * `ObjectMeta` interface of `src/kube/object.ts`, so decoded objects are `KubeObject`s.
 */
import { Schema } from "effect"
import { crd, DateTimeString, Int64, opt, req, StringMap } from "./schemaKit.js"

export const OwnerReference = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: Schema.optional(Schema.Boolean),
  blockOwnerDeletion: Schema.optional(Schema.Boolean)
})
export type OwnerReference = typeof OwnerReference.Type

export const ObjectMeta = Schema.Struct({
  name: Schema.optional(Schema.String),
  generateName: Schema.optional(Schema.String),
  namespace: Schema.optional(Schema.String),
  uid: Schema.optional(Schema.String),
  resourceVersion: Schema.optional(Schema.String),
  generation: Schema.optional(Schema.Number),
  creationTimestamp: Schema.optional(Schema.String),
  deletionTimestamp: Schema.optional(Schema.String),
  labels: Schema.optional(StringMap),
  annotations: Schema.optional(StringMap),
  finalizers: Schema.optional(Schema.Array(Schema.String)),
  ownerReferences: Schema.optional(Schema.Array(OwnerReference)),
  managedFields: Schema.optional(Schema.Array(Schema.Unknown))
})
export type ObjectMeta = typeof ObjectMeta.Type

/** `apiVersion` and `kind` of a kind, as literal-typed fields. */
export const typeMeta = <const V extends string, const K extends string>(apiVersion: V, kind: K) => ({
  apiVersion: Schema.Literal(apiVersion),
  kind: Schema.Literal(kind)
})

export const ConditionStatus = Schema.Literal("True", "False", "Unknown")
export type ConditionStatus = typeof ConditionStatus.Type

/** metav1.Condition `type` pattern: an optional DNS-subdomain prefix and a name. */
export const conditionTypePattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/

/** metav1.Condition `reason` pattern: CamelCase, no spaces. */
export const conditionReasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/

export const ConditionType = Schema.String.pipe(Schema.maxLength(316), Schema.pattern(conditionTypePattern))
export const ConditionReason = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(1024),
  Schema.pattern(conditionReasonPattern)
)
export const ConditionMessage = Schema.String.pipe(Schema.maxLength(32768))

/** `metav1.Condition`. */
export const Condition = Schema.Struct({
  type: req(ConditionType, "Type of the condition, in CamelCase (for example Ready)."),
  status: req(ConditionStatus, "Status of the condition: True, False or Unknown."),
  observedGeneration: opt(
    Int64.pipe(Schema.nonNegative()),
    "The metadata.generation the condition was set from; older than the current generation means the condition is out of date."
  ),
  lastTransitionTime: req(
    DateTimeString,
    "Last time the condition's status changed. A change of reason or message alone does not move it."
  ),
  reason: req(ConditionReason, "Programmatic identifier of the cause of the last transition, in CamelCase."),
  message: req(ConditionMessage, "Human-readable detail about the transition; may be empty.")
}).annotations({
  description: "Condition is one aspect of the current state of this object (metav1.Condition)."
})
export type Condition = typeof Condition.Type

/** `status.conditions`: at most one entry per `type` (a list-map keyed by `type`). */
export const Conditions = Schema.Array(Condition).annotations(
  crd({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
)
