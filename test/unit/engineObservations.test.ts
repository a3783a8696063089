/** The status mappings of the velero, workflow, snapshot and volsync engines, and the objects they create. */
import { describe, expect, it } from "vitest"
import type { Operation } from "../../src/api/operation.js"
import { desiredBackup, observeVelero, veleroLabels } from "../../src/engines/velero.js"
import { desiredWorkflow, observeWorkflow, workflowArguments } from "../../src/engines/workflow.js"
import { desiredRestoredClaim, observeRestoredClaim, observeSnapshots } from "../../src/engines/snapshot.js"
import { desiredDestination, observeReplication } from "../../src/engines/volsync.js"
import { workloadName } from "../../src/engines/workload.js"

const op = (name = "nightly", namespace = "team"): Operation => ({
  apiVersion: "ops.vworkspace.io/v1alpha1",
  kind: "Operation",
  metadata: { name, namespace, uid: "0b5c2a4e-1111-2222-3333-444455556666" },
  spec: { targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: "cloud" }, type: "Backup", engine: "velero" }
})

const backupRef = { kind: "Backup", name: "team--nightly", namespace: "velero" }

describe("workload naming and labels", () => {
  it("<namespace>--<name>, or the UID when that is longer than 63 characters", () => {
    expect(workloadName(op())).toBe("team--nightly")
    expect(workloadName(op("x".repeat(60)))).toBe("0b5c2a4e-1111-2222-3333-444455556666")
  })

  it("Velero objects' labels carry the Operation's UID, namespace and name", () => {
    expect(veleroLabels(op())).toEqual({
      "app.vworkspace.io/managed-by": "vworkspace-operator",
      "ops.vworkspace.io/operation": "0b5c2a4e-1111-2222-3333-444455556666",
      "ops.vworkspace.io/operation-namespace": "team",
      "ops.vworkspace.io/operation-name": "nightly"
    })
  })
})

describe("velero", () => {
  it("a Backup of the target namespace, storage location default, retention as ttl, no owner reference", () => {
    const b = desiredBackup(op(), "velero", "team", { retention: "720h", snapshotClassName: "csi", includedResources: [] })
    expect(b.metadata).toEqual({ name: "team--nightly", namespace: "velero", labels: veleroLabels(op()) })
    expect(b["spec"]).toEqual({ includedNamespaces: ["team"], storageLocation: "default", csiSnapshotClassName: "csi", ttl: "720h" })
  })

  it("New, InProgress, WaitingForPluginOperations and Finalizing are Running", () => {
    for (const phase of [undefined, "New", "InProgress", "WaitingForPluginOperations", "Finalizing"]) {
      expect(observeVelero("Backup", backupRef, phase ? { phase } : undefined, { backupName: "team--nightly" })).toMatchObject({
        _tag: "Running",
        reason: "VeleroBackupInProgress"
      })
    }
    expect(observeVelero("Backup", backupRef, { phase: "InProgress", progress: { totalItems: 40, itemsBackedUp: 12 } }, {})).toMatchObject({
      message: "Velero backup team--nightly is InProgress (12/40 items)"
    })
  })

  it("Completed is Succeeded with the backup name and counts", () => {
    const o = observeVelero("Backup", backupRef, { phase: "Completed", warnings: 0, errors: 0, completionTimestamp: "2026-12-02T01:00:00Z", progress: { itemsBackedUp: 40 } }, { backupName: "team--nightly" })
    expect(o).toMatchObject({
      _tag: "Succeeded",
      reason: "VeleroBackupCompleted",
      message: "Velero backup team--nightly completed (40 item(s) backed up)",
      outputs: { backupName: "team--nightly", warnings: "0", errors: "0", completionTime: "2026-12-02T01:00:00Z" }
    })
    expect(o._tag === "Succeeded" && o.degraded).toBeFalsy()
  })

  it("PartiallyFailed is Succeeded with Degraded and the counts", () => {
    expect(observeVelero("Backup", backupRef, { phase: "PartiallyFailed", warnings: 3, errors: 2 }, { backupName: "team--nightly" })).toMatchObject({
      _tag: "Succeeded",
      reason: "VeleroBackupPartiallyFailed",
      degraded: { reason: "PartialFailure" },
      message: "Velero backup team--nightly partially failed: 2 error(s), 3 warning(s)",
      outputs: { warnings: "3", errors: "2" }
    })
  })

  it("Failed and FailedValidation are Failed with Velero's words", () => {
    expect(observeVelero("Backup", backupRef, { phase: "Failed", failureReason: "error getting backup store" }, {})).toMatchObject({
      _tag: "Failed",
      reason: "VeleroBackupFailed",
      message: "Velero backup team--nightly failed: error getting backup store"
    })
    expect(
      observeVelero("Restore", { ...backupRef, kind: "Restore" }, { phase: "FailedValidation", validationErrors: ["backup not found", "bad mapping"] }, {})
    ).toMatchObject({
      _tag: "Failed",
      reason: "VeleroRestoreValidationFailed",
      message: "Velero rejected restore team--nightly: backup not found; bad mapping"
    })
  })
})

