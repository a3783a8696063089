/**
 * The volsync engine. `backup.volsync` creates a `ReplicationSource` that copies one PVC of the
 * target namespace into a restic repository; `restore.volsync` creates a `ReplicationDestination`
 * that restores from it. Both are named `<namespace>--<name>` and run once: the trigger is
 * `manual: <Operation UID>`, and VolSync's `status.lastManualSync` reaching that value is the end
 * of the run. A `Synchronizing=False/Error` condition is a failure. The restic mover is the one
 * supported: it needs no network path between clusters.
 */
import { Effect, Option, Schema } from "effect"
import type { Operation } from "../api/operation.js"
import { type ForeignCondition } from "../api/thirdParty/common.js"
import { CopyMethod, ReplicationDestination, ReplicationSource } from "../api/thirdParty/volsync.js"
import { apiVersionOf, type KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { EngineError, EngineObservation, type OperationEngineService, registerEngine, type WorkloadRef } from "./engine.js"
import {
  createChild,
  decodeParameters,
  deleteOwnedChild,
  type Dependency,
  ownedChild,
  refOf,
  targetNamespace,
  workloadLabels,
  workloadName
} from "./workload.js"

const install = "VolSync (the volsync.backube CRDs and the VolSync controller)"
const sourceDependency: Dependency = { type: Resources.ReplicationSource, install }
const destinationDependency: Dependency = { type: Resources.ReplicationDestination, install }

export const VolSyncReason = {
  FirstSyncInProgress: "VolSyncFirstSyncInProgress",
  Synchronizing: "VolSyncSynchronizing",
  LastSyncSucceeded: "VolSyncLastSyncSucceeded",
  Failed: "VolSyncFailed"
} as const

const NonEmptyString = Schema.String.pipe(Schema.minLength(1))

const Retain = Schema.Struct({
  hourly: Schema.optional(Schema.Int),
  daily: Schema.optional(Schema.Int),
  weekly: Schema.optional(Schema.Int),
  monthly: Schema.optional(Schema.Int),
  yearly: Schema.optional(Schema.Int),
  within: Schema.optional(Schema.String)
})

/**
 * What `backup.volsync` reads: the PVC to copy, the Secret holding the restic repository settings,
 * and the copy method (default `Snapshot`, a point-in-time copy).
 */
export const VolSyncBackupParameters = Schema.Struct({
  pvc: NonEmptyString,
  repository: NonEmptyString,
  copyMethod: Schema.optional(CopyMethod),
  volumeSnapshotClassName: Schema.optional(Schema.String),
  storageClassName: Schema.optional(Schema.String),
  retain: Schema.optional(Retain),
  pruneIntervalDays: Schema.optional(Schema.Int)
})
export type VolSyncBackupParameters = typeof VolSyncBackupParameters.Type

/**
 * What `restore.volsync` reads: the repository Secret and either an existing PVC to restore into
 * (`pvc`, copy method `Direct`) or the size of a new volume (`capacity`, copy method `Snapshot`,
 * the result then named in `latestImage`). `restoreAsOf` and `previous` pick an older snapshot.
 */
export const VolSyncRestoreParameters = Schema.Struct({
  repository: NonEmptyString,
  pvc: Schema.optional(NonEmptyString),
  capacity: Schema.optional(NonEmptyString),
  accessModes: Schema.optional(Schema.Array(Schema.String)),
  copyMethod: Schema.optional(CopyMethod),
  storageClassName: Schema.optional(Schema.String),
  volumeSnapshotClassName: Schema.optional(Schema.String),
  restoreAsOf: Schema.optional(Schema.String),
  previous: Schema.optional(Schema.Int)
})
export type VolSyncRestoreParameters = typeof VolSyncRestoreParameters.Type

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/** The one-shot trigger: VolSync copies once per new `manual` value. */
const trigger = (op: Operation) => ({ manual: op.metadata.uid ?? "" })

/**
 * No owner reference: a destination owns the snapshot it restored (`latestImage`), which must
 * outlive the Operation.
 */
const metadata = (op: Operation, namespace: string) => ({ name: workloadName(op), namespace, labels: workloadLabels(op) })

export const desiredSource = (op: Operation, namespace: string, p: VolSyncBackupParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.ReplicationSource),
  kind: Resources.ReplicationSource.kind,
  metadata: metadata(op, namespace),
  spec: {
    sourcePVC: p.pvc,
    trigger: trigger(op),
    restic: defined({
      repository: p.repository,
      copyMethod: p.copyMethod ?? "Snapshot",
      volumeSnapshotClassName: p.volumeSnapshotClassName,
      storageClassName: p.storageClassName,
      retain: p.retain,
      pruneIntervalDays: p.pruneIntervalDays
    })
  }
})

export const desiredDestination = (op: Operation, namespace: string, p: VolSyncRestoreParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.ReplicationDestination),
  kind: Resources.ReplicationDestination.kind,
  metadata: metadata(op, namespace),
  spec: {
    trigger: trigger(op),
    restic: defined({
      repository: p.repository,
      destinationPVC: p.pvc,
      copyMethod: p.copyMethod ?? (p.pvc !== undefined ? "Direct" : "Snapshot"),
      capacity: p.pvc === undefined ? p.capacity : undefined,
      accessModes: p.pvc === undefined ? (p.accessModes ?? ["ReadWriteOnce"]) : undefined,
      storageClassName: p.storageClassName,
      volumeSnapshotClassName: p.volumeSnapshotClassName,
      restoreAsOf: p.restoreAsOf,
      previous: p.previous
    })
  }
})

