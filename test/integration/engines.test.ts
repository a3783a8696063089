/**
 * The velero, workflow, snapshot and volsync engines against the real API server: each
 * materialises its workload, the test plays the third-party controller by writing status the
 * way it does, and the engine's observation follows from the informer cache.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { EngineInput, EngineObservation, OperationEngineService } from "../../src/engines/engine.js"
import { snapshotEngine } from "../../src/engines/snapshot.js"
import { veleroEngine } from "../../src/engines/velero.js"
import { volsyncEngine } from "../../src/engines/volsync.js"
import { workflowEngine } from "../../src/engines/workflow.js"
import { requireKind } from "../../src/engines/workload.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { workflowController } from "../support/argo.js"
import { createTestNamespace } from "../support/cluster.js"
import { bindClaim, snapshotController } from "../support/csiSnapshotter.js"
import { createOperation, createPlaceholder, engineServices, getObject, inputFor } from "../support/engines.js"
import { kubeLayer } from "../support/operator.js"
import { veleroServer } from "../support/velero.js"
import { volsyncController } from "../support/volsync.js"
import { waitFor } from "../support/wait.js"

/** Observes until the observation has `tag` (and `reason`), with a deadline. */
const observeUntil = <T extends EngineObservation["_tag"]>(
  engine: OperationEngineService,
  input: EngineInput,
  tag: T,
  reason?: string
) =>
  waitFor(
    `${engine.name} observation ${tag}${reason ? `/${reason}` : ""}`,
    Effect.map(engine.observe(input), (o) =>
      isTag(o, tag) && (reason === undefined || ("reason" in o && o.reason === reason)) ? o : undefined
    )
  )

const isTag = <T extends EngineObservation["_tag"]>(o: EngineObservation, tag: T): o is Extract<EngineObservation, { _tag: T }> =>
  o._tag === tag

const exists = (type: (typeof Resources)[keyof typeof Resources], namespace: string, name: string) =>
  getObject(type, namespace, name).pipe(
    Effect.as(true),
    Effect.catchTag("NotFound", () => Effect.succeed(false))
  )

