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
import { BackupVolSyncParameters, RestoreVolSyncParameters } from "../api/operationParameters.js"
import { ReplicationDestination, ReplicationSource } from "../api/thirdParty/volsync.js"
import { apiVersionOf, type KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { EngineError, EngineObservation, type OperationEngineService, registerEngine, type WorkloadRef } from "./engine.js"
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

const install = "VolSync (the volsync.backube CRDs and the VolSync controller)"
const sourceDependency: Dependency = { type: Resources.ReplicationSource, install }
const destinationDependency: Dependency = { type: Resources.ReplicationDestination, install }

export const VolSyncReason = {
  FirstSyncInProgress: "VolSyncFirstSyncInProgress",
  Synchronizing: "VolSyncSynchronizing",
  LastSyncSucceeded: "VolSyncLastSyncSucceeded",
  Failed: "VolSyncFailed"
} as const

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/** The one-shot trigger: VolSync copies once per new `manual` value. */
const trigger = (op: Operation) => ({ manual: op.metadata.uid ?? "" })

/**
 * No owner reference: a destination owns the snapshot it restored (`latestImage`), which must
 * outlive the Operation.
 */
const metadata = (op: Operation, namespace: string) => ({ name: workloadName(op), namespace, labels: workloadLabels(op) })

export const desiredSource = (op: Operation, namespace: string, p: BackupVolSyncParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.ReplicationSource),
  kind: Resources.ReplicationSource.kind,
  metadata: metadata(op, namespace),
  spec: {
    sourcePVC: p.sourcePVC,
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

export const desiredDestination = (op: Operation, namespace: string, p: RestoreVolSyncParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.ReplicationDestination),
  kind: Resources.ReplicationDestination.kind,
  metadata: metadata(op, namespace),
  spec: {
    trigger: trigger(op),
    restic: defined({
      repository: p.repository,
      destinationPVC: p.destinationPVC,
      copyMethod: p.copyMethod ?? (p.destinationPVC !== undefined ? "Direct" : "Snapshot"),
      capacity: p.destinationPVC === undefined ? p.capacity : undefined,
      accessModes: p.destinationPVC === undefined ? (p.accessModes ?? ["ReadWriteOnce"]) : undefined,
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

const restoreTarget = (p: RestoreVolSyncParameters): Effect.Effect<RestoreVolSyncParameters, EngineError> =>
  p.destinationPVC !== undefined || p.capacity !== undefined
    ? Effect.succeed(p)
    : Effect.fail(
        new EngineError({
          reason: "ValidationFailed",
          message: "parameters.destinationPVC (an existing claim to restore into) or parameters.capacity (the size of a new volume) is required"
        })
      )

export const volsyncEngine: OperationEngineService = {
  name: "volsync",
  childKinds: [Resources.ReplicationSource, Resources.ReplicationDestination],
  materialize: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* backupOrRestore(operation)) === "Backup") {
        const p = yield* decodeParameters(BackupVolSyncParameters, parameters)
        return yield* createChild(Resources.ReplicationSource, operation, desiredSource(operation, namespace, p), sourceDependency)
      }
      const p = yield* Effect.flatMap(decodeParameters(RestoreVolSyncParameters, parameters), restoreTarget)
      return yield* createChild(Resources.ReplicationDestination, operation, desiredDestination(operation, namespace, p), destinationDependency)
    }),
  observe: ({ operation, target }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      const name = workloadName(operation)
      const manual = operation.metadata.uid ?? ""
      const found: Option.Option<ReplicationSource | ReplicationDestination> =
        (yield* backupOrRestore(operation)) === "Backup"
          ? yield* findChild(Resources.ReplicationSource, ReplicationSource, operation, namespace, name)
          : yield* findChild(Resources.ReplicationDestination, ReplicationDestination, operation, namespace, name)
      return Option.match(found, {
        onNone: () => EngineObservation.Absent(),
        onSome: (child) => observeReplication(refOf(child), manual, child.status)
      })
    }),
  cancel: ({ operation, target }) =>
    Effect.flatMap(backupOrRestore(operation), (type) =>
      deleteChildUnless(
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
