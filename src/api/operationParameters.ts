/**
 * `spec.parameters` of the built-in Operation templates (spec/operations.md §2.2), one effect
 * Schema per template. Each is the single definition behind both the validator
 * (src/engines/templates/) and the published JSON Schema (schema/operation-templates/, Draft
 * 2020-12, `additionalProperties: false`). They are fixed so that schemas and engine parsers agree
 * (DESIGN.md item 6):
 * - job `env` is an array of `{name, value | valueFrom}`;
 * - helmHookJob takes `hookName` and `image` (hooks are not resolved from the chart);
 * - workflow takes `workflowTemplate` or `template` plus `arguments` (name → value);
 * - `timeoutSeconds` is on every template (the reconciler enforces it: `Failed/Timeout`);
 * - `ttlSecondsAfterFinished` and `serviceAccountName` where the engine uses them.
 * VolSync parameters follow ReplicationSource/ReplicationDestination (restic mover, manual trigger);
 * snapshot parameters follow CSI VolumeSnapshot and a PVC `dataSource`.
 * Unknown keys are rejected: decode with `{ onExcessProperty: "error" }`.
 */
import { Schema } from "effect"
import { Names } from "./wellKnown.js"
import { FreeFormObject, NonEmpty, StringMap } from "./schemaKit.js"

const StringList = Schema.Array(Schema.String)
const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(0))

/** Operation deadline from the start of the workload; past it the workload is cancelled and the operation fails. */
const timeoutSeconds = Schema.optional(PositiveInt)

/** Runner pods run as the operator's runner ServiceAccount only (spec/api.md §3.6). */
export const RunnerServiceAccountName = Schema.String.pipe(
  Schema.filter((s): boolean => s === Names.operationRunnerServiceAccount, {
    message: () => `parameters.serviceAccountName must be "${Names.operationRunnerServiceAccount}" or omitted`,
    jsonSchema: { const: Names.operationRunnerServiceAccount }
  })
)

export const BackupVeleroParameters = Schema.Struct({
  retention: Schema.optional(Schema.String),
  ttl: Schema.optional(Schema.String),
  snapshotClassName: Schema.optional(Schema.String),
  csiSnapshotClassName: Schema.optional(Schema.String),
  snapshotVolumes: Schema.optional(Schema.Boolean),
  storageLocation: Schema.optional(Schema.String),
  includedResources: Schema.optional(StringList),
  excludedResources: Schema.optional(StringList),
  timeoutSeconds
})
export type BackupVeleroParameters = typeof BackupVeleroParameters.Type

export const RestoreVeleroParameters = Schema.Struct({
  backupName: NonEmpty,
  namespaceMapping: Schema.optional(StringMap),
  restorePVs: Schema.optional(Schema.Boolean),
  existingResourcePolicy: Schema.optional(Schema.String),
  includedResources: Schema.optional(StringList),
  excludedResources: Schema.optional(StringList),
  timeoutSeconds
})
export type RestoreVeleroParameters = typeof RestoreVeleroParameters.Type

export const UpgradeHelmParameters = Schema.Struct({
  targetVersion: Schema.optional(NonEmpty),
  /** Shallow-merged into the instance's values (top-level keys replaced). */
  valuesPatch: Schema.optional(FreeFormObject),
  timeoutSeconds
})
export type UpgradeHelmParameters = typeof UpgradeHelmParameters.Type

export const JobEnvVar = Schema.Struct({
  name: NonEmpty,
  value: Schema.optional(Schema.String),
  /** A core/v1 EnvVarSource (secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef). */
  valueFrom: Schema.optional(FreeFormObject)
})
export type JobEnvVar = typeof JobEnvVar.Type

/** What both Job engines read to build the runner Job. */
const jobFields = {
  image: NonEmpty,
  command: Schema.optional(StringList),
  args: Schema.optional(StringList),
  activeDeadlineSeconds: Schema.optional(PositiveInt),
  backoffLimit: Schema.optional(NonNegativeInt),
  ttlSecondsAfterFinished: Schema.optional(NonNegativeInt),
  serviceAccountName: Schema.optional(RunnerServiceAccountName),
  timeoutSeconds
}

export const MigrationHelmHookJobParameters = Schema.Struct({
  hookName: NonEmpty,
  ...jobFields
})
export type MigrationHelmHookJobParameters = typeof MigrationHelmHookJobParameters.Type

export const RunCommandJobParameters = Schema.Struct({
  ...jobFields,
  env: Schema.optional(Schema.Array(JobEnvVar))
})
export type RunCommandJobParameters = typeof RunCommandJobParameters.Type

