/**
 * The snapshot engine (CSI). `backup.snapshot` creates a `VolumeSnapshot` of one PVC of the target
 * namespace; the CSI snapshotter's `readyToUse` means Succeeded, its `error` means Failed.
 * `restore.snapshot` creates a new PVC whose `dataSource` is a VolumeSnapshot; it succeeds when the
 * claim is Bound. Neither object gets an owner reference: the snapshot and the restored volume are
 * the results and outlive the Operation. Cancel deletes them only while they are unfinished.
 */
import { Effect, Option, Schema } from "effect"
import type { Operation } from "../api/operation.js"
import { PersistentVolumeClaim } from "../api/thirdParty/core.js"
import { VolumeSnapshot, type VolumeSnapshotStatus } from "../api/thirdParty/snapshot.js"
import { KubeApi } from "../kube/KubeApi.js"
import { apiVersionOf, type KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { EngineError, EngineObservation, type OperationEngineService, registerEngine, type WorkloadRef } from "./engine.js"
import {
  apiError,
  createChild,
  decodeParameters,
  deleteOwnedChild,
  type Dependency,
  ownedChild,
  readChild,
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

/** What `backup.snapshot` reads: the PVC to snapshot and, optionally, the VolumeSnapshotClass. */
export const SnapshotBackupParameters = Schema.Struct({
  pvc: Schema.String.pipe(Schema.minLength(1)),
  volumeSnapshotClassName: Schema.optional(Schema.String.pipe(Schema.minLength(1)))
})
export type SnapshotBackupParameters = typeof SnapshotBackupParameters.Type

/**
 * What `restore.snapshot` reads: the VolumeSnapshot to restore (same namespace), the new claim's
 * name (default `<namespace>--<name>`), and its class, access modes and size (default: the
 * snapshot's `restoreSize`).
 */
export const SnapshotRestoreParameters = Schema.Struct({
  snapshotName: Schema.String.pipe(Schema.minLength(1)),
  pvc: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  storageClassName: Schema.optional(Schema.String),
  accessModes: Schema.optional(Schema.Array(Schema.String)),
  size: Schema.optional(Schema.String)
})
export type SnapshotRestoreParameters = typeof SnapshotRestoreParameters.Type

export const desiredSnapshot = (op: Operation, namespace: string, p: SnapshotBackupParameters): KubeObject => ({
  apiVersion: apiVersionOf(Resources.VolumeSnapshot),
  kind: Resources.VolumeSnapshot.kind,
  metadata: { name: workloadName(op), namespace, labels: workloadLabels(op) },
  spec: {
    source: { persistentVolumeClaimName: p.pvc },
    ...(p.volumeSnapshotClassName !== undefined ? { volumeSnapshotClassName: p.volumeSnapshotClassName } : {})
  }
})

export const desiredRestoredClaim = (op: Operation, namespace: string, p: SnapshotRestoreParameters, size: string): KubeObject => ({
  apiVersion: "v1",
  kind: Resources.PersistentVolumeClaim.kind,
  metadata: { name: p.pvc ?? workloadName(op), namespace, labels: workloadLabels(op) },
  spec: {
    accessModes: p.accessModes ?? ["ReadWriteOnce"],
    ...(p.storageClassName !== undefined ? { storageClassName: p.storageClassName } : {}),
    resources: { requests: { storage: size } },
    dataSource: { apiGroup: Resources.VolumeSnapshot.group, kind: Resources.VolumeSnapshot.kind, name: p.snapshotName }
  }
})

export const observeSnapshot = (workload: WorkloadRef, status: VolumeSnapshotStatus | undefined): EngineObservation => {
  const logsRef = workload
  if (status?.readyToUse === true) {
    return EngineObservation.Succeeded({
      reason: SnapshotReason.ReadyToUse,
      message: `VolumeSnapshot ${workload.name} is ready to use${status.restoreSize ? ` (${status.restoreSize})` : ""}`,
      workload,
      logsRef,
      outputs: {
        volumeSnapshotName: workload.name,
        ...(status.restoreSize !== undefined ? { restoreSize: status.restoreSize } : {}),
        ...(status.boundVolumeSnapshotContentName !== undefined
          ? { volumeSnapshotContentName: status.boundVolumeSnapshotContentName }
          : {}),
        ...(status.creationTime !== undefined ? { creationTime: status.creationTime } : {})
      }
    })
  }
  if (status?.error?.message !== undefined && status.error.message !== "") {
    return EngineObservation.Failed({
      reason: SnapshotReason.Failed,
      message: `VolumeSnapshot ${workload.name} failed: ${status.error.message}`,
      workload,
      logsRef,
      outputs: { volumeSnapshotName: workload.name }
    })
  }
  return EngineObservation.Running({
    reason: SnapshotReason.InProgress,
    message:
      status?.boundVolumeSnapshotContentName === undefined
        ? `VolumeSnapshot ${workload.name} is waiting for the snapshot controller`
        : `VolumeSnapshot ${workload.name} is bound to ${status.boundVolumeSnapshotContentName}, waiting until it is ready to use`,
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

const typeOf = (op: Operation): Effect.Effect<"Backup" | "Restore", EngineError> =>
  op.spec.type === "Backup" || op.spec.type === "Restore"
    ? Effect.succeed(op.spec.type)
    : Effect.fail(new EngineError({ reason: "ValidationFailed", message: `snapshot engine does not support operation type "${op.spec.type}"` }))

/** The source PVC must exist: a snapshot of nothing would wait for ever. */
const requireSourceClaim = (namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) => api.get(Resources.PersistentVolumeClaim, name, namespace)).pipe(
    Effect.asVoid,
    Effect.catchTag("NotFound", () =>
      Effect.fail(
        new EngineError({ reason: SnapshotReason.SourcePvcNotFound, message: `PersistentVolumeClaim ${namespace}/${name} not found` })
      )
    ),
    Effect.mapError((e) => (e._tag === "EngineError" ? e : apiError(`get PersistentVolumeClaim ${namespace}/${name}`, e)))
  )

/** The snapshot to restore must be ready; its restoreSize is the default size of the new claim. */
const readySnapshot = (namespace: string, name: string) =>
  Effect.flatMap(readChild(Resources.VolumeSnapshot, VolumeSnapshot, namespace, name), (found) => {
    if (Option.isNone(found)) {
      return Effect.fail(
        new EngineError({ reason: SnapshotReason.SnapshotNotFound, message: `VolumeSnapshot ${namespace}/${name} not found` })
      )
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

const claimName = (op: Operation, parameters: unknown) =>
  Effect.map(decodeParameters(SnapshotRestoreParameters, parameters), (p) => ({ p, name: p.pvc ?? workloadName(op) }))

export const snapshotEngine: OperationEngineService = {
  name: "snapshot",
  childKinds: [Resources.VolumeSnapshot, Resources.PersistentVolumeClaim],
  materialize: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* typeOf(operation)) === "Backup") {
        const p = yield* decodeParameters(SnapshotBackupParameters, parameters)
        yield* requireSourceClaim(namespace, p.pvc)
        return yield* createChild(Resources.VolumeSnapshot, desiredSnapshot(operation, namespace, p), operation, snapshotDependency)
      }
      const { p } = yield* claimName(operation, parameters)
      const snapshot = yield* readySnapshot(namespace, p.snapshotName)
      const size = p.size ?? snapshot.restoreSize
      if (size === undefined) {
        return yield* new EngineError({
          reason: "ValidationFailed",
          message: `VolumeSnapshot ${namespace}/${p.snapshotName} reports no restoreSize: set parameters.size`
        })
      }
      return yield* createChild(
        Resources.PersistentVolumeClaim,
        desiredRestoredClaim(operation, namespace, p, size),
        operation,
        pvcDependency
      )
    }),
  observe: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* typeOf(operation)) === "Backup") {
        const found = yield* ownedChild(Resources.VolumeSnapshot, VolumeSnapshot, operation, namespace, workloadName(operation))
        return Option.match(found, {
          onNone: () => EngineObservation.Absent(),
          onSome: (s) => observeSnapshot(refOf(s), s.status)
        })
      }
      const { p, name } = yield* claimName(operation, parameters)
      const found = yield* ownedChild(Resources.PersistentVolumeClaim, PersistentVolumeClaim, operation, namespace, name)
      return Option.match(found, {
        onNone: () => EngineObservation.Absent(),
        onSome: (c) => observeRestoredClaim(refOf(c), c, p.snapshotName)
      })
    }),
  cancel: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const namespace = targetNamespace(target)
      if ((yield* typeOf(operation)) === "Backup") {
        return yield* deleteOwnedChild(Resources.VolumeSnapshot, operation, namespace, workloadName(operation), Schema.is(ReadySnapshot))
      }
      const { name } = yield* claimName(operation, parameters)
      yield* deleteOwnedChild(Resources.PersistentVolumeClaim, operation, namespace, name, Schema.is(BoundClaim))
    })
}

/** A finished snapshot or restored claim is a result: cancel keeps it. */
const ReadySnapshot = Schema.Struct({ status: Schema.Struct({ readyToUse: Schema.Literal(true) }) })
const BoundClaim = Schema.Struct({ status: Schema.Struct({ phase: Schema.Literal("Bound") }) })

/** Registers the snapshot engine. */
export const snapshotEngineLayer = registerEngine(snapshotEngine)
