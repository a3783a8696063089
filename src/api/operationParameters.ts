/**
 * `spec.parameters` of the built-in Operation templates (spec/operations.md §2.2), in the richer
 * schema version, fixed so that schemas and engine parsers agree (DESIGN.md item 6): job `env` is
 * an array of `{name, value|valueFrom}`, helmHookJob accepts `image`, workflow accepts
 * `workflowTemplate`/`workflowTemplateParameters`/`serviceAccountName`, and the engines'
 * `ttlSecondsAfterFinished` is declared. Unknown keys are rejected (`additionalProperties: false`):
 * decode with `{ onExcessProperty: "error" }`.
 */
import { Schema } from "effect"
import { FreeFormObject, NonEmpty, StringMap } from "./schemaKit.js"

const StringList = Schema.Array(Schema.String)
const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(0))

export const BackupVeleroParameters = Schema.Struct({
  retention: Schema.optional(Schema.String),
  ttl: Schema.optional(Schema.String),
  snapshotClassName: Schema.optional(Schema.String),
  csiSnapshotClassName: Schema.optional(Schema.String),
  snapshotVolumes: Schema.optional(Schema.Boolean),
  storageLocation: Schema.optional(Schema.String),
  includedResources: Schema.optional(StringList),
  excludedResources: Schema.optional(StringList)
})
export type BackupVeleroParameters = typeof BackupVeleroParameters.Type

export const RestoreVeleroParameters = Schema.Struct({
  backupName: NonEmpty,
  namespaceMapping: Schema.optional(StringMap),
  restorePVs: Schema.optional(Schema.Boolean),
  existingResourcePolicy: Schema.optional(Schema.String),
  includedResources: Schema.optional(StringList),
  excludedResources: Schema.optional(StringList)
})
export type RestoreVeleroParameters = typeof RestoreVeleroParameters.Type

export const UpgradeHelmParameters = Schema.Struct({
  targetVersion: Schema.optional(NonEmpty),
  /** Shallow-merged into the HelmRelease values (top-level keys replaced). */
  valuesPatch: Schema.optional(FreeFormObject)
})
export type UpgradeHelmParameters = typeof UpgradeHelmParameters.Type

export const MigrationHelmHookJobParameters = Schema.Struct({
  hookName: NonEmpty,
  image: Schema.optional(NonEmpty),
  activeDeadlineSeconds: Schema.optional(PositiveInt),
  backoffLimit: Schema.optional(NonNegativeInt),
  ttlSecondsAfterFinished: Schema.optional(NonNegativeInt)
})
export type MigrationHelmHookJobParameters = typeof MigrationHelmHookJobParameters.Type

export const JobEnvVar = Schema.Struct({
  name: NonEmpty,
  value: Schema.optional(Schema.String),
  valueFrom: Schema.optional(FreeFormObject)
})
export type JobEnvVar = typeof JobEnvVar.Type

export const RunCommandJobParameters = Schema.Struct({
  image: NonEmpty,
  command: Schema.optional(StringList),
  args: Schema.optional(StringList),
  env: Schema.optional(Schema.Array(JobEnvVar)),
  activeDeadlineSeconds: Schema.optional(PositiveInt),
  timeoutSeconds: Schema.optional(PositiveInt),
  backoffLimit: Schema.optional(NonNegativeInt),
  ttlSecondsAfterFinished: Schema.optional(NonNegativeInt),
  serviceAccountName: Schema.optional(NonEmpty)
})
export type RunCommandJobParameters = typeof RunCommandJobParameters.Type

export const RunbookWorkflowParameters = Schema.Struct({
  template: Schema.optional(NonEmpty),
  workflowTemplate: Schema.optional(NonEmpty),
  workflowTemplateParameters: Schema.optional(StringMap),
  serviceAccountName: Schema.optional(NonEmpty),
  targetChartVersion: Schema.optional(Schema.String),
  snapshotClassName: Schema.optional(Schema.String),
  timeoutSeconds: Schema.optional(PositiveInt),
  failureAction: Schema.optional(Schema.String)
}).pipe(
  Schema.filter((p) => p.template !== undefined || p.workflowTemplate !== undefined, {
    message: () => "parameters.workflowTemplate is required",
    jsonSchema: { allOf: [{ anyOf: [{ required: ["workflowTemplate"] }, { required: ["template"] }] }] }
  })
)
export type RunbookWorkflowParameters = typeof RunbookWorkflowParameters.Type

/** Parameter schemas by template ref (the six built-in `(type, engine)` pairs). */
export const templateParameterSchemas = {
  "backup.velero": BackupVeleroParameters,
  "restore.velero": RestoreVeleroParameters,
  "upgrade.helm": UpgradeHelmParameters,
  "migration.helmHookJob": MigrationHelmHookJobParameters,
  "runCommand.job": RunCommandJobParameters,
  "runbook.workflow": RunbookWorkflowParameters
} as const satisfies Record<string, Schema.Schema.AnyNoContext>
export type TemplateRef = keyof typeof templateParameterSchemas
