/**
 * Whole Operations through the reconciler with the velero, workflow, volsync, snapshot and helm
 * engines: each template to Succeeded and to Failed, with the third-party controller played by
 * the test (Velero, Argo, VolSync, the CSI snapshot controller and PV binder, helm-controller).
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { issueClaim } from "../../src/validation/approvalClaim.js"
import { workflowController } from "../support/argo.js"
import { createTestNamespace } from "../support/cluster.js"
import { plantedSecret } from "../support/logScan.js"
import { bindClaim, snapshotController } from "../support/csiSnapshotter.js"
import { helmUpgradeSteps, writeFluxStep } from "../support/flux.js"
import { applyAs, conditionOf, eventsFor, gated, getObject, operation, placeholderTarget, statusOf, waitForEvent, waitPhase } from "../support/operations.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { veleroServer } from "../support/velero.js"
import { volsyncController } from "../support/volsync.js"
import { waitFor } from "../support/wait.js"

const secret = plantedSecret("approval claim secret", "test-approval-secret")

const setup = (prefix: string, capabilities: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const ns = yield* createTestNamespace(prefix, gated)
    yield* startTestOperator({ namespace: ns, config: { veleroNamespace: ns, approvalClaimSecret: Redacted.make(secret) } })
    yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "ops", capabilities))
    return ns
  })

const approvals = (ns: string, name: string) => ({
  claim: issueClaim(secret, { op: name, ns, by: "admin@example.test", at: "2026-12-02T01:00:00Z", exp: Math.floor(Date.now() / 1000) + 3600, rid: 7 })
})

const create = (ns: string, name: string, spec: Parameters<typeof operation>[2]) => applyAs(Resources.Operation, operation(ns, name, spec))

/** The engine's child once it exists. */
const child = (type: (typeof Resources)[keyof typeof Resources], ns: string, name: string) =>
  waitFor(`${type.kind} ${ns}/${name}`, Effect.map(getObject(type, ns, name), Option.getOrUndefined))

