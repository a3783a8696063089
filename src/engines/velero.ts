/**
 * The velero engine: `backup.velero` creates a Velero `Backup`, `restore.velero` a `Restore`, named
 * `<namespace>--<name>` in the Velero namespace (`velero.namespace`, default `velero`) and labelled
 * with the Operation's UID, namespace and name. No owner reference: the Backup is the record of the
 * backup and outlives the Operation. Cancel deletes the object only while Velero is still working
 * on it; a finished one is kept.
 */
import { Effect, Option, Schema } from "effect"
import type { Operation } from "../api/operation.js"
import { BackupVeleroParameters, RestoreVeleroParameters } from "../api/operationParameters.js"
import { VeleroBackup, VeleroRestore } from "../api/thirdParty/velero.js"
import { OperatorConfig } from "../config.js"
import { apiVersionOf, type KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { EngineObservation, type OperationEngineService, registerEngine, type WorkloadRef } from "./engine.js"
import {
  backupOrRestore,
  createChild,
  decodeParameters,
  deleteChildUnless,
  type Dependency,
  findChild,
  refOf,
  targetNamespace,
  workloadLabels,
  workloadName
} from "./workload.js"

/**
 * Besides the UID label, the Operation's namespace and name: the Backup lives in Velero's
 * namespace, and these say at a glance (and to a label selector) whose it is.
 */
export const OperationRefLabels = {
  namespace: "ops.vworkspace.io/operation-namespace",
  name: "ops.vworkspace.io/operation-name"
} as const

export const veleroLabels = (op: Operation): Record<string, string> => ({
  ...workloadLabels(op),
  [OperationRefLabels.namespace]: op.metadata.namespace ?? "",
  // Label values are at most 63 characters, as namespace names are; Operation names can be longer.
  ...((op.metadata.name ?? "").length <= 63 ? { [OperationRefLabels.name]: op.metadata.name ?? "" } : {})
})

const install = "Velero (the velero.io CRDs and the Velero server, e.g. `velero install`)"
const backupDependency: Dependency = { type: Resources.VeleroBackup, install }
const restoreDependency: Dependency = { type: Resources.VeleroRestore, install }

export const VeleroReason = {
  BackupInProgress: "VeleroBackupInProgress",
  BackupCompleted: "VeleroBackupCompleted",
  BackupPartiallyFailed: "VeleroBackupPartiallyFailed",
  BackupFailed: "VeleroBackupFailed",
  BackupValidationFailed: "VeleroBackupValidationFailed",
  RestoreInProgress: "VeleroRestoreInProgress",
  RestoreCompleted: "VeleroRestoreCompleted",
  RestorePartiallyFailed: "VeleroRestorePartiallyFailed",
  RestoreFailed: "VeleroRestoreFailed",
  RestoreValidationFailed: "VeleroRestoreValidationFailed",
  /** The Degraded reason that goes with PartiallyFailed. */
  PartialFailure: "PartialFailure"
} as const

export const desiredBackup = (
  op: Operation,
  namespace: string,
  includedNamespace: string,
  p: BackupVeleroParameters
): KubeObject => ({
  apiVersion: apiVersionOf(Resources.VeleroBackup),
  kind: Resources.VeleroBackup.kind,
  metadata: { name: workloadName(op), namespace, labels: veleroLabels(op) },
  spec: {
    includedNamespaces: [includedNamespace],
    storageLocation: p.storageLocation ?? "default",
    ...(p.snapshotVolumes !== undefined ? { snapshotVolumes: p.snapshotVolumes } : {}),
    ...optionalString("csiSnapshotClassName", p.csiSnapshotClassName ?? p.snapshotClassName),
    ...optionalList("includedResources", p.includedResources),
    ...optionalList("excludedResources", p.excludedResources),
    ...optionalString("ttl", p.retention ?? p.ttl)
  }
})

export const desiredRestore = (op: Operation, namespace: string, p: RestoreVeleroParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.VeleroRestore),
  kind: Resources.VeleroRestore.kind,
  metadata: { name: workloadName(op), namespace, labels: veleroLabels(op) },
  spec: {
    backupName: p.backupName,
    ...(p.namespaceMapping !== undefined ? { namespaceMapping: p.namespaceMapping } : {}),
    ...(p.restorePVs !== undefined ? { restorePVs: p.restorePVs } : {}),
    ...optionalString("existingResourcePolicy", p.existingResourcePolicy),
    ...optionalList("includedResources", p.includedResources),
    ...optionalList("excludedResources", p.excludedResources)
  }
})

