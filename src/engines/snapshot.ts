/**
 * The snapshot engine (CSI). `backup.snapshot` creates a `VolumeSnapshot` of each named PVC of the
 * target namespace (`<namespace>--<name>-<pvc>`); when every one is `readyToUse` the Operation
 * has Succeeded, and an `error` on any of them fails it.
 * `restore.snapshot` creates a new PVC whose `dataSource` is a VolumeSnapshot; it succeeds when the
 * claim is Bound. Neither object gets an owner reference: the snapshot and the restored volume are
 * the results and outlive the Operation. Cancel deletes them only while they are unfinished.
 */
import { Effect, Option, Schema } from "effect"
import type { Operation } from "../api/operation.js"
import { BackupSnapshotParameters, RestoreSnapshotParameters } from "../api/operationParameters.js"
import { PersistentVolumeClaim } from "../api/thirdParty/core.js"
import { VolumeSnapshot, type VolumeSnapshotStatus } from "../api/thirdParty/snapshot.js"
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
  getLive,
  refOf,
  targetNamespace,
  workloadLabels,
  workloadName
} from "./workload.js"

const snapshotDependency: Dependency = {
  type: Resources.VolumeSnapshot,
  install: "the CSI snapshot CRDs and snapshot-controller (kubernetes-csi/external-snapshotter) and a CSI driver with snapshot support"
}
const pvcDependency: Dependency = { type: Resources.PersistentVolumeClaim, install: "nothing (core kind)" }

export const SnapshotReason = {
  InProgress: "VolumeSnapshotInProgress",
  ReadyToUse: "VolumeSnapshotReadyToUse",
  Failed: "VolumeSnapshotFailed",
  SourcePvcNotFound: "SourcePvcNotFound",
  SnapshotNotFound: "VolumeSnapshotNotFound",
  SnapshotNotReady: "VolumeSnapshotNotReady",
  RestoreInProgress: "VolumeSnapshotRestoreInProgress",
  Restored: "VolumeSnapshotRestored",
  RestoreFailed: "VolumeSnapshotRestoreFailed"
} as const

/** The VolumeSnapshot of one PVC: `<namespace>--<name>-<pvc>` (a DNS subdomain, up to 253 characters). */
export const snapshotName = (op: Operation, pvc: string): string => `${workloadName(op)}-${pvc}`

export const desiredSnapshot = (op: Operation, namespace: string, pvc: string, p: BackupSnapshotParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.VolumeSnapshot),
  kind: Resources.VolumeSnapshot.kind,
  metadata: { name: snapshotName(op, pvc), namespace, labels: workloadLabels(op) },
  spec: {
    source: { persistentVolumeClaimName: pvc },
    ...(p.volumeSnapshotClassName !== undefined ? { volumeSnapshotClassName: p.volumeSnapshotClassName } : {})
  }
})

export const desiredRestoredClaim = (op: Operation, namespace: string, p: RestoreSnapshotParameters, size: string): KubeObject => ({
  apiVersion: "v1",
  kind: Resources.PersistentVolumeClaim.kind,
  metadata: { name: p.persistentVolumeClaimName, namespace, labels: workloadLabels(op) },
  spec: {
    accessModes: p.accessModes ?? ["ReadWriteOnce"],
    ...(p.storageClassName !== undefined ? { storageClassName: p.storageClassName } : {}),
    resources: { requests: { storage: size } },
    dataSource: { apiGroup: Resources.VolumeSnapshot.group, kind: Resources.VolumeSnapshot.kind, name: p.volumeSnapshotName }
  }
})

/** One PVC's VolumeSnapshot as the engine sees it. */
export interface SnapshotView {
  readonly pvc: string
  readonly workload: WorkloadRef
  readonly status: VolumeSnapshotStatus | undefined
}

/**
 * All snapshots ready to use → Succeeded; an error on any → Failed; otherwise Running with how
 * many are ready. Outputs name each PVC's snapshot (and, for one PVC, `volumeSnapshotName`).
 */