describe("workflow", () => {
  const ref = { kind: "Workflow", name: "team--nightly", namespace: "team" }

  it("arguments: the documented runbook keys and `arguments`, sorted by name; `arguments` wins", () => {
    expect(
      workflowArguments({ targetChartVersion: "7.0.0", failureAction: "rollback", arguments: { b: "1", a: "2", failureAction: "stop" } })
    ).toEqual([
      { name: "a", value: "2" },
      { name: "b", value: "1" },
      { name: "failureAction", value: "stop" },
      { name: "targetChartVersion", value: "7.0.0" }
    ])
  })

  it("a Workflow from the template, with the runner ServiceAccount and an owner reference in the same namespace", () => {
    const w = desiredWorkflow(op(), "team", "upgrade-db", { timeoutSeconds: 600 })
    expect(w["spec"]).toEqual({
      workflowTemplateRef: { name: "upgrade-db" },
      serviceAccountName: "vworkspace-operation-runner",
      activeDeadlineSeconds: 600
    })
    expect(w.metadata.ownerReferences).toEqual([
      { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Operation", name: "nightly", uid: "0b5c2a4e-1111-2222-3333-444455556666" }
    ])
  })

  it("Succeeded, Failed, Error and the phases in between", () => {
    expect(observeWorkflow(ref, { phase: "Succeeded", progress: "3/3" })).toMatchObject({ _tag: "Succeeded", reason: "WorkflowSucceeded", outputs: { workflowName: "team--nightly" }, logsRef: ref })
    expect(
      observeWorkflow(ref, {
        phase: "Failed",
        message: "child 'team--nightly-123' failed",
        nodes: { a: { displayName: "migrate", type: "Pod", phase: "Failed", message: "Error (exit code 1)" } }
      })
    ).toMatchObject({ _tag: "Failed", reason: "WorkflowFailed", message: "Workflow team--nightly failed: child 'team--nightly-123' failed; step migrate: Error (exit code 1)" })
    expect(observeWorkflow(ref, { phase: "Error", message: "template not found" })).toMatchObject({ _tag: "Failed", reason: "WorkflowError" })
    expect(observeWorkflow(ref, { phase: "Running" })).toMatchObject({ _tag: "Running", reason: "WorkflowInProgress" })
    expect(observeWorkflow(ref, undefined)).toMatchObject({ _tag: "Running", message: "Workflow team--nightly is Pending" })
  })
})

describe("snapshot", () => {
  const ref = { kind: "VolumeSnapshot", name: "team--nightly", namespace: "team" }

  it("all readyToUse is Succeeded, an error on any is Failed, anything else is Running", () => {
    const data = { pvc: "data", workload: ref }
    const logs = { pvc: "logs", workload: { ...ref, name: "team--nightly-logs" } }
    expect(observeSnapshots([{ ...data, status: { readyToUse: true, restoreSize: "1Gi", boundVolumeSnapshotContentName: "snapcontent-1" } }])).toMatchObject({
      _tag: "Succeeded",
      reason: "VolumeSnapshotReadyToUse",
      outputs: { volumeSnapshotName: "team--nightly", restoreSize: "1Gi", volumeSnapshots: { data: "team--nightly" } }
    })
    expect(
      observeSnapshots([
        { ...data, status: { readyToUse: true, restoreSize: "1Gi" } },
        { ...logs, status: { readyToUse: false, boundVolumeSnapshotContentName: "snapcontent-2" } }
      ])
    ).toMatchObject({ _tag: "Running", message: "1/2 VolumeSnapshot(s) ready; team--nightly-logs is bound to snapcontent-2, waiting until it is ready to use" })
    expect(
      observeSnapshots([
        { ...data, status: { readyToUse: true } },
        { ...logs, status: { readyToUse: false, error: { message: "rpc error: driver does not support snapshots" } } }
      ])
    ).toMatchObject({ _tag: "Failed", reason: "VolumeSnapshotFailed", message: "VolumeSnapshot team--nightly-logs of PVC logs failed: rpc error: driver does not support snapshots" })
    expect(observeSnapshots([])._tag).toBe("Absent")
  })

  it("a restore is a PVC with the snapshot as dataSource; Bound is Succeeded", () => {
    const claim = desiredRestoredClaim(op(), "team", { volumeSnapshotName: "team--nightly", persistentVolumeClaimName: "data-restored" }, "1Gi")
    expect(claim["spec"]).toEqual({
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "team--nightly" }
    })
    const pvcRef = { kind: "PersistentVolumeClaim", name: "team--nightly", namespace: "team" }
    const bound = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: {}, status: { phase: "Bound", capacity: { storage: "1Gi" } } } as const
    expect(observeRestoredClaim(pvcRef, bound, "snap")).toMatchObject({ _tag: "Succeeded", outputs: { pvcName: "team--nightly", capacity: "1Gi" } })
    expect(observeRestoredClaim(pvcRef, { ...bound, status: { phase: "Pending" } }, "snap")._tag).toBe("Running")
    expect(observeRestoredClaim(pvcRef, { ...bound, status: { phase: "Lost" } }, "snap")._tag).toBe("Failed")
  })
})