interface ReplicationStatusView {
  readonly conditions?: ReadonlyArray<ForeignCondition>
  readonly lastSyncTime?: string
  readonly lastSyncDuration?: string
  readonly lastManualSync?: string
  readonly latestMoverStatus?: { readonly result?: string }
  readonly latestImage?: { readonly kind: string; readonly name: string }
}

/**
 * VolSync's status as an observation: the run is over when `lastManualSync` equals the trigger;
 * `Synchronizing=False/Error` fails it; otherwise it is the first sync or a sync in progress.
 */
export const observeReplication = (
  workload: WorkloadRef,
  manual: string,
  status: ReplicationStatusView | undefined
): EngineObservation => {
  const s = status ?? {}
  const logsRef = workload
  const synchronizing = s.conditions?.find((c) => c.type === "Synchronizing")
  if (s.lastManualSync === manual && manual !== "") {
    return EngineObservation.Succeeded({
      reason: VolSyncReason.LastSyncSucceeded,
      message: `${workload.kind} ${workload.name} synchronized${s.lastSyncTime ? ` at ${s.lastSyncTime}` : ""}${s.lastSyncDuration ? ` in ${s.lastSyncDuration}` : ""}`,
      workload,
      logsRef,
      outputs: {
        ...(s.lastSyncTime !== undefined ? { lastSyncTime: s.lastSyncTime } : {}),
        ...(s.lastSyncDuration !== undefined ? { lastSyncDuration: s.lastSyncDuration } : {}),
        ...(s.latestImage !== undefined ? { latestImageKind: s.latestImage.kind, latestImageName: s.latestImage.name } : {})
      }
    })
  }
  if (synchronizing?.status === "False" && synchronizing.reason === "Error") {
    return EngineObservation.Failed({
      reason: VolSyncReason.Failed,
      message: `${workload.kind} ${workload.name} failed: ${synchronizing.message ?? "synchronization error"}`,
      workload,
      logsRef
    })
  }
  const moverFailed = s.latestMoverStatus?.result === "Failed" ? "; the last mover run failed, VolSync retries it" : ""
  return synchronizing?.status === "True"
    ? EngineObservation.Running({
        reason: VolSyncReason.Synchronizing,
        message: `${workload.kind} ${workload.name}: ${synchronizing.message || "synchronization in progress"}${moverFailed}`,
        workload,
        logsRef
      })
    : EngineObservation.Running({
        reason: VolSyncReason.FirstSyncInProgress,
        message: `${workload.kind} ${workload.name} is waiting for VolSync to start the sync${moverFailed}`,
        workload,
        logsRef
      })
}

const typeOf = (op: Operation): Effect.Effect<"Backup" | "Restore", EngineError> =>
  op.spec.type === "Backup" || op.spec.type === "Restore"
    ? Effect.succeed(op.spec.type)
    : Effect.fail(new EngineError({ reason: "ValidationFailed", message: `volsync engine does not support operation type "${op.spec.type}"` }))

const restoreTarget = (p: VolSyncRestoreParameters): Effect.Effect<VolSyncRestoreParameters, EngineError> =>
  p.pvc !== undefined || p.capacity !== undefined
    ? Effect.succeed(p)
    : Effect.fail(
        new EngineError({
          reason: "ValidationFailed",
          message: "parameters.pvc (an existing claim to restore into) or parameters.capacity (the size of a new volume) is required"
        })
      )

export const volsyncEngine: OperationEngineService = {
  name: "volsync",
  childKinds: [Resources.ReplicationSource, Resources.ReplicationDestination],
  materialize: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* typeOf(operation)) === "Backup") {
        const p = yield* decodeParameters(VolSyncBackupParameters, parameters)
        return yield* createChild(Resources.ReplicationSource, desiredSource(operation, namespace, p), operation, sourceDependency)
      }
      const p = yield* Effect.flatMap(decodeParameters(VolSyncRestoreParameters, parameters), restoreTarget)
      return yield* createChild(
        Resources.ReplicationDestination,
        desiredDestination(operation, namespace, p),
        operation,
        destinationDependency
      )
    }),
  observe: ({ operation, target }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      const name = workloadName(operation)
      const manual = operation.metadata.uid ?? ""
      const found: Option.Option<ReplicationSource | ReplicationDestination> =
        (yield* typeOf(operation)) === "Backup"
          ? yield* ownedChild(Resources.ReplicationSource, ReplicationSource, operation, namespace, name)
          : yield* ownedChild(Resources.ReplicationDestination, ReplicationDestination, operation, namespace, name)
      return Option.match(found, {
        onNone: () => EngineObservation.Absent(),
        onSome: (child) => observeReplication(refOf(child), manual, child.status)
      })
    }),
  cancel: ({ operation, target }) =>
    Effect.flatMap(typeOf(operation), (type) =>
      deleteOwnedChild(
        type === "Backup" ? Resources.ReplicationSource : Resources.ReplicationDestination,
        operation,
        targetNamespace(target),
        workloadName(operation),
        // A finished run is kept: a destination's restored snapshot belongs to it.
        (child) => Schema.is(Synced)(child) && child.status.lastManualSync === operation.metadata.uid
      )
    )
}

const Synced = Schema.Struct({ status: Schema.Struct({ lastManualSync: Schema.String }) })

/** Registers the volsync engine. */
export const volsyncEngineLayer = registerEngine(volsyncEngine)