const optionalString = (key: string, value: string | undefined) => (value !== undefined && value !== "" ? { [key]: value } : {})
const optionalList = (key: string, value: ReadonlyArray<string> | undefined) =>
  value !== undefined && value.length > 0 ? { [key]: value } : {}

interface VeleroStatusView {
  readonly phase?: string
  readonly failureReason?: string
  readonly validationErrors?: ReadonlyArray<string>
  readonly warnings?: number
  readonly errors?: number
  readonly completionTimestamp?: string
  readonly progress?: { readonly totalItems?: number; readonly itemsBackedUp?: number; readonly itemsRestored?: number }
}

const reasons = {
  Backup: {
    inProgress: VeleroReason.BackupInProgress,
    completed: VeleroReason.BackupCompleted,
    partiallyFailed: VeleroReason.BackupPartiallyFailed,
    failed: VeleroReason.BackupFailed,
    validationFailed: VeleroReason.BackupValidationFailed
  },
  Restore: {
    inProgress: VeleroReason.RestoreInProgress,
    completed: VeleroReason.RestoreCompleted,
    partiallyFailed: VeleroReason.RestorePartiallyFailed,
    failed: VeleroReason.RestoreFailed,
    validationFailed: VeleroReason.RestoreValidationFailed
  }
} as const

/**
 * Velero's phase as an observation. Completed → Succeeded; PartiallyFailed → Succeeded with
 * Degraded and the error and warning counts; Failed and FailedValidation → Failed with Velero's
 * reason; every other phase (New, Queued, ReadyToStart, InProgress, WaitingForPluginOperations…,
 * Finalizing…) → Running. `Deleting` means someone asked Velero to delete it: Failed.
 */
export const observeVelero = (
  kind: "Backup" | "Restore",
  workload: WorkloadRef,
  status: VeleroStatusView | undefined,
  outputs: Readonly<Record<string, string>>
): EngineObservation => {
  const r = reasons[kind]
  const s = status ?? {}
  const counts = `${s.errors ?? 0} error(s), ${s.warnings ?? 0} warning(s)`
  const logsRef = workload
  switch (s.phase) {
    case "Completed":
      return EngineObservation.Succeeded({
        reason: r.completed,
        message: `Velero ${kind.toLowerCase()} ${workload.name} completed${itemsText(kind, s)}`,
        workload,
        logsRef,
        outputs: { ...outputs, ...countOutputs(s) }
      })
    case "PartiallyFailed":
      return EngineObservation.Succeeded({
        reason: r.partiallyFailed,
        message: `Velero ${kind.toLowerCase()} ${workload.name} partially failed: ${counts}`,
        workload,
        logsRef,
        outputs: { ...outputs, ...countOutputs(s) },
        degraded: { reason: VeleroReason.PartialFailure, message: `Velero ${kind.toLowerCase()} ${workload.name} partially failed: ${counts}; see \`velero ${kind.toLowerCase()} logs ${workload.name}\`` }
      })
    case "Failed":
      return EngineObservation.Failed({
        reason: r.failed,
        message: `Velero ${kind.toLowerCase()} ${workload.name} failed: ${s.failureReason || counts}`,
        workload,
        logsRef,
        outputs
      })
    case "FailedValidation":
      return EngineObservation.Failed({
        reason: r.validationFailed,
        message: `Velero rejected ${kind.toLowerCase()} ${workload.name}: ${(s.validationErrors ?? []).join("; ") || "validation failed"}`,
        workload,
        logsRef,
        outputs
      })
    case "Deleting":
      return EngineObservation.Failed({
        reason: r.failed,
        message: `Velero ${kind.toLowerCase()} ${workload.name} is being deleted`,
        workload,
        logsRef,
        outputs
      })
    default:
      return EngineObservation.Running({
        reason: r.inProgress,
        message: `Velero ${kind.toLowerCase()} ${workload.name} is ${s.phase || "New"}${progressText(kind, s)}`,
        workload,
        logsRef
      })
  }
}