const createPvc = (namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.create(Resources.PersistentVolumeClaim, {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
    })
  )

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("engines against a real API server", (it) => {
  it.scoped("velero: Backup named <ns>--<name>, followed through InProgress to Completed; cancel keeps a finished backup", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("eng-velero")
      yield* Effect.gen(function* () {
        const target = yield* createPlaceholder(ns)
        const op = yield* createOperation(ns, "nightly", "Backup", "velero", { ttl: "720h", storageLocation: "primary" })
        const input = inputFor(op, target)
        const ref = yield* veleroEngine.materialize(input)
        expect(ref).toEqual({ kind: "Backup", name: `${ns}--nightly`, namespace: ns })
        // Materialising again finds its own Backup and writes nothing.
        expect(yield* veleroEngine.materialize(input)).toEqual(ref)
        const backup = yield* getObject(Resources.VeleroBackup, ns, ref.name)
        expect(backup.metadata.labels).toMatchObject({
          "ops.vworkspace.io/operation": op.metadata.uid,
          "ops.vworkspace.io/operation-namespace": ns,
          "ops.vworkspace.io/operation-name": "nightly"
        })
        expect(backup.metadata.ownerReferences).toBeUndefined()
        expect(backup["spec"]).toMatchObject({ includedNamespaces: [ns], storageLocation: "primary", ttl: "720h" })

        yield* observeUntil(veleroEngine, input, "Running", "VeleroBackupInProgress")
        yield* veleroServer.inProgress(backup, 10)
        const running = yield* waitFor("progress", Effect.map(veleroEngine.observe(input), (o) => (o._tag === "Running" && o.message.includes("10/40") ? o : undefined)))
        expect(running.message).toBe(`Velero backup ${ns}--nightly is InProgress (10/40 items)`)
        yield* veleroServer.finalizing(backup)
        yield* veleroServer.completed(backup)
        const done = yield* observeUntil(veleroEngine, input, "Succeeded", "VeleroBackupCompleted")
        expect(done.outputs).toMatchObject({ backupName: `${ns}--nightly`, warnings: "0", errors: "0" })

        yield* veleroEngine.cancel(input)
        expect(yield* exists(Resources.VeleroBackup, ns, ref.name)).toBe(true)
      }).pipe(Effect.provide(engineServices(ns)))
    })
  )

  it.scoped("velero: PartiallyFailed is Succeeded+Degraded, a Restore's FailedValidation is Failed, cancel deletes an in-progress Backup", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("eng-velero2")
      yield* Effect.gen(function* () {
        const target = yield* createPlaceholder(ns)
        const partial = inputFor(yield* createOperation(ns, "partial", "Backup", "velero", {}), target)
        const b = yield* getObject(Resources.VeleroBackup, ns, (yield* veleroEngine.materialize(partial)).name)
        yield* veleroServer.inProgress(b)
        yield* veleroServer.partiallyFailed(b, 2, 5)
        const degraded = yield* observeUntil(veleroEngine, partial, "Succeeded", "VeleroBackupPartiallyFailed")
        expect(degraded.degraded).toMatchObject({ reason: "PartialFailure" })

        const restore = inputFor(yield* createOperation(ns, "restore", "Restore", "velero", { backupName: "gone" }), target)
        const r = yield* getObject(Resources.VeleroRestore, ns, (yield* veleroEngine.materialize(restore)).name)
        expect(r["spec"]).toEqual({ backupName: "gone" })
        yield* veleroServer.failedValidation(r, ["backup \"gone\" not found"])
        const rejected = yield* observeUntil(veleroEngine, restore, "Failed", "VeleroRestoreValidationFailed")
        expect(rejected.message).toBe(`Velero rejected restore ${ns}--restore: backup "gone" not found`)

        const cancelled = inputFor(yield* createOperation(ns, "cancelled", "Backup", "velero", {}), target)
        const c = yield* getObject(Resources.VeleroBackup, ns, (yield* veleroEngine.materialize(cancelled)).name)
        yield* veleroServer.inProgress(c)
        yield* observeUntil(veleroEngine, cancelled, "Running")
        yield* veleroEngine.cancel(cancelled)
        expect(yield* exists(Resources.VeleroBackup, ns, `${ns}--cancelled`)).toBe(false)
        yield* observeUntil(veleroEngine, cancelled, "Absent")
      }).pipe(Effect.provide(engineServices(ns)))
    })
  )

  it.scoped("velero: a Backup of that name owned by another Operation is never taken over", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("eng-velero3")
      yield* Effect.gen(function* () {
        const target = yield* createPlaceholder(ns)
        const first = inputFor(yield* createOperation(ns, "weekly", "Backup", "velero", {}), target)
        yield* veleroEngine.materialize(first)
        yield* Effect.flatMap(KubeApi, (api) => api.delete(Resources.Operation, "weekly", ns))
        const second = inputFor(yield* createOperation(ns, "weekly", "Backup", "velero", {}), target)
        const error = yield* Effect.flip(veleroEngine.materialize(second))
        expect(error.reason).toBe("WorkloadOwnershipConflict")
        expect(error.message).toContain(`Backup ${ns}/${ns}--weekly belongs to a different operation`)
        const again = yield* Effect.flip(veleroEngine.observe(second))
        expect(again.reason).toBe("WorkloadOwnershipConflict")
        // Cancel refuses to touch the other Operation's Backup.
        expect((yield* Effect.flip(veleroEngine.cancel(second))).reason).toBe("WorkloadOwnershipConflict")
        expect(yield* exists(Resources.VeleroBackup, ns, `${ns}--weekly`)).toBe(true)
      }).pipe(Effect.provide(engineServices(ns)))
    })
  )

  it.scoped("workflow: a Workflow from the template with arguments; Succeeded, Failed and cancel", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("eng-workflow")
      yield* Effect.gen(function* () {
        const target = yield* createPlaceholder(ns)
        const ok = inputFor(
          yield* createOperation(ns, "rotate", "Runbook", "workflow", { template: "rotate-keys", targetChartVersion: "7.1.0", timeoutSeconds: 900 }),
          target
        )
        const ref = yield* workflowEngine.materialize(ok)
        const wf = yield* getObject(Resources.Workflow, ns, ref.name)
        expect(wf["spec"]).toEqual({
          workflowTemplateRef: { name: "rotate-keys" },
          serviceAccountName: "vworkspace-operation-runner",
          arguments: { parameters: [{ name: "targetChartVersion", value: "7.1.0" }] },
          activeDeadlineSeconds: 900
        })
        expect(wf.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Operation", name: "rotate", uid: ok.operation.metadata.uid })])
        yield* workflowController.running(wf)
        yield* observeUntil(workflowEngine, ok, "Running", "WorkflowInProgress")
        yield* workflowController.succeeded(wf)
        const done = yield* observeUntil(workflowEngine, ok, "Succeeded", "WorkflowSucceeded")
        expect(done).toMatchObject({ outputs: { workflowName: ref.name }, logsRef: { kind: "Workflow", name: ref.name, namespace: ns } })

        const bad = inputFor(yield* createOperation(ns, "migrate", "Migration", "workflow", { workflowTemplate: "migrate-db" }), target)
        const badWf = yield* getObject(Resources.Workflow, ns, (yield* workflowEngine.materialize(bad)).name)
        yield* workflowController.running(badWf)
        yield* workflowController.failed(badWf, "Error (exit code 3)")
        const failed = yield* observeUntil(workflowEngine, bad, "Failed", "WorkflowFailed")
        expect(failed.message).toBe(`Workflow ${ns}--migrate failed: child '${ns}--migrate-1234567890' failed; step migrate: Error (exit code 3)`)

        const stop = inputFor(yield* createOperation(ns, "stop", "Runbook", "workflow", { template: "long" }), target)
        const stopWf = yield* getObject(Resources.Workflow, ns, (yield* workflowEngine.materialize(stop)).name)
        yield* workflowController.running(stopWf)
        yield* workflowEngine.cancel(stop)
        expect(yield* exists(Resources.Workflow, ns, `${ns}--stop`)).toBe(false)

        const none = inputFor(yield* createOperation(ns, "none", "Runbook", "workflow", {}), target)
        expect((yield* Effect.flip(workflowEngine.materialize(none))).message).toContain("parameters.workflowTemplate is required")
      }).pipe(Effect.provide(engineServices(ns)))
    })
  )

  it.scoped("snapshot: VolumeSnapshot of a PVC until readyToUse, an error fails, a restore is a PVC from the snapshot until Bound", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("eng-snapshot")
      yield* Effect.gen(function* () {
        const target = yield* createPlaceholder(ns)
        yield* createPvc(ns, "data")
        const backup = inputFor(yield* createOperation(ns, "snap", "Backup", "snapshot", { persistentVolumeClaimNames: ["data"], volumeSnapshotClassName: "csi-hostpath" }), target)
        const ref = yield* snapshotEngine.materialize(backup)
        const snap = yield* getObject(Resources.VolumeSnapshot, ns, ref.name)
        expect(snap["spec"]).toEqual({ source: { persistentVolumeClaimName: "data" }, volumeSnapshotClassName: "csi-hostpath" })
        yield* snapshotController.bound(snap)
        yield* observeUntil(snapshotEngine, backup, "Running", "VolumeSnapshotInProgress")
        yield* snapshotController.ready(snap, "1Gi")
        const ready = yield* observeUntil(snapshotEngine, backup, "Succeeded", "VolumeSnapshotReadyToUse")
        expect(ready.outputs).toMatchObject({ volumeSnapshotName: ref.name, restoreSize: "1Gi" })

        const missing = inputFor(yield* createOperation(ns, "nopvc", "Backup", "snapshot", { persistentVolumeClaimNames: ["absent"] }), target)
        expect(yield* Effect.flip(snapshotEngine.materialize(missing))).toMatchObject({
          reason: "SourcePvcNotFound",
          message: `PersistentVolumeClaim ${ns}/absent not found`
        })

        const broken = inputFor(yield* createOperation(ns, "broken", "Backup", "snapshot", { persistentVolumeClaimNames: ["data"] }), target)
        const brokenSnap = yield* getObject(Resources.VolumeSnapshot, ns, (yield* snapshotEngine.materialize(broken)).name)
        yield* snapshotController.error(brokenSnap, "Failed to check and update snapshot content: driver does not support snapshots")
        yield* observeUntil(snapshotEngine, broken, "Failed", "VolumeSnapshotFailed")

        const restore = inputFor(yield* createOperation(ns, "restore", "Restore", "snapshot", { volumeSnapshotName: ref.name, persistentVolumeClaimName: "data-restored" }), target)
        const claimRef = yield* snapshotEngine.materialize(restore)
        expect(claimRef).toEqual({ kind: "PersistentVolumeClaim", name: "data-restored", namespace: ns })
        const claim = yield* getObject(Resources.PersistentVolumeClaim, ns, "data-restored")
        expect(claim["spec"]).toMatchObject({
          resources: { requests: { storage: "1Gi" } },
          dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: ref.name }
        })
        yield* observeUntil(snapshotEngine, restore, "Running", "VolumeSnapshotRestoreInProgress")
        yield* bindClaim(claim, "pv-restored-1")
        yield* observeUntil(snapshotEngine, restore, "Succeeded", "VolumeSnapshotRestored")

        const notReady = inputFor(yield* createOperation(ns, "early", "Restore", "snapshot", { volumeSnapshotName: `${ns}--broken-data`, persistentVolumeClaimName: "early" }), target)
        expect((yield* Effect.flip(snapshotEngine.materialize(notReady))).reason).toBe("VolumeSnapshotNotReady")
      }).pipe(Effect.provide(engineServices(ns)))
    })
  )

  it.scoped("volsync: a one-shot ReplicationSource until lastManualSync; a destination's Error fails", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("eng-volsync")
      yield* Effect.gen(function* () {
        const target = yield* createPlaceholder(ns)
        const backup = inputFor(yield* createOperation(ns, "copy", "Backup", "volsync", { sourcePVC: "data", repository: "restic-config" }), target)
        const ref = yield* volsyncEngine.materialize(backup)
        const source = yield* getObject(Resources.ReplicationSource, ns, ref.name)
        expect(source["spec"]).toEqual({
          sourcePVC: "data",
          trigger: { manual: backup.operation.metadata.uid },
          restic: { repository: "restic-config", copyMethod: "Snapshot" }
        })
        yield* observeUntil(volsyncEngine, backup, "Running", "VolSyncFirstSyncInProgress")
        yield* volsyncController.syncing(source)
        yield* observeUntil(volsyncEngine, backup, "Running", "VolSyncSynchronizing")
        yield* volsyncController.synced(source, backup.operation.metadata.uid ?? "")
        const done = yield* observeUntil(volsyncEngine, backup, "Succeeded", "VolSyncLastSyncSucceeded")
        expect(done.outputs).toMatchObject({ lastSyncTime: "2026-12-02T01:00:42Z", lastSyncDuration: "42.1s" })

        const restore = inputFor(yield* createOperation(ns, "back", "Restore", "volsync", { repository: "restic-config", capacity: "2Gi" }), target)
        const dest = yield* getObject(Resources.ReplicationDestination, ns, (yield* volsyncEngine.materialize(restore)).name)
        expect(dest["spec"]).toMatchObject({ restic: { repository: "restic-config", copyMethod: "Snapshot", capacity: "2Gi", accessModes: ["ReadWriteOnce"] } })
        yield* volsyncController.error(dest, "unable to get repository secret: secret \"restic-config\" not found")
        yield* observeUntil(volsyncEngine, restore, "Failed", "VolSyncFailed")

        const nowhere = inputFor(yield* createOperation(ns, "nowhere", "Restore", "volsync", { repository: "restic-config" }), target)
        expect((yield* Effect.flip(volsyncEngine.materialize(nowhere))).reason).toBe("ValidationFailed")
      }).pipe(Effect.provide(engineServices(ns)))
    })
  )

  it.effect("a kind that is not installed is MissingDependencies, naming the CRD and what to install", () =>
    Effect.gen(function* () {
      const absent = { group: "absent.vworkspace.test", version: "v1", kind: "Thing", plural: "things", namespaced: true }
      const result = yield* Effect.either(requireKind({ type: absent, install: "the Thing operator" }))
      expect(Either.isLeft(result) && result.left).toMatchObject({
        reason: "MissingDependencies",
        message: "the Thing kind (things.absent.vworkspace.test/v1) is not installed in this cluster: install the Thing operator"
      })
      expect(Either.isRight(yield* Effect.either(requireKind({ type: Resources.VeleroBackup, install: "Velero" })))).toBe(true)
    })
  )
})