export const observeSnapshots = (views: ReadonlyArray<SnapshotView>): EngineObservation => {
  const first = views[0]
  if (first === undefined) return EngineObservation.Absent()
  const workload = first.workload
  const logsRef = workload
  const volumeSnapshots = Object.fromEntries(views.map((v) => [v.pvc, v.workload.name]))
  const failed = views.find((v) => v.status?.error?.message !== undefined && v.status.error.message !== "")
  if (failed !== undefined) {
    return EngineObservation.Failed({
      reason: SnapshotReason.Failed,
      message: `VolumeSnapshot ${failed.workload.name} of PVC ${failed.pvc} failed: ${failed.status?.error?.message ?? ""}`,
      workload: failed.workload,
      logsRef: failed.workload,
      outputs: { volumeSnapshots }
    })
  }
  const ready = views.filter((v) => v.status?.readyToUse === true)
  if (ready.length === views.length) {
    const sizes = Object.fromEntries(views.flatMap((v) => (v.status?.restoreSize === undefined ? [] : [[v.pvc, v.status.restoreSize]])))
    return EngineObservation.Succeeded({
      reason: SnapshotReason.ReadyToUse,
      message:
        views.length === 1
          ? `VolumeSnapshot ${workload.name} is ready to use${first.status?.restoreSize ? ` (${first.status.restoreSize})` : ""}`
          : `${views.length} VolumeSnapshots are ready to use`,
      workload,
      logsRef,
      outputs: {
        volumeSnapshots,
        restoreSizes: sizes,
        ...(views.length === 1 ? { volumeSnapshotName: workload.name, ...(first.status?.restoreSize ? { restoreSize: first.status.restoreSize } : {}) } : {})
      }
    })
  }
  const waiting = views.find((v) => v.status?.readyToUse !== true) ?? first
  return EngineObservation.Running({
    reason: SnapshotReason.InProgress,
    message: `${ready.length}/${views.length} VolumeSnapshot(s) ready; ${
      waiting.status?.boundVolumeSnapshotContentName === undefined
        ? `${waiting.workload.name} is waiting for the snapshot controller`
        : `${waiting.workload.name} is bound to ${waiting.status.boundVolumeSnapshotContentName}, waiting until it is ready to use`
    }`,
    workload,
    logsRef
  })
}

export const observeRestoredClaim = (
  workload: WorkloadRef,
  claim: PersistentVolumeClaim,
  snapshotName: string
): EngineObservation => {
  const phase = claim.status?.phase ?? "Pending"
  const logsRef = workload
  const outputs = { pvcName: workload.name, snapshotName }
  switch (phase) {
    case "Bound":
      return EngineObservation.Succeeded({
        reason: SnapshotReason.Restored,
        message: `PVC ${workload.name} restored from VolumeSnapshot ${snapshotName} is Bound${claim.spec?.volumeName ? ` to ${claim.spec.volumeName}` : ""}`,
        workload,
        logsRef,
        outputs: { ...outputs, ...(claim.status?.capacity?.["storage"] !== undefined ? { capacity: claim.status.capacity["storage"] } : {}) }
      })
    case "Lost":
      return EngineObservation.Failed({
        reason: SnapshotReason.RestoreFailed,
        message: `PVC ${workload.name} lost its volume`,
        workload,
        logsRef,
        outputs
      })
    default:
      return EngineObservation.Running({
        reason: SnapshotReason.RestoreInProgress,
        message: `PVC ${workload.name} is ${phase}, waiting for the provisioner to restore VolumeSnapshot ${snapshotName}`,
        workload,
        logsRef
      })
  }
}

/** The source PVC must exist: a snapshot of nothing would wait for ever. */
const requireSourceClaim = (namespace: string, name: string) =>
  Effect.flatMap(getLive(Resources.PersistentVolumeClaim, PersistentVolumeClaim, namespace, name), (found) =>
    Option.isSome(found)
      ? Effect.void
      : Effect.fail(
          new EngineError({ reason: SnapshotReason.SourcePvcNotFound, message: `PersistentVolumeClaim ${namespace}/${name} not found` })
        )
  )

/**
 * The snapshot to restore must be ready; its restoreSize is the default size of the new claim.
 * Read live: it need not be an Operation's (the cache holds only those).
 */
const readySnapshot = (namespace: string, name: string) =>
  Effect.flatMap(getLive(Resources.VolumeSnapshot, VolumeSnapshot, namespace, name), (found) => {
    if (Option.isNone(found)) {
      return Effect.fail(new EngineError({ reason: SnapshotReason.SnapshotNotFound, message: `VolumeSnapshot ${namespace}/${name} not found` }))
    }
    const status = found.value.status
    return status?.readyToUse === true
      ? Effect.succeed(status)
      : Effect.fail(
          new EngineError({
            reason: SnapshotReason.SnapshotNotReady,
            message: `VolumeSnapshot ${namespace}/${name} is not ready to use${status?.error?.message ? `: ${status.error.message}` : ""}`
          })
        )
  })