const itemsText = (kind: "Backup" | "Restore", s: VeleroStatusView) => {
  const done = kind === "Backup" ? s.progress?.itemsBackedUp : s.progress?.itemsRestored
  return done === undefined ? "" : ` (${done} item(s) ${kind === "Backup" ? "backed up" : "restored"})`
}

const progressText = (kind: "Backup" | "Restore", s: VeleroStatusView) => {
  const done = kind === "Backup" ? s.progress?.itemsBackedUp : s.progress?.itemsRestored
  return done === undefined || s.progress?.totalItems === undefined ? "" : ` (${done}/${s.progress.totalItems} items)`
}

const countOutputs = (s: VeleroStatusView): Record<string, string> => ({
  warnings: String(s.warnings ?? 0),
  errors: String(s.errors ?? 0),
  ...(s.completionTimestamp !== undefined ? { completionTime: s.completionTimestamp } : {})
})

export const veleroEngine: OperationEngineService = {
  name: "velero",
  childKinds: [Resources.VeleroBackup, Resources.VeleroRestore],
  materialize: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const { veleroNamespace } = yield* OperatorConfig
      const kind = yield* backupOrRestore(operation)
      if (kind === "Backup") {
        const p = yield* decodeParameters(BackupVeleroParameters, parameters)
        return yield* createChild(
          Resources.VeleroBackup,
          operation,
          desiredBackup(operation, veleroNamespace, targetNamespace(target), p),
          backupDependency
        )
      }
      const p = yield* decodeParameters(RestoreVeleroParameters, parameters)
      return yield* createChild(Resources.VeleroRestore, operation, desiredRestore(operation, veleroNamespace, p), restoreDependency)
    }),
  observe: ({ operation, parameters }) =>
    Effect.gen(function* () {
      const { veleroNamespace } = yield* OperatorConfig
      const kind = yield* backupOrRestore(operation)
      const name = workloadName(operation)
      if (kind === "Backup") {
        const found = yield* findChild(Resources.VeleroBackup, VeleroBackup, operation, veleroNamespace, name)
        return Option.match(found, {
          onNone: () => EngineObservation.Absent(),
          onSome: (b) => observeVelero("Backup", refOf(b), b.status, { backupName: name })
        })
      }
      const p = yield* decodeParameters(RestoreVeleroParameters, parameters)
      const found = yield* findChild(Resources.VeleroRestore, VeleroRestore, operation, veleroNamespace, name)
      return Option.match(found, {
        onNone: () => EngineObservation.Absent(),
        onSome: (r) => observeVelero("Restore", refOf(r), r.status, { restoreName: name, backupName: p.backupName })
      })
    }),
  cancel: ({ operation }) =>
    Effect.gen(function* () {
      const { veleroNamespace } = yield* OperatorConfig
      const kind = yield* backupOrRestore(operation)
      const type = kind === "Backup" ? Resources.VeleroBackup : Resources.VeleroRestore
      yield* deleteChildUnless(type, operation, veleroNamespace, workloadName(operation), Schema.is(Finished))
    })
}

/** A Backup or Restore Velero has finished with is a record: cancel keeps it. */
const Finished = Schema.Struct({
  status: Schema.Struct({ phase: Schema.Literal("Completed", "PartiallyFailed", "Failed", "FailedValidation") })
})

/** Registers the velero engine. */
export const veleroEngineLayer = registerEngine(veleroEngine)
