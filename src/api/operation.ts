/**
 * `Operation` (`ops.vworkspace.io/v1alpha1`, namespaced): one day-2 verb against one
 * ApplicationInstance in the same namespace (spec/api.md §3).
 */
import { Schema } from "effect"
import { Conditions, ObjectMeta, typeMeta } from "./meta.js"
import { cel, type CrdInfo, DateTimeString, FreeFormObject, opt, req } from "./schemaKit.js"
import { ApiVersions, Groups } from "./wellKnown.js"

export const OperationType = Schema.Literal("Backup", "Restore", "Upgrade", "Migration", "RunCommand", "Runbook")
export type OperationType = typeof OperationType.Type

/** The original six engines plus `snapshot` (CSI VolumeSnapshot). */
export const OperationEngine = Schema.Literal("velero", "workflow", "job", "helm", "volsync", "helmHookJob", "snapshot")
export type OperationEngine = typeof OperationEngine.Type

export const OperationPhase = Schema.Literal("Pending", "Running", "Succeeded", "Failed", "Cancelled")
export type OperationPhase = typeof OperationPhase.Type

const immutable = (field: string) => cel({ rule: "self == oldSelf", message: `${field} is immutable` })

export const TargetRef = Schema.Struct({
  apiVersion: req(Schema.String.pipe(Schema.maxLength(253)), "Must be apps.vworkspace.io/v1alpha1.").annotations(
    cel(
      {
        rule: "self == 'apps.vworkspace.io/v1alpha1'",
        message: "spec.targetRef.apiVersion must be apps.vworkspace.io/v1alpha1"
      },
      { rule: "self == oldSelf", message: "spec.targetRef.apiVersion is immutable" }
    )
  ),
  kind: req(Schema.String.pipe(Schema.maxLength(253)), "Must be ApplicationInstance.").annotations(
    cel(
      { rule: "self == 'ApplicationInstance'", message: "spec.targetRef.kind must be ApplicationInstance" },
      { rule: "self == oldSelf", message: "spec.targetRef.kind is immutable" }
    )
  ),
  name: req(
    Schema.String.pipe(Schema.maxLength(253)),
    "Name of the target ApplicationInstance, in the Operation's own namespace."
  ).annotations(
    cel(
      { rule: "self.trim() != ''", message: "spec.targetRef.name is required" },
      { rule: "self == oldSelf", message: "spec.targetRef.name is immutable" }
    )
  )
})
export type TargetRef = typeof TargetRef.Type

export const Approvals = Schema.Struct({
  required: opt(Schema.Boolean, "Forces an approval claim, in addition to templates that always require one."),
  claim: opt(Schema.String, "Signed vws1 approval claim issued by the control plane."),
  approvedBy: opt(Schema.String, "Who approved (informational, for audit)."),
  approvedAt: opt(Schema.String, "When it was approved, RFC 3339 by convention (informational).")
})
export type Approvals = typeof Approvals.Type

export const OperationSpec = Schema.Struct({
  targetRef: req(TargetRef, "The ApplicationInstance this operation acts on. Immutable."),
  type: req(OperationType, "The verb. Immutable.").annotations(immutable("spec.type")),
  engine: req(
    OperationEngine,
    "The executor: velero, workflow (Argo), job, helmHookJob, helm (Flux HelmRelease upgrade), volsync or snapshot (CSI). Immutable."
  ).annotations(immutable("spec.engine")),
  parameters: opt(
    FreeFormObject,
    "Engine input, validated against the template's parameter schema. Immutable once the operation has started."
  ),
  approvals: opt(Approvals, "Approval state for operations that need one.")
})
export type OperationSpec = typeof OperationSpec.Type

export const ObjectRef = Schema.Struct({
  kind: opt(Schema.String, "Kind of the object."),
  name: opt(Schema.String, "Name of the object."),
  namespace: opt(Schema.String, "Namespace of the object.")
})

export const OperationStatus = Schema.Struct({
  phase: opt(OperationPhase, "Pending, Running, Succeeded, Failed or Cancelled. Terminal phases are final.").annotations(
    cel({
      rule: "!(oldSelf in ['Succeeded', 'Failed', 'Cancelled']) || self == oldSelf",
      message: "status.phase is final once Succeeded, Failed or Cancelled"
    })
  ),
  startedAt: opt(DateTimeString, "When the engine workload was started."),
  finishedAt: opt(DateTimeString, "When the operation reached a terminal phase."),
  engineRef: opt(ObjectRef, "The workload the engine created (Job, Workflow, Velero Backup, …)."),
  conditions: opt(Conditions, "Accepted, Running, Succeeded, Failed, Cancelled and Blocked."),
  outputs: opt(FreeFormObject, "Results of the engine, for example backupName or jobName."),
  logsRef: opt(
    Schema.Struct({
      kind: opt(Schema.String, "Kind of the object holding the logs."),
      name: opt(Schema.String, "Its name."),
      namespace: opt(Schema.String, "Its namespace."),
      url: opt(Schema.String, "A URL to the logs.")
    }),
    "Where to read the logs of the run."
  )
})
export type OperationStatus = typeof OperationStatus.Type

/** Parameters may change while Pending; once the operation has started they are frozen. */
const parametersFrozenRule = [
  "!has(oldSelf.status) || !has(oldSelf.status.phase) || oldSelf.status.phase == 'Pending'",
  "(has(self.spec.parameters) == has(oldSelf.spec.parameters) && (!has(self.spec.parameters) || self.spec.parameters == oldSelf.spec.parameters))"
].join(" || ")

export const Operation = Schema.Struct({
  ...typeMeta(ApiVersions.Operation, "Operation"),
  metadata: ObjectMeta,
  spec: req(OperationSpec, "What to do, to which instance, with which engine."),
  status: opt(OperationStatus, "Progress, written by the operator.")
}).annotations({
  description:
    "Operation: one day-2 verb (Backup, Restore, Upgrade, Migration, RunCommand, Runbook) run by an engine against an ApplicationInstance in the same namespace.",
  ...cel({
    rule: parametersFrozenRule,
    message: "spec.parameters is immutable once operation has started",
    fieldPath: ".spec.parameters"
  })
})
export type Operation = typeof Operation.Type

export const OperationCrd: CrdInfo = {
  group: Groups.ops,
  version: "v1alpha1",
  kind: "Operation",
  listKind: "OperationList",
  plural: "operations",
  singular: "operation",
  shortNames: ["op"],
  scope: "Namespaced",
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "Engine", type: "string", jsonPath: ".spec.engine" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
  ],
  schema: Operation
}