const backupParameters = (parameters: unknown) => decodeParameters(BackupSnapshotParameters, parameters)
const restoreParameters = (parameters: unknown) => decodeParameters(RestoreSnapshotParameters, parameters)

export const snapshotEngine: OperationEngineService = {
  name: "snapshot",
  childKinds: [Resources.VolumeSnapshot, Resources.PersistentVolumeClaim],
  materialize: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* backupOrRestore(operation)) === "Backup") {
        const p = yield* backupParameters(parameters)
        yield* Effect.forEach(p.persistentVolumeClaimNames, (pvc) => requireSourceClaim(namespace, pvc))
        const refs = yield* Effect.forEach(p.persistentVolumeClaimNames, (pvc) =>
          createChild(Resources.VolumeSnapshot, operation, desiredSnapshot(operation, namespace, pvc, p), snapshotDependency)
        )
        return refs[0] ?? { kind: Resources.VolumeSnapshot.kind, name: workloadName(operation), namespace }
      }
      const p = yield* restoreParameters(parameters)
      const snapshot = yield* readySnapshot(namespace, p.volumeSnapshotName)
      const size = p.capacity ?? snapshot.restoreSize
      if (size === undefined) {
        return yield* new EngineError({
          reason: "ValidationFailed",
          message: `VolumeSnapshot ${namespace}/${p.volumeSnapshotName} reports no restoreSize: set parameters.capacity`
        })
      }
      return yield* createChild(Resources.PersistentVolumeClaim, operation, desiredRestoredClaim(operation, namespace, p, size), pvcDependency)
    }),
  observe: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* backupOrRestore(operation)) === "Backup") {
        const p = yield* backupParameters(parameters)
        const found = yield* Effect.forEach(p.persistentVolumeClaimNames, (pvc) =>
          Effect.map(findChild(Resources.VolumeSnapshot, VolumeSnapshot, operation, namespace, snapshotName(operation, pvc)), (s) =>
            Option.map(s, (snap): SnapshotView => ({ pvc, workload: refOf(snap), status: snap.status }))
          )
        )
        const views = found.flatMap((o) => (Option.isSome(o) ? [o.value] : []))
        // One not in the cache yet (just created) while the others are: still running.
        return views.length > 0 && views.length < found.length
          ? EngineObservation.Running({
              reason: SnapshotReason.InProgress,
              message: `waiting for ${found.length - views.length} VolumeSnapshot(s) to appear`,
              workload: views[0]!.workload
            })
          : observeSnapshots(views)
      }
      const p = yield* restoreParameters(parameters)
      const found = yield* findChild(Resources.PersistentVolumeClaim, PersistentVolumeClaim, operation, namespace, p.persistentVolumeClaimName)
      return Option.match(found, {
        onNone: () => EngineObservation.Absent(),
        onSome: (c) => observeRestoredClaim(refOf(c), c, p.volumeSnapshotName)
      })
    }),
  cancel: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* backupOrRestore(operation)) === "Backup") {
        const p = yield* backupParameters(parameters)
        return yield* Effect.forEach(
          p.persistentVolumeClaimNames,
          (pvc) => deleteChildUnless(Resources.VolumeSnapshot, operation, namespace, snapshotName(operation, pvc), Schema.is(ReadySnapshot)),
          { discard: true }
        )
      }
      const p = yield* restoreParameters(parameters)
      yield* deleteChildUnless(Resources.PersistentVolumeClaim, operation, namespace, p.persistentVolumeClaimName, Schema.is(BoundClaim))
    })
}

/** A finished snapshot or restored claim is a result: cancel keeps it. */
const ReadySnapshot = Schema.Struct({ status: Schema.Struct({ readyToUse: Schema.Literal(true) }) })
const BoundClaim = Schema.Struct({ status: Schema.Struct({ phase: Schema.Literal("Bound") }) })

/** Registers the snapshot engine. */
export const snapshotEngineLayer = registerEngine(snapshotEngine)