describe("volsync", () => {
  const ref = { kind: "ReplicationDestination", name: "team--nightly", namespace: "team" }
  const uid = "0b5c2a4e-1111-2222-3333-444455556666"

  it("a destination restores into an existing PVC with copyMethod Direct, once (manual trigger = the Operation UID)", () => {
    expect(desiredDestination(op(), "team", { repository: "restic-repo", destinationPVC: "data" })["spec"]).toEqual({
      trigger: { manual: uid },
      restic: { repository: "restic-repo", destinationPVC: "data", copyMethod: "Direct" }
    })
  })

  it("lastManualSync at the trigger is Succeeded; Synchronizing=False/Error is Failed; else Running", () => {
    expect(
      observeReplication(ref, uid, {
        lastManualSync: uid,
        lastSyncTime: "2026-12-02T01:00:00Z",
        lastSyncDuration: "42s",
        latestImage: { kind: "VolumeSnapshot", name: "volsync-team--nightly-dst-20261202010000" },
        conditions: [{ type: "Synchronizing", status: "False", reason: "WaitingForManual", message: "Waiting for manual trigger" }]
      })
    ).toMatchObject({
      _tag: "Succeeded",
      reason: "VolSyncLastSyncSucceeded",
      outputs: { lastSyncTime: "2026-12-02T01:00:00Z", latestImageName: "volsync-team--nightly-dst-20261202010000" }
    })
    expect(
      observeReplication(ref, uid, { conditions: [{ type: "Synchronizing", status: "False", reason: "Error", message: "secret restic-repo not found" }] })
    ).toMatchObject({ _tag: "Failed", reason: "VolSyncFailed", message: "ReplicationDestination team--nightly failed: secret restic-repo not found" })
    expect(
      observeReplication(ref, uid, { conditions: [{ type: "Synchronizing", status: "True", reason: "SyncInProgress", message: "Synchronization in-progress" }] })
    ).toMatchObject({ _tag: "Running", reason: "VolSyncSynchronizing" })
    expect(observeReplication(ref, uid, { lastManualSync: "an-earlier-run" })).toMatchObject({ _tag: "Running", reason: "VolSyncFirstSyncInProgress" })
  })
})