const noWarnings = (ns: string, name: string) =>
  Effect.map(eventsFor(ns, name), (events) => events.filter((e) => e.type === "Warning"))

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("Operations with the velero, workflow, volsync, snapshot and helm engines", (it) => {
  it.scoped("backup.velero and restore.velero: Succeeded, PartiallyFailed (Degraded), Failed; cancel; a deleted succeeded backup Operation keeps its Backup", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-velero", { backup: "velero", restore: "velero" })
      yield* create(ns, "nightly", { type: "Backup", engine: "velero", target: "ops", parameters: { ttl: "720h" } })
      const backup = yield* child(Resources.VeleroBackup, ns, `${ns}--nightly`)
      const running = yield* waitPhase(ns, "nightly", "Running")
      expect(statusOf(running).engineRef).toEqual({ kind: "Backup", name: `${ns}--nightly`, namespace: ns })
      yield* veleroServer.inProgress(backup, 5)
      yield* waitPhase(ns, "nightly", "Running", { type: "Running", reason: "VeleroBackupInProgress" })
      yield* veleroServer.completed(backup)
      const done = yield* waitPhase(ns, "nightly", "Succeeded", { type: "Succeeded", reason: "VeleroBackupCompleted" })
      expect(statusOf(done).outputs).toMatchObject({ backupName: `${ns}--nightly`, warnings: "0", errors: "0" })
      yield* waitForEvent(ns, "nightly", "VeleroBackupCompleted")

      yield* create(ns, "partial", { type: "Backup", engine: "velero", target: "ops" })
      const partial = yield* child(Resources.VeleroBackup, ns, `${ns}--partial`)
      yield* veleroServer.inProgress(partial)
      yield* veleroServer.partiallyFailed(partial, 1, 4)
      const degraded = yield* waitPhase(ns, "partial", "Succeeded", { type: "Degraded", reason: "PartialFailure" })
      expect(conditionOf(degraded, "Succeeded")).toMatchObject({ reason: "VeleroBackupPartiallyFailed" })

      yield* create(ns, "broken", { type: "Backup", engine: "velero", target: "ops" })
      const broken = yield* child(Resources.VeleroBackup, ns, `${ns}--broken`)
      yield* veleroServer.failed(broken, "backup storage location default is unavailable")
      const failed = yield* waitPhase(ns, "broken", "Failed", { type: "Failed", reason: "VeleroBackupFailed" })
      expect(conditionOf(failed, "Failed")?.message).toBe(`Velero backup ${ns}--broken failed: backup storage location default is unavailable`)

      // Restores need an approval claim; one restore succeeds, one is rejected by Velero.
      yield* create(ns, "restore-ok", { type: "Restore", engine: "velero", target: "ops", parameters: { backupName: `${ns}--nightly` }, approvals: approvals(ns, "restore-ok") })
      const restore = yield* child(Resources.VeleroRestore, ns, `${ns}--restore-ok`)
      yield* veleroServer.inProgress(restore)
      yield* veleroServer.completed(restore)
      const restored = yield* waitPhase(ns, "restore-ok", "Succeeded", { type: "Succeeded", reason: "VeleroRestoreCompleted" })
      expect(statusOf(restored).outputs).toMatchObject({ restoreName: `${ns}--restore-ok`, backupName: `${ns}--nightly` })
      yield* create(ns, "restore-bad", { type: "Restore", engine: "velero", target: "ops", parameters: { backupName: "missing" }, approvals: approvals(ns, "restore-bad") })
      const badRestore = yield* child(Resources.VeleroRestore, ns, `${ns}--restore-bad`)
      yield* veleroServer.failedValidation(badRestore, ["backup.velero.io \"missing\" not found"])
      yield* waitPhase(ns, "restore-bad", "Failed", { type: "Failed", reason: "VeleroRestoreValidationFailed" })

      // Cancel deletes the in-progress Backup.
      yield* create(ns, "stop", { type: "Backup", engine: "velero", target: "ops" })
      const stop = yield* child(Resources.VeleroBackup, ns, `${ns}--stop`)
      yield* veleroServer.inProgress(stop)
      yield* waitPhase(ns, "stop", "Running", { type: "Running", reason: "VeleroBackupInProgress" })
      yield* applyAs(Resources.Operation, operation(ns, "stop", { type: "Backup", engine: "velero", target: "ops" }, { "ops.vworkspace.io/cancel": "true" }))
      yield* waitPhase(ns, "stop", "Cancelled", { type: "Cancelled", reason: "UserCancelled" })
      yield* waitFor("cancelled Backup gone", Effect.map(getObject(Resources.VeleroBackup, ns, `${ns}--stop`), (o) => (Option.isNone(o) ? true : undefined)))

      // Deleting the succeeded backup Operation keeps the Backup.
      yield* Effect.flatMap(KubeApi, (api) => api.delete(Resources.Operation, "nightly", ns))
      yield* waitFor("Operation nightly gone", Effect.map(getObject(Resources.Operation, ns, "nightly"), (o) => (Option.isNone(o) ? true : undefined)))
      expect(Option.isSome(yield* getObject(Resources.VeleroBackup, ns, `${ns}--nightly`))).toBe(true)
    })
  )

  it.scoped("runbook.workflow and migration.workflow: Succeeded, Failed, cancel", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-workflow", { runbook: "workflow", migration: "workflow" })
      yield* create(ns, "rotate", { type: "Runbook", engine: "workflow", target: "ops", parameters: { template: "rotate-keys", arguments: { user: "admin" } } })
      const wf = yield* child(Resources.Workflow, ns, `${ns}--rotate`)
      expect(wf["spec"]).toMatchObject({ workflowTemplateRef: { name: "rotate-keys" }, arguments: { parameters: [{ name: "user", value: "admin" }] } })
      yield* workflowController.running(wf)
      yield* waitPhase(ns, "rotate", "Running", { type: "Running", reason: "WorkflowInProgress" })
      yield* workflowController.succeeded(wf)
      const ok = yield* waitPhase(ns, "rotate", "Succeeded", { type: "Succeeded", reason: "WorkflowSucceeded" })
      expect(statusOf(ok).logsRef).toEqual({ kind: "Workflow", name: `${ns}--rotate`, namespace: ns })
      expect(statusOf(ok).outputs).toEqual({ workflowName: `${ns}--rotate` })

      yield* create(ns, "migrate", { type: "Migration", engine: "workflow", target: "ops", parameters: { workflowTemplate: "migrate-db" } })
      const bad = yield* child(Resources.Workflow, ns, `${ns}--migrate`)
      yield* workflowController.running(bad)
      yield* workflowController.failed(bad, "Error (exit code 1)")
      yield* waitPhase(ns, "migrate", "Failed", { type: "Failed", reason: "WorkflowFailed" })

      yield* create(ns, "long", { type: "Runbook", engine: "workflow", target: "ops", parameters: { template: "long" } })
      const long = yield* child(Resources.Workflow, ns, `${ns}--long`)
      yield* workflowController.running(long)
      yield* waitPhase(ns, "long", "Running", { type: "Running", reason: "WorkflowInProgress" })
      yield* applyAs(Resources.Operation, operation(ns, "long", { type: "Runbook", engine: "workflow", target: "ops", parameters: { template: "long" } }, { "ops.vworkspace.io/cancel": "true" }))
      yield* waitPhase(ns, "long", "Cancelled", { type: "Cancelled", reason: "UserCancelled" })
      yield* waitFor("cancelled Workflow gone", Effect.map(getObject(Resources.Workflow, ns, `${ns}--long`), (o) => (Option.isNone(o) ? true : undefined)))
    })
  )

  it.scoped("backup.volsync and restore.volsync: Succeeded and Failed", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-volsync", { backup: "volsync", restore: "volsync" })
      const copy = yield* create(ns, "copy", { type: "Backup", engine: "volsync", target: "ops", parameters: { sourcePVC: "data", repository: "restic" } })
      const source = yield* child(Resources.ReplicationSource, ns, `${ns}--copy`)
      yield* volsyncController.syncing(source)
      yield* waitPhase(ns, "copy", "Running", { type: "Running", reason: "VolSyncSynchronizing" })
      yield* volsyncController.synced(source, copy.metadata.uid ?? "")
      yield* waitPhase(ns, "copy", "Succeeded", { type: "Succeeded", reason: "VolSyncLastSyncSucceeded" })

      yield* create(ns, "copy-bad", { type: "Backup", engine: "volsync", target: "ops", parameters: { sourcePVC: "data", repository: "nope" } })
      yield* volsyncController.error(yield* child(Resources.ReplicationSource, ns, `${ns}--copy-bad`), "secret \"nope\" not found")
      yield* waitPhase(ns, "copy-bad", "Failed", { type: "Failed", reason: "VolSyncFailed" })

      const back = yield* create(ns, "back", { type: "Restore", engine: "volsync", target: "ops", parameters: { repository: "restic", destinationPVC: "data" }, approvals: approvals(ns, "back") })
      const dest = yield* child(Resources.ReplicationDestination, ns, `${ns}--back`)
      yield* volsyncController.syncing(dest)
      yield* volsyncController.synced(dest, back.metadata.uid ?? "")
      yield* waitPhase(ns, "back", "Succeeded", { type: "Succeeded", reason: "VolSyncLastSyncSucceeded" })

      yield* create(ns, "back-bad", { type: "Restore", engine: "volsync", target: "ops", parameters: { repository: "nope", capacity: "1Gi" }, approvals: approvals(ns, "back-bad") })
      yield* volsyncController.error(yield* child(Resources.ReplicationDestination, ns, `${ns}--back-bad`), "secret \"nope\" not found")
      yield* waitPhase(ns, "back-bad", "Failed", { type: "Failed", reason: "VolSyncFailed" })
    })
  )

  it.scoped("backup.snapshot and restore.snapshot: Succeeded and Failed", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-snapshot", { backup: "snapshot", restore: "snapshot" })
      yield* applyAs(Resources.PersistentVolumeClaim, {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "data", namespace: ns },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
      })
      yield* create(ns, "snap", { type: "Backup", engine: "snapshot", target: "ops", parameters: { persistentVolumeClaimNames: ["data"] } })
      const snap = yield* child(Resources.VolumeSnapshot, ns, `${ns}--snap-data`)
      yield* snapshotController.bound(snap)
      yield* waitPhase(ns, "snap", "Running", { type: "Running", reason: "VolumeSnapshotInProgress" })
      yield* snapshotController.ready(snap, "1Gi")
      yield* waitPhase(ns, "snap", "Succeeded", { type: "Succeeded", reason: "VolumeSnapshotReadyToUse" })

      yield* create(ns, "snap-bad", { type: "Backup", engine: "snapshot", target: "ops", parameters: { persistentVolumeClaimNames: ["data"] } })
      yield* snapshotController.error(yield* child(Resources.VolumeSnapshot, ns, `${ns}--snap-bad-data`), "driver does not support snapshots")
      yield* waitPhase(ns, "snap-bad", "Failed", { type: "Failed", reason: "VolumeSnapshotFailed" })

      const restoreSpec = (name: string, snapshot: string) => ({
        type: "Restore",
        engine: "snapshot",
        target: "ops",
        parameters: { volumeSnapshotName: snapshot, persistentVolumeClaimName: `${name}-pvc` },
        approvals: approvals(ns, name)
      })
      yield* create(ns, "restore", restoreSpec("restore", `${ns}--snap-data`))
      const claim = yield* child(Resources.PersistentVolumeClaim, ns, "restore-pvc")
      yield* waitPhase(ns, "restore", "Running", { type: "Running", reason: "VolumeSnapshotRestoreInProgress" })
      yield* bindClaim(claim, "pv-restore-1")
      const restored = yield* waitPhase(ns, "restore", "Succeeded", { type: "Succeeded", reason: "VolumeSnapshotRestored" })
      expect(statusOf(restored).outputs).toMatchObject({ pvcName: "restore-pvc", snapshotName: `${ns}--snap-data`, capacity: "1Gi" })

      // Restoring a snapshot that failed cannot start.
      yield* create(ns, "restore-bad", restoreSpec("restore-bad", `${ns}--snap-bad-data`))
      const bad = yield* waitPhase(ns, "restore-bad", "Failed", { type: "Failed", reason: "EngineFailed" })
      expect(conditionOf(bad, "Failed")?.message).toContain(`VolumeSnapshot ${ns}/${ns}--snap-bad-data is not ready to use`)
    })
  )

  it.scoped("upgrade.helm: helm-controller's real sequence to Succeeded with no Warning Event, and an upgrade that fails (Released=False/UpgradeFailed)", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("op-helm", gated)
      yield* startTestOperator({ namespace: ns })
      const ai = (version: string): KubeObject => ({
        apiVersion: "apps.vworkspace.io/v1alpha1",
        kind: "ApplicationInstance",
        metadata: { name: "cloud", namespace: ns, annotations: { "ops.vworkspace.io/upgrade": "helm" } },
        spec: {
          appRef: { catalogId: "nextcloud" },
          chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version },
          release: { name: "cloud", namespace: ns },
          values: { source: "inline", inline: { replicaCount: 1, ingress: { className: "nginx" } } }
        }
      })
      // The control plane (the Pull agent's field manager) owns the instance.
      yield* Effect.flatMap(KubeApi, (api) => api.apply(Resources.ApplicationInstance, ai("6.6.0"), { fieldManager: "vworkspace-agent", force: true }))
      const hr1 = yield* child(Resources.HelmRelease, ns, "cloud")
      const story = { namespace: ns, release: "cloud", chart: "nextcloud", from: "6.6.0", to: "6.7.0", generation: 2 }
      const steps = helmUpgradeSteps(story)
      yield* writeFluxStep(hr1, steps.installed)
      yield* waitFor("instance Ready", Effect.map(getObject(Resources.ApplicationInstance, ns, "cloud"), (o) => (Option.isSome(o) && conditionOf(o.value, "Ready")?.status === "True" ? true : undefined)))

      yield* create(ns, "up", { type: "Upgrade", engine: "helm", target: "cloud", parameters: { targetVersion: "6.7.0", valuesPatch: { replicaCount: 2 } } })
      const hr2 = yield* waitFor("HelmRelease at 6.7.0", Effect.map(getObject(Resources.HelmRelease, ns, "cloud"), (o) =>
        Option.isSome(o) && o.value.metadata.generation === 2 ? o.value : undefined
      ))
      expect(hr2["spec"]).toMatchObject({ chart: { spec: { version: "6.7.0" } }, values: { replicaCount: 2, ingress: { className: "nginx" } } })
      const patched = Option.getOrThrow(yield* getObject(Resources.ApplicationInstance, ns, "cloud"))
      expect(patched["spec"]).toMatchObject({ chart: { version: "6.7.0", url: "https://charts.example.test/stable" }, values: { inline: { replicaCount: 2, ingress: { className: "nginx" } } } })
      yield* waitPhase(ns, "up", "Running")

      for (const step of [steps.fulfilling, steps.sourceNotReady, steps.upgrading]) {
        yield* writeFluxStep(hr2, step)
        yield* waitPhase(ns, "up", "Running", { type: "Running", reason: "HelmUpgradeInProgress" })
      }
      yield* waitFor("instance in progress", Effect.map(getObject(Resources.ApplicationInstance, ns, "cloud"), (o) =>
        Option.isSome(o) && conditionOf(o.value, "Ready")?.status === "Unknown" ? true : undefined
      ))
      yield* writeFluxStep(hr2, steps.succeeded)
      const done = yield* waitPhase(ns, "up", "Succeeded", { type: "Succeeded", reason: "HelmUpgradeSucceeded" })
      expect(statusOf(done).outputs).toMatchObject({ releaseName: "cloud", chartVersion: "6.7.0", releaseRevision: "2" })
      expect(yield* noWarnings(ns, "up")).toEqual([])
      expect(yield* noWarnings(ns, "cloud")).toEqual([])

      // An upgrade that fails: Released=False/UpgradeFailed, then helm-controller rolls back.
      yield* create(ns, "up-bad", { type: "Upgrade", engine: "helm", target: "cloud", parameters: { targetVersion: "6.8.0" } })
      const hr3 = yield* waitFor("HelmRelease at 6.8.0", Effect.map(getObject(Resources.HelmRelease, ns, "cloud"), (o) =>
        Option.isSome(o) && o.value.metadata.generation === 3 ? o.value : undefined
      ))
      const bad = helmUpgradeSteps({ ...story, from: "6.7.0", to: "6.8.0", generation: 3 })
      yield* writeFluxStep(hr3, bad.sourceNotReady)
      yield* waitPhase(ns, "up-bad", "Running", { type: "Running", reason: "HelmUpgradeInProgress" })
      yield* writeFluxStep(hr3, bad.upgradeFailed)
      const failed = yield* waitPhase(ns, "up-bad", "Failed", { type: "Failed", reason: "HelmUpgradeFailed" })
      expect(conditionOf(failed, "Failed")?.message).toBe(`UpgradeFailed: Helm upgrade failed for release ${ns}/cloud with chart nextcloud@6.8.0: context deadline exceeded`)
    })
  )
})