/** Argo Workflow from a WorkflowTemplate in the target namespace; used by runbook and migration. */
export const WorkflowParameters = Schema.Struct({
  workflowTemplate: Schema.optional(NonEmpty),
  /** The documented name of `workflowTemplate`; `workflowTemplate` wins when both are set. */
  template: Schema.optional(NonEmpty),
  /** `spec.arguments.parameters` of the Workflow, as name → value. */
  arguments: Schema.optional(StringMap),
  /** Passed as the Workflow argument of the same name. */
  targetChartVersion: Schema.optional(Schema.String),
  snapshotClassName: Schema.optional(Schema.String),
  failureAction: Schema.optional(Schema.String),
  serviceAccountName: Schema.optional(RunnerServiceAccountName),
  timeoutSeconds
}).pipe(
  Schema.filter((p) => p.template !== undefined || p.workflowTemplate !== undefined, {
    message: () => "parameters.workflowTemplate is required",
    jsonSchema: { allOf: [{ anyOf: [{ required: ["workflowTemplate"] }, { required: ["template"] }] }] }
  })
)
export type WorkflowParameters = typeof WorkflowParameters.Type

const CopyMethod = Schema.Literal("Direct", "Clone", "Snapshot")
const AccessModes = Schema.Array(Schema.Literal("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"))

/** VolSync ReplicationSource with the restic mover and a manual trigger (one sync per operation). */
export const BackupVolSyncParameters = Schema.Struct({
  /** The PVC to back up, in the target namespace. */
  sourcePVC: NonEmpty,
  /** Secret with the restic repository settings (RESTIC_REPOSITORY, RESTIC_PASSWORD, …). */
  repository: NonEmpty,
  copyMethod: Schema.optional(CopyMethod),
  storageClassName: Schema.optional(NonEmpty),
  volumeSnapshotClassName: Schema.optional(NonEmpty),
  pruneIntervalDays: Schema.optional(PositiveInt),
  retain: Schema.optional(
    Schema.Struct({
      hourly: Schema.optional(NonNegativeInt),
      daily: Schema.optional(NonNegativeInt),
      weekly: Schema.optional(NonNegativeInt),
      monthly: Schema.optional(NonNegativeInt),
      yearly: Schema.optional(NonNegativeInt),
      within: Schema.optional(Schema.String)
    })
  ),
  timeoutSeconds
})
export type BackupVolSyncParameters = typeof BackupVolSyncParameters.Type

/** VolSync ReplicationDestination with the restic mover and a manual trigger. */
export const RestoreVolSyncParameters = Schema.Struct({
  repository: NonEmpty,
  /** Restore into this existing PVC; otherwise VolSync provisions one from capacity/accessModes. */
  destinationPVC: Schema.optional(NonEmpty),
  copyMethod: Schema.optional(Schema.Literal("Direct", "Snapshot")),
  capacity: Schema.optional(NonEmpty),
  accessModes: Schema.optional(AccessModes),
  storageClassName: Schema.optional(NonEmpty),
  volumeSnapshotClassName: Schema.optional(NonEmpty),
  /** RFC 3339: restore the last snapshot taken before this time. */
  restoreAsOf: Schema.optional(NonEmpty),
  /** Skip this many snapshots back from the newest (or from restoreAsOf). */
  previous: Schema.optional(NonNegativeInt),
  timeoutSeconds
})
export type RestoreVolSyncParameters = typeof RestoreVolSyncParameters.Type

/** A CSI VolumeSnapshot of each named PVC of the target. */
export const BackupSnapshotParameters = Schema.Struct({
  persistentVolumeClaimNames: Schema.Array(NonEmpty).pipe(Schema.minItems(1)),
  volumeSnapshotClassName: Schema.optional(NonEmpty),
  timeoutSeconds
})
export type BackupSnapshotParameters = typeof BackupSnapshotParameters.Type

/** A new PVC whose `dataSource` is a VolumeSnapshot. */
export const RestoreSnapshotParameters = Schema.Struct({
  volumeSnapshotName: NonEmpty,
  /** Name of the PVC to create in the target namespace. */
  persistentVolumeClaimName: NonEmpty,
  storageClassName: Schema.optional(NonEmpty),
  accessModes: Schema.optional(AccessModes),
  /** Requested size; default the snapshot's `status.restoreSize`. */
  capacity: Schema.optional(NonEmpty),
  timeoutSeconds
})
export type RestoreSnapshotParameters = typeof RestoreSnapshotParameters.Type

/** Parameter schemas by template ref (`type.engine`, type with a lower-case first letter). */
export const templateParameterSchemas = {
  "backup.velero": BackupVeleroParameters,
  "restore.velero": RestoreVeleroParameters,
  "upgrade.helm": UpgradeHelmParameters,
  "migration.helmHookJob": MigrationHelmHookJobParameters,
  "migration.workflow": WorkflowParameters,
  "runCommand.job": RunCommandJobParameters,
  "runbook.workflow": WorkflowParameters,
  "backup.volsync": BackupVolSyncParameters,
  "restore.volsync": RestoreVolSyncParameters,
  "backup.snapshot": BackupSnapshotParameters,
  "restore.snapshot": RestoreSnapshotParameters
} as const satisfies Record<string, Schema.Schema.AnyNoContext>
export type TemplateRef = keyof typeof templateParameterSchemas
